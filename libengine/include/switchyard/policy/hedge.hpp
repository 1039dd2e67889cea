#pragma once

#include "switchyard/policy/settings.hpp"
#include "switchyard/time.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace switchyard {

/// Decides when to start a hedge (a parallel attempt on the next target):
/// after a fixed delay, or after a percentile of recently observed latencies
/// (nearest rank over the last `sample_capacity` latencies) once
/// `min_samples` were seen. Pure and allocation-free.
class hedge_policy {
public:
  /// How many recent latencies the percentile looks at.
  static constexpr size_t sample_capacity = 256;

  /// Creates a policy with no samples.
  explicit hedge_policy(hedge_settings settings) noexcept;

  /// Returns how long after an attempt started to start a hedge, or nullopt
  /// when hedging is off.
  std::optional<timespan> hedge_delay() const noexcept;

  /// Returns true when a call with `in_flight` attempts may start another.
  bool may_hedge(uint32_t in_flight) const noexcept {
    return settings_.enabled && in_flight < settings_.max_attempts;
  }

  /// Records the latency of a successful attempt.
  void record_latency(timespan latency) noexcept;

  /// Returns how many latencies were recorded in total.
  uint64_t samples() const noexcept {
    return recorded_;
  }

  /// Returns the settings this policy runs on.
  const hedge_settings& settings() const noexcept {
    return settings_;
  }

private:
  hedge_settings settings_;
  std::array<timespan, sample_capacity> ring_{};
  uint64_t recorded_ = 0;
};

} // namespace switchyard
