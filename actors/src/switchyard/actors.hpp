#pragma once

// Every actor interface of Switchyard and its messages, so the whole protocol
// reads on one screen. The messages are local only (never serialized), so
// they are allowed as unsafe message types at the end instead of registered
// in a type-ID block.

#include "switchyard/config.hpp"
#include "switchyard/engine.hpp"
#include "switchyard/error.hpp"
#include "switchyard/model.hpp"
#include "switchyard/policy/retry.hpp"
#include "switchyard/stream.hpp"
#include "switchyard/transport.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/fwd.hpp>
#include <caf/type_id.hpp>
#include <caf/typed_actor.hpp>

namespace switchyard {

class stream_channel;

// -- messages
// ------------------------------------------------------------------

/// How a deployment call ended.
struct deployment_result {
  /// The answer, when the deployment gave one.
  std::optional<chat_response> response;
  /// The last failure, when it did not.
  switchyard::failure failure;
  /// The decision after that failure (`fall_back` or `give_up`, with why and
  /// to which targets), made by the deployment with `decide_retry`; the
  /// router follows it. Meaningless for an answer or a rejection.
  retry_verdict verdict;
  /// Every attempt made on the deployment for this call.
  std::vector<attempt_record> attempts;
  /// True when the call never reached the provider (breaker open, limits,
  /// queue full, marked down); `retry_at` then says when it may.
  bool rejected = false;
  time_point retry_at{};
  /// Streamed calls: the last attempt produced content before it failed
  /// (so the deployment did not retry it).
  bool streamed = false;
};

using result_atom = caf::atom_constant<caf::atom("result")>;

/// What provider actors answer to: the part of the ROUTER actor interface
/// that receives the outcome of a deployment call.
using result_receiver = caf::typed_actor<
    // Dispatch `dispatch` of call `id` ended on its deployment.
    caf::reacts_to<result_atom, uint64_t, uint32_t, deployment_result>>;

/// What a call asks of one deployment: run the request there, retrying
/// retryable failures within the deadline, and send the outcome to
/// `reply_to` once.
struct deployment_call {
  uint64_t call_id = 0;
  /// Which dispatch of the call this is; the result names it, so that an
  /// answer to an earlier dispatch is recognised as such.
  uint32_t dispatch = 0;
  result_receiver reply_to;
  std::shared_ptr<const chat_request> request;
  /// The route whose retry, backoff and ladder settings apply; owned by the
  /// engine core, which outlives every actor.
  const route_config* route = nullptr;
  /// Absolute deadline of the whole call.
  time_point deadline{};
  /// Attempts the call made before this one; picks the ladder rung.
  uint32_t attempts_before = 0;
  /// Streamed calls: where the attempt's events go, straight from the
  /// transport thread, tagged with `stream_tag`.
  std::shared_ptr<stream_channel> channel;
  uint64_t stream_tag = 0;
  bool stream = false;
  /// The request continues a partial answer: an empty answer is complete.
  bool continuation = false;
  /// The caller's metadata, for the events of this call.
  call_metadata metadata;
};

/// A new call for a router: everything `engine::complete` and
/// `engine::stream` were given.
struct call_start {
  uint64_t id = 0;
  std::shared_ptr<const chat_request> request;
  call_options options;
  /// When the caller called (the relative deadline counts from here).
  time_point start{};
  /// Runs once with the outcome.
  call_callback done;
  /// Streamed calls: where the events go; null for a plain call.
  std::shared_ptr<stream_sink> sink;
};

// -- actor interfaces
// ----------------------------------------------------------

/// The PROVIDER actor interface: one per deployment (provider + model + key).
using provider_actor = caf::typed_actor<
    // Runs a call on this deployment (with retries) and sends how it ended
    // to the call's `reply_to`.
    caf::reacts_to<caf::atom_constant<caf::atom("call")>, deployment_call>,
    // Ends a call (by id) for the given reason (cancelled, shutdown,
    // deadline_exceeded): frees the upstream transfer and answers at once
    // with every attempt, the one still running recorded as cut.
    caf::reacts_to<caf::atom_constant<caf::atom("cancel")>, uint64_t,
                   engine_code>,
    // Applies an operator command (force open / closed, disable, enable,
    // reset) to this deployment; answers once it is applied and published.
    caf::replies_to<caf::atom_constant<caf::atom("control")>,
                    deployment_command>::with<bool>,
    // Reports health.
    caf::replies_to<caf::atom_constant<caf::atom("status")>>::with<
        deployment_status>,
    // A transfer finished (sent by the transport thread).
    caf::reacts_to<caf::atom_constant<caf::atom("transfer")>, uint64_t,
                   transfer_result>,
    // A plain transfer (by key) ended; its result waits in the attempt's
    // sink, so that a provider actor that died before reading this message
    // leaves it to its successor. Key 0: every plain transfer on the
    // deployment's ready list (provider_directory; sent by the transport
    // thread).
    caf::reacts_to<caf::atom_constant<caf::atom("transfer")>, uint64_t>,
    // A streamed transfer ended (sent by the transport thread).
    caf::reacts_to<caf::atom_constant<caf::atom("transfer")>, uint64_t,
                   stream_verdict>,
    // A streamed attempt (by key) produced its first content.
    caf::reacts_to<caf::atom_constant<caf::atom("token")>, uint64_t>,
    // The timer of the streamed attempts' limits (first token, total) for
    // the given time (ns since the epoch).
    caf::reacts_to<caf::atom_constant<caf::atom("timeout")>, int64_t>,
    // Time for the active half-open probe (timer generation).
    caf::reacts_to<caf::atom_constant<caf::atom("probe")>, uint64_t>,
    // A backoff wait of call `id` (generation `gen`) is over.
    caf::reacts_to<caf::atom_constant<caf::atom("retry")>, uint64_t, uint64_t>,
    // State shared by other replicas changed (sent by the Redis thread).
    caf::reacts_to<caf::atom_constant<caf::atom("shared")>>,
    // Test-only: fail with an exception, as a bug would.
    caf::reacts_to<caf::atom_constant<caf::atom("crash")>>>;

/// The SUPERVISOR actor interface: owns the provider actors and restarts
/// any that fails, keeping its breaker and limiter state.
using supervisor_actor = caf::typed_actor<
    // Returns the current provider actor of every deployment, by index.
    caf::replies_to<caf::atom_constant<caf::atom("providers")>>::with<
        std::vector<provider_actor>>,
    // Crashes the provider actor of a deployment (test-only command).
    caf::reacts_to<caf::atom_constant<caf::atom("crash")>, std::string>>;

/// The ROUTER actor interface: one of a few shards (a call's id picks its
/// shard), each running its calls as plain state, not as an actor per call.
/// It resolves a call's route, orders the targets, runs the fallback chain
/// (and hedges) inside the deadline and reports once through the call's
/// callback.
using router_actor = result_receiver::extend<
    // Starts a call.
    caf::reacts_to<caf::atom_constant<caf::atom("call")>, call_start>,
    // Cancels a call (by id), or every call of the shard.
    caf::reacts_to<caf::atom_constant<caf::atom("cancel")>, uint64_t>,
    caf::reacts_to<caf::atom_constant<caf::atom("cancel")>>,
    // The hedge delay of a call (id, timer generation) passed.
    caf::reacts_to<caf::atom_constant<caf::atom("hedge")>, uint64_t, uint64_t>,
    // A streamed call's consumer refused an event.
    caf::reacts_to<caf::atom_constant<caf::atom("slow")>, uint64_t>,
    // Sends a call (id) to deployment `dep` again once the provider actor
    // that crashed (address) has a successor (poll count).
    caf::reacts_to<caf::atom_constant<caf::atom("resend")>, uint64_t, uint64_t,
                   caf::actor_addr, uint32_t>,
    // The shard's deadline timer for the given time (ns since the epoch).
    caf::reacts_to<caf::atom_constant<caf::atom("deadline")>, int64_t>>;

// -- atoms
// ---------------------------------------------------------------------

using call_atom = caf::atom_constant<caf::atom("call")>;
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using transfer_atom = caf::atom_constant<caf::atom("transfer")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using crash_atom = caf::atom_constant<caf::atom("crash")>;
using providers_atom = caf::atom_constant<caf::atom("providers")>;
using hedge_atom = caf::atom_constant<caf::atom("hedge")>;
using resend_atom = caf::atom_constant<caf::atom("resend")>;
using token_atom = caf::atom_constant<caf::atom("token")>;
using probe_atom = caf::atom_constant<caf::atom("probe")>;
using timeout_atom = caf::atom_constant<caf::atom("timeout")>;
using slow_atom = caf::atom_constant<caf::atom("slow")>;
using deadline_atom = caf::atom_constant<caf::atom("deadline")>;
using control_atom = caf::atom_constant<caf::atom("control")>;
using shared_atom = caf::atom_constant<caf::atom("shared")>;

} // namespace switchyard

// Local-only messages: they never cross a process boundary, so they need no
// inspect overloads (and must not be serialized).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchyard::deployment_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchyard::deployment_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchyard::call_start)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchyard::deployment_status)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchyard::transfer_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchyard::stream_verdict)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<switchyard::provider_actor>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchyard::engine_code)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchyard::deployment_command)
