#pragma once

#include "runtime.hpp"
#include "stream_channel.hpp"
#include "switchyard/engine.hpp"
#include "switchyard/stream.hpp"

#include <memory>
#include <optional>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/stateful_actor.hpp>

namespace switchyard {

/// State of a CALL actor: the router's work for one call. One small actor
/// per call keeps the router from becoming a single-mailbox bottleneck.
struct call_state {
  static inline const char* name = "call";

  /// An attempt on a deployment that has not answered yet.
  struct running_attempt {
    size_t deployment = 0;
    bool hedge = false;
    /// The provider actor it went to (to notice a restart).
    caf::actor_addr actor;
  };

  std::shared_ptr<engine_core> core;
  const route_plan* plan = nullptr;
  uint64_t id = 0;
  std::shared_ptr<const chat_request> request;
  call_options options;
  call_callback done;
  time_point start{};
  time_point deadline{};
  /// Deployments to try, in order; `next` is the first untried one.
  std::vector<size_t> order;
  size_t next = 0;
  std::vector<running_attempt> running;
  std::vector<attempt_record> trail;
  /// Deployments sent again once after their actor restarted.
  std::vector<size_t> resent;
  /// Re-sends waiting for a restarted provider actor to be registered.
  uint32_t pending_resends = 0;
  std::optional<failure> last_failure;
  /// The deployment of the last failure and why the call moved on.
  std::string last_deployment;
  std::string fallback_reason;
  time_point soonest{time_point::max()};
  uint64_t hedge_generation = 0;
  bool dispatched_any = false;
  bool finished = false;

  // -- streamed calls only

  /// Where the events go; null for a plain call.
  std::shared_ptr<stream_channel> channel;
  /// Tag of the latest dispatch: events with an older tag are stale.
  uint64_t stream_tag = 0;
  /// The deployment of the latest dispatch.
  size_t stream_dep = 0;
};

/// The CALL actor's behaviour: resolves the route, orders its targets, runs
/// the fallback chain (and hedges) inside the deadline, then reports once
/// through `done` and quits.
caf::behavior call_actor(caf::stateful_actor<call_state>* self,
                         std::shared_ptr<engine_core> core, uint64_t id,
                         std::shared_ptr<const chat_request> request,
                         call_options options, call_callback done,
                         std::shared_ptr<stream_sink> sink);

} // namespace switchyard
