#pragma once

#include "live_log.hpp"
#include "switchyard/engine.hpp"
#include "traffic.hpp"

#include <string>
#include <utility>
#include <vector>

namespace switchyard::demo {

/// What the summary is made of.
struct run_report {
  const traffic_result* traffic = nullptr;
  event_counts events;
  /// The engine's view of each deployment at the end.
  std::vector<deployment_status> status;
  /// Each mock's name and its `GET /mock/stats` body (empty if unreadable).
  std::vector<std::pair<std::string, std::string>> mock_stats;
  /// Deployments in route order.
  std::vector<std::string> deployments;
};

/// Prints the summary: answered N/N, attempts, retries, fallbacks, answers
/// per deployment, latency percentiles, breaker transitions, mock counters.
void print_report(const run_report& r);

/// Returns true when every call was answered.
bool all_answered(const traffic_result& t);

} // namespace switchyard::demo
