#pragma once

// The named steps of the PROVIDER actor, shared by its source files:
// provider_actor.cpp (admission, answers, the behavior), provider_attempt.cpp
// (one attempt: start, limits, outcome, retry) and provider_probe.cpp (the
// active half-open probe). Internal to the actor.

#include "provider_actor.hpp"

#include <optional>

namespace switchyard::provider_steps {

using self_ptr = provider_actor::stateful_pointer<provider_state>;
using pending_call = provider_state::pending_call;

// -- admission and answers (provider_actor.cpp) -------------------------------

/// Sends the outcome of `call` to its router; anonymously when `self` is
/// null (the actor is stopping).
void reply(self_ptr self, const deployment_call& call, deployment_result r);

/// A result for a call that never reached the provider.
deployment_result rejection(failure f, time_point retry_at);

/// Delivers the outcome of a call, frees its slot and admits queued calls.
void finish(self_ptr self, uint64_t call_id,
            std::optional<chat_response> answer = std::nullopt);

/// Ends `pc` with failure `f` (the router decides what comes next).
void give_up(self_ptr self, pending_call& pc, failure f);

/// Publishes the breaker's state and reports its last transition; with
/// active probing, an opening arms the probe. With `share`, an opening or
/// closing also goes to the other replicas (not when adopting theirs).
void emit_transition(self_ptr self, time_point now, bool share = true);

// -- one attempt (provider_attempt.cpp) ---------------------------------------

/// Starts the next attempt of `pc` (or gives up when the deadline passed).
void start_attempt(self_ptr self, pending_call& pc);

/// A plain transfer ended.
void on_transfer(self_ptr self, uint64_t key, transfer_result& tr);

/// A plain transfer ended; its result waits in the attempt's sink.
void on_transfer_ready(self_ptr self, uint64_t key);

/// A streamed transfer ended.
void on_stream_verdict(self_ptr self, uint64_t key, stream_verdict& v);

/// A streamed attempt produced its first content.
void on_token(self_ptr self, uint64_t key);

/// The stream-limit timer for `at` fired.
void on_limit_timer(self_ptr self, time_point at);

/// The backoff wait of call `call_id` (timer generation) is over.
void on_retry_timer(self_ptr self, uint64_t call_id, uint64_t generation);

/// Removes an attempt's stream limits from the index (it ended).
void drop_limits(self_ptr self, pending_call& pc);

/// Removes an attempt's stream limits from the index (it ended).
void drop_limits(self_ptr self, pending_call& pc);

/// A rough token estimate for the rate limiter: the prompt plus the
/// completion budget.
uint32_t estimate_tokens(const chat_request& req);

// -- the active probe (provider_probe.cpp)
// -------------------------------------

/// True while an active probe, not a caller, decides when the breaker
/// closes.
bool probing(const deployment_runtime& rt);

/// Arms the active probe for the end of the current open period.
void schedule_probe(self_ptr self, time_point now);

/// The probe timer (generation) fired: sends the probe if still due.
void on_probe_timer(self_ptr self, uint64_t generation);

/// The active probe's transfer ended: the breaker hears its verdict.
void on_probe(self_ptr self, transfer_result& tr);

// -- state shared with other replicas (provider_shared.cpp) -------------------

/// Adopts what other replicas published (breaker, marked down) since the
/// last look; one atomic load when nothing changed or there is no Redis.
void apply_shared(self_ptr self, time_point now);

/// False while another replica may hold the half-open probe: the breaker's
/// open period is over and this replica holds no probe lease (it asks for
/// one). True without Redis or while Redis is unavailable.
bool may_probe(self_ptr self, time_point now);

/// Takes one request and `tokens` from this replica's share of the shared
/// rate limits; true without Redis or while it is unavailable.
bool take_shared_quota(self_ptr self, uint32_t tokens);

/// Tells the other replicas that this deployment is marked down.
void share_down(self_ptr self);

} // namespace switchyard::provider_steps
