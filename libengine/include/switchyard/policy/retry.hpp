#pragma once

#include "switchyard/error.hpp"
#include "switchyard/policy/backoff.hpp"
#include "switchyard/policy/retry_budget.hpp"
#include "switchyard/policy/settings.hpp"
#include "switchyard/random.hpp"
#include "switchyard/time.hpp"

#include <cstdint>
#include <string_view>

namespace switchyard {

/// What the engine does after a failed attempt.
enum class retry_action : uint8_t {
  /// Try the same deployment again after `retry_verdict::delay`.
  retry,
  /// Move on to the route's next target, within `retry_verdict::scope`.
  fall_back,
  /// End the call with this failure: retrying elsewhere would fail the same
  /// way, the caller gave up, or nothing is left of the deadline.
  give_up,
};

/// Which targets a fallback may go to.
enum class fallback_scope : uint8_t {
  /// The route's next target.
  any,
  /// Only the route's `context_fallbacks` (after `context_length`).
  larger_context,
  /// Only the route's `content_policy_fallbacks` (after `content_filter`).
  content_policy,
};

/// Why a verdict is what it is.
enum class retry_reason : uint8_t {
  /// retry: the class has retries left on this deployment.
  retryable,
  /// retry: the server said `x-should-retry: true`.
  server_asked_retry,
  /// fall back: the class's retries here are used up.
  retries_exhausted,
  /// fall back: the class is never retried on one deployment.
  not_retryable,
  /// fall back: the server said `x-should-retry: false`.
  server_refused_retry,
  /// fall back: the server's wait hint does not fit the deadline
  /// or exceeds `backoff.max_retry_after` (never retry sooner than it said).
  hint_too_long,
  /// fall back: no backoff wait fits what is left of the deadline.
  wait_too_long,
  /// fall back: the route's retry budget is spent.
  budget_exhausted,
  /// fall back: the deployment cannot take calls now (its breaker
  /// opened, or it is marked down).
  deployment_unavailable,
  /// fall back: a streamed attempt delivered content before it failed; the
  /// route's `stream_failover` decides what the caller sees.
  streamed_content,
  /// give up: nothing is left of the call's deadline.
  deadline_passed,
  /// give up: the caller cancelled.
  caller_cancelled,
  /// give up: the class is not retried here and not in the route's
  /// `fall_back_on`: retrying elsewhere would fail the same way.
  not_fallback_class,
};

/// Returns "retry", "fall_back" or "give_up".
std::string_view to_string(retry_action x) noexcept;

/// Returns the snake_case name of a reason ("retries_exhausted", ...).
std::string_view to_string(retry_reason x) noexcept;

/// Returns "any", "larger_context" or "content_policy".
std::string_view to_string(fallback_scope x) noexcept;

/// The decision after a failed attempt.
struct retry_verdict {
  retry_action action = retry_action::give_up;
  retry_reason reason = retry_reason::not_fallback_class;
  /// retry only: the wait before the next attempt.
  timespan delay{};
  /// retry only: the wait is the server's hint, not backoff.
  bool delay_from_hint = false;
  /// fall_back only: which targets may take the call.
  fallback_scope scope = fallback_scope::any;
};

/// Renders a verdict for attempt records and logs: "retry in 250 ms
/// (retryable, server hint)", "fall_back (retries_exhausted)".
std::string to_string(const retry_verdict& v);

/// What the decision needs to know about the call besides its failure.
struct retry_context {
  /// Retries already made on this deployment for this call.
  uint32_t retries = 0;
  /// What is left of the call's deadline now.
  timespan remaining{};
  /// The deployment cannot take calls now (breaker open, marked down).
  bool deployment_unavailable = false;
  /// A streamed attempt delivered content before it failed.
  bool streamed_content = false;
};

/// DESIGN.md's error-class table as one pure decision: given the failure of
/// an attempt, the route's retry settings and the call's history, says
/// whether to retry here (after which wait), fall back (to which targets) or
/// return to the caller, and why. `backoff` holds the call's backoff
/// sequence on this deployment and the route's backoff settings (server
/// hints, caps); `budget` (may be null) is
/// charged only when the verdict is `retry`; `rng` draws the jitter.
retry_verdict decide_retry(const failure& f, const retry_context& ctx,
                           const retry_settings& retry,
                           switchyard::backoff& backoff, retry_budget* budget,
                           random_generator& rng, time_point now);

} // namespace switchyard
