#pragma once

#include "switchyard/error.hpp"
#include "switchyard/policy/settings.hpp"
#include "switchyard/policy/time_window.hpp"
#include "switchyard/time.hpp"

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace switchyard {

/// The states of a circuit breaker. `forced_open` and `forced_closed` are
/// operator overrides that hold until `reset()`.
enum class breaker_state : uint8_t {
  closed,
  open,
  half_open,
  forced_open,
  forced_closed,
};

/// Returns the snake_case name of a state, for logs and metrics.
std::string_view to_string(breaker_state x) noexcept;

/// One state change, reported so that actors can log, publish metrics and
/// schedule the open -> half-open wake-up.
struct breaker_transition {
  breaker_state from;
  breaker_state to;
  time_point at;
};

/// A per-deployment circuit breaker (resilience4j / Envoy outlier model).
/// Opens on consecutive failures or on the failure / slow-call rate of a
/// count- or time-based sliding window; half-open admits a bounded number of
/// probes. Pure: takes `now` on every call, allocates only when constructed.
/// Results of error classes outside `failure_classes` are neutral: they are
/// not recorded anywhere (they neither fail nor succeed), but they do free a
/// half-open probe slot. Not thread-safe.
class circuit_breaker {
public:
  /// Creates a closed breaker.
  explicit circuit_breaker(breaker_settings settings);

  /// Asks to send one call at `now`. Open: false until the open duration has
  /// passed, then moves to half-open. Half-open: true while fewer than
  /// `half_open_probes` probes are in flight (the caller then owns a probe
  /// and must report it via on_success, on_failure or release_probe).
  bool allow(time_point now);

  /// Reports a successful call; `latency` decides whether it was slow.
  void on_success(time_point now, timespan latency);

  /// Reports a failed call; `retry_after` (the server's hint) is the
  /// shortest open duration should this failure open the breaker.
  void on_failure(time_point now, error_class cls,
                  std::optional<timespan> retry_after = std::nullopt);

  /// Gives back a half-open probe that was admitted but never produced a
  /// verdict (cancelled, dropped), so that half-open cannot wedge.
  void release_probe() noexcept;

  /// Operator override: reject every call until `reset`.
  void force_open(time_point now);

  /// Operator override: admit every call and record nothing until `reset`.
  void force_closed(time_point now);

  /// Returns to closed with empty windows and the open duration at its base.
  void reset(time_point now);

  /// Adopts a state kept elsewhere (a snapshot, another replica): `open`
  /// until `open_until` after `reopens` reopenings, or `closed` with empty
  /// windows. Operator overrides (forced states) are kept. Records a
  /// transition when the state changes.
  void adopt(time_point now, breaker_state to, time_point open_until,
             uint32_t reopens) noexcept;

  /// Returns how often the breaker reopened since it last closed.
  uint32_t reopens() const noexcept {
    return reopens_;
  }

  /// Returns the current state (open is not moved to half-open by time
  /// alone; only `allow` does that).
  breaker_state state() const noexcept {
    return state_;
  }

  /// Returns when the breaker will next admit a call: `now` when it would
  /// now, the end of the open period when open, and time_point::max() when
  /// no time is known (forced open, or half-open with every probe taken).
  time_point retry_at(time_point now) const noexcept;

  /// Returns and clears the last transition. Each call of this class causes
  /// at most one, so checking after every call sees them all.
  std::optional<breaker_transition> take_transition() noexcept {
    auto result = last_transition_;
    last_transition_.reset();
    return result;
  }

  /// Returns how many transitions happened since construction.
  uint64_t transition_count() const noexcept {
    return transition_count_;
  }

  /// Returns the current open duration without the server's hint:
  /// open_duration * open_factor^reopens, capped (reopens reset on closing).
  timespan next_open_duration() const noexcept;

  /// Returns the number of half-open probes in flight.
  uint32_t probes_in_flight() const noexcept {
    return probes_in_flight_;
  }

  /// Returns the consecutive failures seen while closed.
  uint32_t consecutive_failures() const noexcept {
    return consecutive_failures_;
  }

  /// Returns the settings this breaker runs on.
  const breaker_settings& settings() const noexcept {
    return settings_;
  }

private:
  // Outcome flags of one call in the count window.
  static constexpr uint8_t flag_recorded = 1;
  static constexpr uint8_t flag_failure = 2;
  static constexpr uint8_t flag_slow = 4;

  // Fields of the time window.
  static constexpr size_t field_calls = 0;
  static constexpr size_t field_failures = 1;
  static constexpr size_t field_slow = 2;

  void record(time_point now, bool failure, bool slow);
  bool rates_exceeded(time_point now) const noexcept;
  void clear_windows() noexcept;
  void transition(time_point now, breaker_state to) noexcept;
  void open(time_point now, std::optional<timespan> retry_after) noexcept;

  breaker_settings settings_;
  breaker_state state_ = breaker_state::closed;
  time_point open_until_{};
  uint32_t reopens_ = 0;
  uint32_t consecutive_failures_ = 0;
  uint32_t probes_in_flight_ = 0;
  uint32_t probe_successes_ = 0;
  // Count window: ring of outcome flags plus running totals.
  std::vector<uint8_t> ring_;
  size_t ring_pos_ = 0;
  uint32_t ring_calls_ = 0;
  uint32_t ring_failures_ = 0;
  uint32_t ring_slow_ = 0;
  // Time window.
  time_window<3> time_window_;
  std::optional<breaker_transition> last_transition_;
  uint64_t transition_count_ = 0;
};

} // namespace switchyard
