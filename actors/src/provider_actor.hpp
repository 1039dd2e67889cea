#pragma once

#include "engine_core.hpp"
#include "probe_ticket.hpp"
#include "switchyard/actors.hpp"
#include "switchyard/policy/backoff.hpp"
#include "timer_gate.hpp"

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>

namespace switchyard {

class provider_sink;

/// State of a PROVIDER actor. Policies live in the deployment runtime so that
/// they survive a restart; this holds only the calls in flight.
struct provider_state {
  static inline const char* name = "provider";

  /// A streamed attempt's first-token (or total) limit, due at its key.
  struct stream_limit {
    uint64_t key = 0;
    bool first_token = true;
  };

  using limit_index = std::multimap<time_point, stream_limit>;

  /// A call admitted to this deployment.
  struct pending_call {
    deployment_call call;
    /// Every attempt so far, and the last failure (what the router hears
    /// when the call gives up).
    std::vector<attempt_record> attempts;
    failure last;
    /// What `decide_retry` said after the last failure.
    retry_verdict verdict;
    /// The call never reached the provider (its request cannot be built).
    bool rejected = false;
    /// Streamed calls: the last attempt produced content before it failed.
    bool streamed = false;
    std::unique_ptr<switchyard::backoff> backoff;
    uint32_t retries = 0;
    /// Attempt key of the transfer in flight (0 while waiting to retry).
    uint64_t key = 0;
    uint64_t job = 0;
    /// Plain calls: where the transfer in flight leaves its result.
    std::shared_ptr<provider_sink> sink;
    /// Generation of the retry timer; a stale timer carries an old one.
    uint64_t generation = 0;
    time_point attempt_start{};
    /// Held while this call is one of the breaker's half-open probes.
    probe_ticket probe;
    /// Streamed calls: the attempt in flight produced its first content.
    bool content = false;
    time_point first_token_at{};
    /// Streamed calls: why the engine cut the attempt in flight (first
    /// token or total limit); its verdict then reports this failure.
    std::unique_ptr<failure> cut;
    /// Streamed calls: the attempt's entries in `limits`.
    std::optional<limit_index::iterator> first_token_limit;
    std::optional<limit_index::iterator> total_limit;
  };

  /// A call waiting for an in-flight slot.
  struct queued_call {
    deployment_call call;
    probe_ticket probe;
  };

  std::shared_ptr<engine_core> core;
  std::shared_ptr<deployment_runtime> rt;
  std::unordered_map<uint64_t, pending_call> calls;
  /// Attempt key -> call id.
  std::unordered_map<uint64_t, uint64_t> keys;
  std::deque<queued_call> queue;
  /// Due times of the streamed attempts' limits, served by one timer.
  limit_index limits;
  timer_gate limit_timers;
  /// The active half-open probe in flight (key 0: none).
  uint64_t probe_key = 0;
  uint64_t probe_job = 0;
  time_point probe_start{};
  probe_ticket probe_slot;
  std::shared_ptr<provider_sink> probe_sink;
  /// An exception escaped a handler: the calls whose transfers run go to
  /// the successor instead of failing over.
  bool crashed = false;

  /// Answers every call still here (the actor is stopping or crashed), so
  /// that callers fail over at once, and frees their transfers; after a
  /// crash, calls whose plain transfers run are handed to the successor
  /// instead (see `provider_handover`). (Calls whose messages die unread in
  /// the mailbox are failed over by the routers, which monitor this actor.)
  ~provider_state();
};

/// What a crashed provider actor leaves to its successor: its calls whose
/// plain transfers were still running (keys kept; their sinks hold or will
/// hold the results).
struct provider_handover {
  std::vector<provider_state::pending_call> calls;
};

/// Spawns the provider behaviour for deployment `index` of `core`.
provider_actor::behavior_type
provider(provider_actor::stateful_pointer<provider_state> self,
         std::shared_ptr<engine_core> core, size_t index);

} // namespace switchyard
