#pragma once

#include "live_log.hpp"
#include "switchyard/engine.hpp"

#include <atomic>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace switchyard::demo {

/// How the demo sends its requests.
struct traffic_options {
  size_t requests = 300;
  /// Calls in flight at most.
  size_t concurrency = 8;
  /// Starts are spread evenly over this span (unless `concurrency` holds
  /// them back).
  timespan spread = std::chrono::seconds{15};
  /// Print a progress line every second and the engine's events.
  bool live = true;
  /// Deployments in the order the progress lines list them.
  std::vector<std::string> deployments;
};

/// The outcome of one call, from the caller's side.
struct call_outcome {
  bool answered = false;
  /// Who answered (empty when the call failed).
  std::string deployment;
  timespan latency{};
  /// Requests sent upstream for this call.
  size_t attempts = 0;
  /// Targets passed over without a request: (deployment, why), e.g.
  /// ("primary-gpt", "breaker open").
  std::vector<std::pair<std::string, std::string>> passed_over;
  /// Why the call failed (empty when answered).
  std::string error;
};

/// Everything the traffic run saw.
struct traffic_result {
  std::vector<call_outcome> calls;
  timespan elapsed{};
  /// True when Ctrl-C (or SIGTERM) stopped the run early.
  bool interrupted = false;
};

/// Sends `opts.requests` chat requests through `eng`, paced and bounded, and
/// prints the log's lines as they come. Stops sending once `stop` is set.
/// Returns after every started call finished (or after its deadline).
traffic_result run_traffic(engine& eng, const traffic_options& opts,
                           live_log& log, const std::atomic<bool>& stop);

} // namespace switchyard::demo
