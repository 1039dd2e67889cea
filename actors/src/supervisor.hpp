#pragma once

#include "engine_core.hpp"
#include "switchyard/actors.hpp"

#include <deque>
#include <memory>
#include <vector>

namespace switchyard {

/// State of the SUPERVISOR actor.
struct supervisor_state {
  static inline const char* name = "supervisor";

  std::shared_ptr<engine_core> core;
  std::vector<provider_actor> children;
  /// Recent restart times per deployment, for the intensity limit.
  std::vector<std::deque<time_point>> restarts;
  bool stopping = false;
};

/// At most this many restarts of one deployment within `restart_window`;
/// one more marks the deployment down.
inline constexpr size_t max_restarts = 5;
inline constexpr timespan restart_window = std::chrono::seconds{10};

/// Spawns every provider actor of `core`, monitors them, and restarts any
/// that fails with its deployment runtime (breaker, limiter) kept.
supervisor_actor::behavior_type
supervisor(supervisor_actor::stateful_pointer<supervisor_state> self,
           std::shared_ptr<engine_core> core);

} // namespace switchyard
