#pragma once

#include "switchyard/events.hpp"
#include "switchyard/time.hpp"

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace switchyard::demo {

/// One breaker transition, as the demo saw it.
struct breaker_transition {
  timespan at{};
  std::string deployment;
  std::string from;
  std::string to;
  timespan open_for{};
};

/// What the engine reported over the whole run.
struct event_counts {
  /// attempt_started events: requests sent upstream.
  uint64_t attempts = 0;
  /// Failed attempts per error class.
  std::map<std::string, uint64_t> attempt_failures;
  uint64_t retries = 0;
  /// Retries whose wait came from the server (Retry-After).
  uint64_t retries_from_server = 0;
  /// Fallbacks after a failed request.
  uint64_t fallbacks = 0;
  /// Fallbacks after a target refused the call before sending it (its
  /// breaker, its rate limit, its in-flight cap).
  uint64_t fallbacks_unsent = 0;
  /// Fallbacks after a failed request, per "from -> to" pair.
  std::map<std::string, uint64_t> fallback_pairs;
  uint64_t hedges = 0;
  uint64_t restarts = 0;
  std::vector<breaker_transition> breaker_transitions;
};

/// The demo's event sink: renders the interesting engine events (retries,
/// fallbacks after failed requests, breaker transitions, restarts) as
/// plain-text lines stamped with the time since the run started, and counts
/// everything. Engine threads only append to a buffer; the demo's main thread
/// prints it.
class live_log final : public event_sink {
public:
  /// Stamps lines relative to `start`.
  explicit live_log(time_point start);

  void on_event(const engine_event& ev) override;

  /// Restarts the run's clock (when the traffic begins).
  void reset_clock(time_point start);

  /// Adds a line of the demo's own (a progress tick, a failed call).
  void note(std::string line);

  /// Moves out the lines rendered since the last call.
  std::vector<std::string> take_lines();

  /// Returns the counters so far.
  event_counts counts() const;

  /// Formats `now - start` as a fixed-width time stamp ("  3.05s").
  std::string stamp(time_point now) const;

private:
  /// The last failed attempt of a call, for explaining its next fallback.
  struct last_failure {
    std::string deployment;
    int status = 0;
    std::string cls;
  };

  void render(const engine_event& ev, time_point now);

  time_point start_;
  mutable std::mutex mtx_;
  std::vector<std::string> lines_;
  event_counts counts_;
  std::unordered_map<uint64_t, last_failure> last_failure_;
};

} // namespace switchyard::demo
