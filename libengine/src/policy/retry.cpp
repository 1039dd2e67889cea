#include "switchyard/policy/retry.hpp"

#include <algorithm>
#include <array>
#include <string>

namespace switchyard {

namespace {

constexpr std::array<std::string_view, 3> action_names{"retry", "fall_back",
                                                       "give_up"};

constexpr std::array<std::string_view, 13> reason_names{
    "retryable",          "server_asked_retry",   "retries_exhausted",
    "not_retryable",      "server_refused_retry", "hint_too_long",
    "wait_too_long",      "budget_exhausted",     "deployment_unavailable",
    "streamed_content",   "deadline_passed",      "caller_cancelled",
    "not_fallback_class",
};

constexpr std::array<std::string_view, 3> scope_names{"any", "larger_context",
                                                      "content_policy"};

retry_verdict give_up(retry_reason why) {
  retry_verdict v;
  v.action = retry_action::give_up;
  v.reason = why;
  return v;
}

/// The verdict when the same deployment is not tried again: fall back when
/// the route says so for this class, else return to the caller.
retry_verdict move_on(const failure& f, const retry_settings& retry,
                      retry_reason why) {
  if (!retry.fall_back_on.contains(f.cls))
    return give_up(retry_reason::not_fallback_class);
  retry_verdict v;
  v.action = retry_action::fall_back;
  v.reason = why;
  if (f.cls == error_class::context_length)
    v.scope = fallback_scope::larger_context;
  else if (f.cls == error_class::content_filter)
    v.scope = fallback_scope::content_policy;
  return v;
}

} // namespace

std::string_view to_string(retry_action x) noexcept {
  return action_names[static_cast<size_t>(x)];
}

std::string_view to_string(retry_reason x) noexcept {
  return reason_names[static_cast<size_t>(x)];
}

std::string_view to_string(fallback_scope x) noexcept {
  return scope_names[static_cast<size_t>(x)];
}

std::string to_string(const retry_verdict& v) {
  std::string out{to_string(v.action)};
  if (v.action == retry_action::retry) {
    out += " in ";
    out += std::to_string(
        std::chrono::duration_cast<std::chrono::milliseconds>(v.delay).count());
    out += " ms";
  }
  out += " (";
  out += to_string(v.reason);
  if (v.action == retry_action::retry && v.delay_from_hint)
    out += ", server hint";
  if (v.action == retry_action::fall_back && v.scope != fallback_scope::any) {
    out += ", ";
    out += to_string(v.scope);
  }
  out += ')';
  return out;
}

retry_verdict decide_retry(const failure& f, const retry_context& ctx,
                           const retry_settings& retry,
                           switchyard::backoff& backoff, retry_budget* budget,
                           random_generator& rng, time_point now) {
  if (f.cls == error_class::cancelled)
    return give_up(retry_reason::caller_cancelled);
  if (ctx.remaining <= timespan::zero())
    return give_up(retry_reason::deadline_passed);
  // The caller has content: only the route's stream policy may go on, and
  // it does so on another target, within the class's scope (a content
  // filter mid-stream still goes only to content-policy targets, a bad
  // request still returns to the caller).
  if (ctx.streamed_content)
    return move_on(f, retry, retry_reason::streamed_content);
  // How many retries this class gets here; the server's x-should-retry
  // overrides the class (true: at least one retry; false: none).
  auto limit = retry.max_retries[static_cast<size_t>(f.cls)];
  auto why_not = limit == 0 ? retry_reason::not_retryable
                            : retry_reason::retries_exhausted;
  auto why = retry_reason::retryable;
  if (f.should_retry) {
    if (*f.should_retry) {
      limit = std::max<uint32_t>(limit, 1);
      why = retry_reason::server_asked_retry;
      why_not = retry_reason::retries_exhausted;
    } else {
      limit = 0;
      why_not = retry_reason::server_refused_retry;
    }
  }
  if (ctx.retries >= limit)
    return move_on(f, retry, why_not);
  if (ctx.deployment_unavailable)
    return move_on(f, retry, retry_reason::deployment_unavailable);
  const auto& cfg = backoff.settings();
  if (f.retry_after && cfg.honour_retry_after
      && (*f.retry_after >= ctx.remaining
          || *f.retry_after > cfg.max_retry_after))
    return move_on(f, retry, retry_reason::hint_too_long);
  auto wait = backoff.wait_before_retry(f.retry_after, ctx.remaining,
                                        ctx.retries, rng);
  if (!wait)
    return move_on(f, retry, retry_reason::wait_too_long);
  if (budget != nullptr && !budget->try_acquire_retry(now))
    return move_on(f, retry, retry_reason::budget_exhausted);
  retry_verdict v;
  v.action = retry_action::retry;
  v.reason = why;
  v.delay = wait->delay;
  v.delay_from_hint = wait->from_hint;
  return v;
}

} // namespace switchyard
