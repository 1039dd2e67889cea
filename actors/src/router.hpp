#pragma once

#include "engine_core.hpp"
#include "stream_channel.hpp"
#include "switchyard/actors.hpp"
#include "switchyard/engine.hpp"
#include "timer_gate.hpp"

#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include <boost/intrusive/set.hpp>
#include <caf/actor_addr.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace switchyard {

/// One call a router runs: the fallback chain's progress, the attempt trail
/// and, for streams, the channel to the caller.
struct routed_call : boost::intrusive::set_base_hook<> {
  /// A dispatch to a deployment that has not answered yet.
  struct running_attempt {
    size_t deployment = 0;
    uint32_t dispatch = 0;
    bool hedge = false;
    /// The provider actor it went to (to notice a restart).
    caf::actor_addr actor;
  };

  uint64_t id = 0;
  const route_plan* plan = nullptr;
  std::shared_ptr<const chat_request> request;
  call_callback done;
  /// The caller's metadata, for every event of the call (null: none).
  call_metadata metadata;
  /// When the caller called (the deadline counts from here).
  time_point start{};
  /// While `expiring`: when the call ends even if a dispatch has not
  /// answered its cancel yet.
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
  /// Dispatches so far (the last one's number).
  uint32_t dispatches = 0;
  /// Out of line: only a call that failed somewhere has one.
  std::unique_ptr<failure> last_failure;
  /// The deployment of the last failure (none: the next dispatch is no
  /// fallback).
  std::optional<size_t> last_deployment;
  time_point soonest{time_point::max()};
  uint64_t hedge_generation = 0;
  /// Pinned to one deployment: no fallback, no hedging.
  bool pinned = false;
  /// The deadline passed and the running dispatches were told to stop: the
  /// call ends once each has answered with its attempts.
  bool expiring = false;
  bool finished = false;

  // -- streamed calls only

  /// Where the events go; null for a plain call.
  std::shared_ptr<stream_channel> channel;
  /// Tag of the latest dispatch: events with an older tag are stale.
  uint64_t stream_tag = 0;
  /// The deployment of the latest dispatch.
  size_t stream_dep = 0;

  /// Orders calls by deadline in the router's deadline index.
  friend bool operator<(const routed_call& x, const routed_call& y) noexcept {
    return x.deadline < y.deadline;
  }
};

/// State of a ROUTER actor: the calls of one shard. Deadlines share one
/// timer: an index ordered by deadline, and a timer pending for its earliest
/// entry (CAF 0.17 timers cannot be cancelled, so a finished call leaves the
/// timer as it is; when it fires, it re-arms for the calls left).
struct router_state {
  static inline const char* name = "router";

  std::shared_ptr<engine_core> core;
  std::unordered_map<uint64_t, routed_call> calls;
  boost::intrusive::multiset<routed_call> deadlines;
  timer_gate timers;
  /// Per deployment: the provider actor this router monitors, so that a
  /// crash fails over the calls whose messages died with it.
  std::vector<caf::actor_addr> watched;

  router_state() = default;
  router_state(const router_state&) = delete;
  router_state& operator=(const router_state&) = delete;

  /// Unlinks every call from the deadline index before the calls go.
  ~router_state();
};

/// How long after its deadline a call waits for its dispatches to answer a
/// cancel with their attempts; past it the call ends with what it has (a
/// provider that cannot answer in time must not hold the caller).
inline constexpr timespan expiry_grace = std::chrono::milliseconds{100};

/// Returns the deployment a call on `plan` would be sent to at `now`: the
/// first available target in the route's order (by its strategy, with a
/// fixed seed and no session key), or nullopt when none is available.
std::optional<size_t> current_target(const engine_core& core,
                                     const route_plan& plan, time_point now);

/// Sends `cs` to `dest` as the router whose callback runs on this thread,
/// if one does and belongs to the same engine: a caller that starts its next
/// call from a callback then keeps it on this worker instead of waking
/// another one. Returns false (and leaves `cs` alone) otherwise.
bool send_from_callback(const router_actor& dest, call_start& cs);

/// The ROUTER behaviour: runs the calls sent to this shard over the
/// deployments of `core`.
router_actor::behavior_type
router(router_actor::stateful_pointer<router_state> self,
       std::shared_ptr<engine_core> core);

} // namespace switchyard
