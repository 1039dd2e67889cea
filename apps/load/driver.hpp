#pragma once

#include "recorder.hpp"
#include "target.hpp"

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace switchyard::load {

/// How requests are sent.
struct load_plan {
  /// Open loop: requests per second (> 0), scheduled in advance.
  double rate = 0;
  /// Open loop: exponential gaps (Poisson arrivals) instead of even ones.
  bool poisson = false;
  /// Closed loop (when `rate` is 0): requests in flight, each sent as soon
  /// as the previous one of its slot ended.
  size_t concurrency = 0;
  timespan warmup{};
  timespan duration = std::chrono::seconds{10};
  /// How long to wait for running requests after the last send; the rest
  /// count as `unfinished` errors, with their latency so far.
  timespan drain = std::chrono::seconds{30};
  uint64_t seed = 1;
  std::vector<std::string> prompts;
  /// Print a progress line per second (rewritten in place on a terminal).
  bool live = false;
  bool tty = false;
  /// Deployments in the order progress lines list them (others follow).
  std::vector<std::string> deployments;
};

/// The driver's view of its own run.
struct run_summary {
  /// Requests sent (warmup included).
  uint64_t sent = 0;
  /// Requests that had not ended when the drain time was over.
  uint64_t unfinished = 0;
  /// Wall time from the first scheduled send to the end of the drain.
  timespan elapsed{};
  bool interrupted = false;
  /// Requests that waited for one of the driver's own connections
  /// (`target::waited_for_connection`, filled in after the run).
  uint64_t waited_for_connection = 0;
};

/// Returns the send offsets (from the start) of an open-loop run: `rate`
/// per second over `span`, evenly spaced or Poisson with `seed`.
std::vector<timespan> make_schedule(double rate, timespan span, bool poisson,
                                    uint64_t seed);

/// Runs the plan against `tgt`, recording into `rec` (whose start is the
/// time of the first scheduled send). Stops sending once `stop` is set.
run_summary run_load(target& tgt, recorder& rec, const load_plan& plan,
                     const std::atomic<bool>& stop);

/// Formats one progress line from a tick's counters.
std::string progress_line(timespan elapsed, const tick_stats& tick,
                          timespan tick_len, uint64_t in_flight,
                          uint64_t errors_total,
                          const std::vector<std::string>& deployments);

} // namespace switchyard::load
