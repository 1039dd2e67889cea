#pragma once

#include "switchyard/error.hpp"
#include "switchyard/time.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace switchyard {

/// A set of error classes (e.g. "which classes count against the breaker").
class error_class_set {
public:
  constexpr error_class_set() = default;

  constexpr error_class_set(std::initializer_list<error_class> xs) {
    for (auto x : xs)
      insert(x);
  }

  constexpr void insert(error_class x) noexcept {
    bits_ |= bit(x);
  }

  constexpr void erase(error_class x) noexcept {
    bits_ &= ~bit(x);
  }

  constexpr bool contains(error_class x) const noexcept {
    return (bits_ & bit(x)) != 0;
  }

  constexpr bool empty() const noexcept {
    return bits_ == 0;
  }

  friend constexpr bool operator==(error_class_set, error_class_set) = default;

private:
  static constexpr uint32_t bit(error_class x) noexcept {
    return uint32_t{1} << static_cast<unsigned>(x);
  }

  uint32_t bits_ = 0;
};

/// The classes that count as failures for a breaker by default. bad_request,
/// context_length, content_filter and cancelled say nothing about the
/// deployment's health and never count.
inline constexpr error_class_set default_breaker_failures{
    error_class::rate_limited, error_class::quota_exhausted,
    error_class::overloaded,   error_class::server_error,
    error_class::timeout,      error_class::connection,
    error_class::auth,         error_class::malformed,
};

/// Circuit breaker settings of one deployment.
struct breaker_settings {
  /// Open after this many consecutive failures (0 disables the rule).
  uint32_t consecutive_failures = 5;
  /// Open when the failure rate in the window reaches this (0..1; 0 = off).
  double failure_rate = 0.5;
  /// Open when the slow-call rate in the window reaches this (0..1; 0 = off).
  double slow_call_rate = 0.0;
  /// A success slower than this counts as slow.
  timespan slow_call_duration = std::chrono::seconds{30};
  /// Window kind: the last `window_size` calls, or the last `window_duration`.
  enum class window_kind : uint8_t { count, time } window = window_kind::count;
  uint32_t window_size = 20;
  timespan window_duration = std::chrono::seconds{30};
  /// Rates are judged only once the window holds at least this many calls.
  uint32_t minimum_calls = 10;
  /// First open duration; grows by `open_factor` on each reopen up to
  /// `max_open_duration`; never shorter than the server's wait hint.
  timespan open_duration = std::chrono::seconds{5};
  double open_factor = 2.0;
  timespan max_open_duration = std::chrono::seconds{120};
  /// Half-open: at most this many probes in flight; close after
  /// `half_open_successes` successes, reopen on any failure.
  uint32_t half_open_probes = 1;
  uint32_t half_open_successes = 1;
  /// When the open duration ends, the deployment probes itself with a
  /// one-token request instead of risking a caller's call on it; callers are
  /// kept away until the probes succeed.
  bool active_probe = false;
  /// Timeout of an active probe.
  timespan probe_timeout = std::chrono::seconds{5};
  /// Error classes that count as failures.
  error_class_set failure_classes = default_breaker_failures;
};

/// Jitter flavours for exponential backoff.
enum class jitter_kind : uint8_t { none, full, decorrelated };

/// Exponential backoff settings.
struct backoff_settings {
  timespan base = std::chrono::milliseconds{100};
  timespan cap = std::chrono::seconds{10};
  double factor = 2.0;
  jitter_kind jitter = jitter_kind::full;
  /// Honour the server's wait hint when it fits the deadline.
  bool honour_retry_after = true;
  /// A server hint longer than this is treated as "does not fit".
  timespan max_retry_after = std::chrono::seconds{60};
};

/// Retry budget (Finagle / Envoy): retries may add at most `ratio` of the
/// recent request volume, plus `min_retries_per_second`.
struct retry_budget_settings {
  double ratio = 0.2;
  double min_retries_per_second = 10.0;
  timespan window = std::chrono::seconds{10};
};

/// Token-bucket limits of one deployment; 0 means unlimited.
struct rate_limit_settings {
  double requests_per_minute = 0;
  double tokens_per_minute = 0;
  /// Follow the provider's `x-ratelimit-remaining-*` headers.
  bool follow_headers = true;
};

/// When to start a hedge (a parallel attempt on the next target).
struct hedge_settings {
  bool enabled = false;
  /// Fixed delay after which the hedge starts...
  timespan delay = std::chrono::milliseconds{500};
  /// ...or, when set, this percentile (0..1) of observed latency, once at
  /// least `min_samples` latencies were seen.
  std::optional<double> percentile;
  uint32_t min_samples = 20;
  /// At most this many attempts in flight for one call.
  uint32_t max_attempts = 2;
};

/// How a route chooses among its targets.
enum class balance_strategy : uint8_t {
  priority,
  weighted_random,
  sticky,
  least_in_flight,
  lowest_latency,
  cheapest,
};

/// What to do when a stream fails after tokens reached the caller.
enum class stream_failover : uint8_t { error, restart, continue_ };

/// Timeouts and buffering of streamed calls (a route's `stream` section).
struct stream_settings {
  /// Time to first token of attempt i is first_token[i] (the last entry for
  /// later attempts), clipped to what is left of the deadline. Empty means
  /// the route's ladder.
  std::vector<timespan> first_token;
  /// Longest silence between two received pieces of a stream.
  timespan idle = std::chrono::seconds{30};
  /// Longest one attempt may stream in total; unset means no limit other
  /// than the call's deadline.
  std::optional<timespan> max_duration;
  /// Events a pull reader may hold unread; one more cancels the call with a
  /// `slow_consumer` error.
  uint32_t buffer_events = 4096;
};

/// Per-class retry decisions of a route.
struct retry_settings {
  /// Retries of the same deployment per class before falling back.
  std::array<uint32_t, error_class_count> max_retries{};
  /// Fall back to the next target after this class (else return it).
  error_class_set fall_back_on;
};

/// The defaults of DESIGN.md's request-semantics table.
retry_settings default_retry_settings();

} // namespace switchyard
