#pragma once

#include "switchyard/policy/settings.hpp"
#include "switchyard/random.hpp"
#include "switchyard/time.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace switchyard {

/// An exponentially weighted moving average of latency, for the
/// lowest_latency strategy: value = alpha * sample + (1 - alpha) * value.
class ewma {
public:
  /// Creates an empty average; `alpha` in (0, 1] weighs the newest sample.
  explicit ewma(double alpha = 0.3) noexcept : alpha_(alpha) {
    // nop
  }

  /// Adds a sample; the first sample becomes the value.
  void add(timespan sample) noexcept {
    auto x = static_cast<double>(sample.count());
    value_ = empty_ ? x : alpha_ * x + (1 - alpha_) * value_;
    empty_ = false;
  }

  /// Returns the average, or zero before the first sample.
  timespan value() const noexcept {
    return timespan{static_cast<timespan::rep>(value_)};
  }

  /// Returns true before the first sample.
  bool empty() const noexcept {
    return empty_;
  }

private:
  double alpha_;
  double value_ = 0;
  bool empty_ = true;
};

/// What the load balancer knows about one target of a route.
struct candidate {
  /// The caller's index of the target (returned in the ordering).
  uint32_t index = 0;
  /// Stable identity for sticky hashing, e.g. a hash of the deployment name;
  /// must not depend on the position in the list.
  uint64_t id = 0;
  /// Relative share for weighted_random and sticky; <= 0 is chosen last.
  double weight = 1.0;
  /// Lower numbers first (priority strategy, and tie-breaks).
  int32_t priority = 0;
  /// Calls currently in flight (least_in_flight).
  uint32_t in_flight = 0;
  /// Smoothed latency (lowest_latency); zero means unknown and sorts first,
  /// so that new targets get measured.
  timespan latency{};
  /// Price per token (cheapest).
  double cost_per_token = 0;
  /// False when the breaker or the limiter would refuse it now.
  bool healthy = true;
};

/// Orders `cs` in place, best first, by `strategy`. Healthy candidates come
/// first and unhealthy ones after them (a last resort, ordered by the same
/// strategy). Sorts are stable (ties keep input order) after tie-breaking by
/// priority. weighted_random draws without replacement using `rng`; sticky
/// uses weighted rendezvous hashing of (`session_key`, id), so removing a
/// candidate moves only its own sessions. Allocation-free; O(n^2) for the
/// small n of a route.
void order_candidates(balance_strategy strategy, std::span<candidate> cs,
                      random_generator& rng, uint64_t session_key = 0) noexcept;

/// Orders `cs` and returns the index of the first, or nullopt when empty.
std::optional<uint32_t> choose_candidate(balance_strategy strategy,
                                         std::span<candidate> cs,
                                         random_generator& rng,
                                         uint64_t session_key = 0) noexcept;

/// Hashes a session key or deployment name (FNV-1a, 64 bit) for sticky.
uint64_t stable_hash(std::string_view key) noexcept;

} // namespace switchyard
