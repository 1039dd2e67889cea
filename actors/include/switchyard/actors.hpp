#pragma once

// Every actor interface of Switchyard and the message type-ID block, so the
// whole protocol reads on one screen.

#include "switchyard/config.hpp"
#include "switchyard/engine.hpp"
#include "switchyard/error.hpp"
#include "switchyard/model.hpp"
#include "switchyard/stream.hpp"
#include "switchyard/transport.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/fwd.hpp>
#include <caf/type_id.hpp>
#include <caf/typed_actor.hpp>

namespace switchyard {

class stream_channel;

// -- messages
// ------------------------------------------------------------------

/// What a call asks of one deployment: run the request there, retrying
/// retryable failures within the deadline.
struct deployment_call {
  uint64_t call_id = 0;
  std::shared_ptr<const chat_request> request;
  /// The route whose retry, backoff and ladder settings apply.
  std::shared_ptr<const route_config> route;
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
};

/// How a deployment call ended.
struct deployment_result {
  /// The answer, when the deployment gave one.
  std::optional<chat_response> response;
  /// The last failure, when it did not.
  switchyard::failure failure;
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

// -- actor interfaces
// ----------------------------------------------------------

/// The PROVIDER actor interface: one per deployment (provider + model + key).
using provider_actor = caf::typed_actor<
    // Runs a call on this deployment (with retries) and reports how it ended.
    caf::replies_to<caf::atom_constant<caf::atom("call")>,
                    deployment_call>::with<deployment_result>,
    // Cancels a call: frees the upstream transfer and answers `cancelled`.
    caf::reacts_to<caf::atom_constant<caf::atom("cancel")>, uint64_t>,
    // Reports health.
    caf::replies_to<caf::atom_constant<caf::atom("status")>>::with<
        deployment_status>,
    // A transfer finished (sent by the transport thread).
    caf::reacts_to<caf::atom_constant<caf::atom("transfer")>, uint64_t,
                   transfer_result>,
    // A streamed transfer ended (sent by the transport thread).
    caf::reacts_to<caf::atom_constant<caf::atom("transfer")>, uint64_t,
                   stream_verdict>,
    // A streamed attempt (by key) produced its first content.
    caf::reacts_to<caf::atom_constant<caf::atom("token")>, uint64_t>,
    // A streamed attempt's first-token (true) or total (false) limit is due.
    caf::reacts_to<caf::atom_constant<caf::atom("timeout")>, uint64_t, bool>,
    // Time for the active half-open probe (timer generation).
    caf::reacts_to<caf::atom_constant<caf::atom("probe")>, uint64_t>,
    // A backoff wait of call `id` (generation `gen`) is over.
    caf::reacts_to<caf::atom_constant<caf::atom("retry")>, uint64_t, uint64_t>,
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

} // namespace switchyard

// Local-only messages: they never cross a process boundary, so they need no
// inspect overloads (and must not be serialized).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchyard::deployment_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchyard::deployment_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchyard::deployment_status)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchyard::transfer_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchyard::stream_verdict)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<switchyard::provider_actor>)
