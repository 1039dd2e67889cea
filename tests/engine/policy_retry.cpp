#define CAF_SUITE policy_retry

// DESIGN.md's error-class table, row by row, with literal expectations: the
// route settings are the defaults (so that the table's defaults are pinned
// too) or a literal override; every expected verdict is spelled out here.

#include "support_random.hpp"
#include "switchyard/policy/retry.hpp"

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using switchyard::test::replay_random;

namespace {

const time_point t0{};

/// base 100 ms, factor 2, cap 10 s, full jitter, hints up to 60 s honoured.
backoff_settings literal_backoff() {
  backoff_settings s;
  s.base = 100ms;
  s.cap = 10s;
  s.factor = 2.0;
  s.jitter = jitter_kind::full;
  s.honour_retry_after = true;
  s.max_retry_after = 60s;
  return s;
}

failure fail(error_class cls, int status,
             std::optional<timespan> hint = std::nullopt,
             std::optional<bool> should_retry = std::nullopt) {
  failure f;
  f.cls = cls;
  f.status = status;
  f.retry_after = hint;
  f.should_retry = should_retry;
  return f;
}

struct fixture {
  retry_settings retry = default_retry_settings();
  backoff bo{literal_backoff()};
  /// Full jitter scales the exponential delay by these draws in turn.
  replay_random rng{0.5, 0.75};
  retry_budget* budget = nullptr;
  bool unavailable = false;
  bool streamed = false;

  retry_verdict decide(const failure& f, uint32_t retries,
                       timespan remaining = 30s) {
    retry_context ctx;
    ctx.retries = retries;
    ctx.remaining = remaining;
    ctx.deployment_unavailable = unavailable;
    ctx.streamed_content = streamed;
    return decide_retry(f, ctx, retry, bo, budget, rng, t0);
  }
};

/// Checks a verdict in one line, naming the failed field.
void check(const retry_verdict& v, retry_action action, retry_reason reason,
           fallback_scope scope = fallback_scope::any) {
  CAF_CHECK_EQUAL(to_string(v.action), to_string(action));
  CAF_CHECK_EQUAL(to_string(v.reason), to_string(reason));
  CAF_CHECK_EQUAL(to_string(v.scope), to_string(scope));
}

void check_retry(const retry_verdict& v, retry_reason reason, timespan delay,
                 bool from_hint) {
  check(v, retry_action::retry, reason);
  CAF_CHECK_EQUAL(v.delay, delay);
  CAF_CHECK_EQUAL(v.delay_from_hint, from_hint);
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(policy_retry_tests, fixture)

// -- rate_limited -------------------------------------------------------------

CAF_TEST(a 429 hint that fits the deadline is the exact wait) {
  auto v = decide(fail(error_class::rate_limited, 429, 2500ms), 0, 30s);
  check_retry(v, retry_reason::retryable, 2500ms, true);
  CAF_CHECK_EQUAL(rng.draws(), 0u);
  // Just inside the deadline still fits.
  v = decide(fail(error_class::rate_limited, 429, 2999ms), 1, 3s);
  check_retry(v, retry_reason::retryable, 2999ms, true);
}

CAF_TEST(a 429 hint that does not fit the deadline falls back at once) {
  // Never retry sooner than the server said: no backoff instead of the hint.
  auto v = decide(fail(error_class::rate_limited, 429, 3s), 0, 3s);
  check(v, retry_action::fall_back, retry_reason::hint_too_long);
  v = decide(fail(error_class::rate_limited, 429, 5s), 0, 3s);
  check(v, retry_action::fall_back, retry_reason::hint_too_long);
  CAF_CHECK_EQUAL(rng.draws(), 0u);
}

CAF_TEST(a 429 hint above max_retry_after falls back at once) {
  auto v = decide(fail(error_class::rate_limited, 429, 61s), 0, 10min);
  check(v, retry_action::fall_back, retry_reason::hint_too_long);
  // Exactly the maximum is still honoured.
  v = decide(fail(error_class::rate_limited, 429, 60s), 0, 10min);
  check_retry(v, retry_reason::retryable, 60s, true);
}

CAF_TEST(a 429 hint is ignored when the route does not honour hints) {
  auto s = literal_backoff();
  s.honour_retry_after = false;
  bo = backoff{s};
  auto v = decide(fail(error_class::rate_limited, 429, 90s), 0, 30s);
  // 100 ms * 0.5
  check_retry(v, retry_reason::retryable, 50ms, false);
}

CAF_TEST(a 429 without a hint backs off with jitter twice then falls back) {
  // Retry 0: 100 ms * 0.5; retry 1: 200 ms * 0.75.
  auto v = decide(fail(error_class::rate_limited, 429), 0);
  check_retry(v, retry_reason::retryable, 50ms, false);
  v = decide(fail(error_class::rate_limited, 429), 1);
  check_retry(v, retry_reason::retryable, 150ms, false);
  CAF_CHECK_EQUAL(rng.draws(), 2u);
  v = decide(fail(error_class::rate_limited, 429), 2);
  check(v, retry_action::fall_back, retry_reason::retries_exhausted);
  CAF_CHECK_EQUAL(rng.draws(), 2u);
}

CAF_TEST(a backoff wait that reaches the deadline falls back) {
  // 100 ms * 0.5 = 50 ms does not start before a deadline 50 ms away.
  auto v = decide(fail(error_class::rate_limited, 429), 0, 50ms);
  check(v, retry_action::fall_back, retry_reason::wait_too_long);
  // The next draw, 0.75: 75 ms starts before a deadline 76 ms away.
  v = decide(fail(error_class::rate_limited, 429), 0, 76ms);
  check_retry(v, retry_reason::retryable, 75ms, false);
}

// -- quota_exhausted ----------------------------------------------------------

CAF_TEST(a 429 quota error falls back without a retry even with a hint) {
  auto v = decide(fail(error_class::quota_exhausted, 429, 1s), 0);
  check(v, retry_action::fall_back, retry_reason::not_retryable);
  CAF_CHECK_EQUAL(v.delay, timespan{0});
}

// -- server_error -------------------------------------------------------------

CAF_TEST(a 500 is retried twice with backoff then falls back) {
  auto v = decide(fail(error_class::server_error, 500), 0);
  check_retry(v, retry_reason::retryable, 50ms, false);
  v = decide(fail(error_class::server_error, 502), 1);
  check_retry(v, retry_reason::retryable, 150ms, false);
  v = decide(fail(error_class::server_error, 504), 2);
  check(v, retry_action::fall_back, retry_reason::retries_exhausted);
}

// -- overloaded ---------------------------------------------------------------

CAF_TEST(a 503 or 529 falls back at once) {
  check(decide(fail(error_class::overloaded, 503), 0), retry_action::fall_back,
        retry_reason::not_retryable);
  check(decide(fail(error_class::overloaded, 529), 0), retry_action::fall_back,
        retry_reason::not_retryable);
  CAF_CHECK_EQUAL(rng.draws(), 0u);
}

// -- timeout ------------------------------------------------------------------

CAF_TEST(a timeout is retried once then falls back) {
  auto v = decide(fail(error_class::timeout, 0), 0);
  check_retry(v, retry_reason::retryable, 50ms, false);
  v = decide(fail(error_class::timeout, 0), 1);
  check(v, retry_action::fall_back, retry_reason::retries_exhausted);
}

// -- connection ---------------------------------------------------------------

CAF_TEST(a connection error falls back at once) {
  check(decide(fail(error_class::connection, 0), 0), retry_action::fall_back,
        retry_reason::not_retryable);
}

// -- auth ---------------------------------------------------------------------

CAF_TEST(a 401 or 403 falls back and is never retried) {
  check(decide(fail(error_class::auth, 401), 0), retry_action::fall_back,
        retry_reason::not_retryable);
  check(decide(fail(error_class::auth, 403), 0), retry_action::fall_back,
        retry_reason::not_retryable);
}

// -- bad_request --------------------------------------------------------------

CAF_TEST(a 400 returns to the caller) {
  for (auto status : {400, 404, 413, 422})
    check(decide(fail(error_class::bad_request, status), 0),
          retry_action::give_up, retry_reason::not_fallback_class);
}

// -- context_length and content_filter ----------------------------------------

CAF_TEST(context_length falls back only to larger - context targets) {
  check(decide(fail(error_class::context_length, 400), 0),
        retry_action::fall_back, retry_reason::not_retryable,
        fallback_scope::larger_context);
}

CAF_TEST(content_filter falls back only to content - policy targets) {
  check(decide(fail(error_class::content_filter, 400), 0),
        retry_action::fall_back, retry_reason::not_retryable,
        fallback_scope::content_policy);
}

// -- malformed ----------------------------------------------------------------

CAF_TEST(a malformed answer is retried once then falls back) {
  auto v = decide(fail(error_class::malformed, 200), 0);
  check_retry(v, retry_reason::retryable, 50ms, false);
  v = decide(fail(error_class::malformed, 200), 1);
  check(v, retry_action::fall_back, retry_reason::retries_exhausted);
}

// -- cancelled and the deadline -----------------------------------------------

CAF_TEST(a cancelled call gives up whatever the server said) {
  check(decide(fail(error_class::cancelled, 0, 1s, true), 0),
        retry_action::give_up, retry_reason::caller_cancelled);
  check(decide(fail(error_class::cancelled, 0), 0, 0s), retry_action::give_up,
        retry_reason::caller_cancelled);
}

CAF_TEST(nothing left of the deadline gives up) {
  check(decide(fail(error_class::server_error, 500), 0, 0s),
        retry_action::give_up, retry_reason::deadline_passed);
  check(decide(fail(error_class::overloaded, 503), 0, -5ms),
        retry_action::give_up, retry_reason::deadline_passed);
}

// -- x-should-retry -----------------------------------------------------------

CAF_TEST(x - should - retry true retries a 400 once) {
  auto v = decide(fail(error_class::bad_request, 400, std::nullopt, true), 0);
  check_retry(v, retry_reason::server_asked_retry, 50ms, false);
  // The retry is used; the class decides again: back to the caller.
  v = decide(fail(error_class::bad_request, 400, std::nullopt, true), 1);
  check(v, retry_action::give_up, retry_reason::not_fallback_class);
}

CAF_TEST(x - should - retry true retries a 503 once then falls back) {
  auto v = decide(fail(error_class::overloaded, 503, std::nullopt, true), 0);
  check_retry(v, retry_reason::server_asked_retry, 50ms, false);
  v = decide(fail(error_class::overloaded, 503, std::nullopt, true), 1);
  check(v, retry_action::fall_back, retry_reason::retries_exhausted);
}

CAF_TEST(x - should - retry false falls back on a 500 without a retry) {
  auto v = decide(fail(error_class::server_error, 500, std::nullopt, false), 0);
  check(v, retry_action::fall_back, retry_reason::server_refused_retry);
  CAF_CHECK_EQUAL(rng.draws(), 0u);
}

// -- the retry budget ---------------------------------------------------------

CAF_TEST(the retry budget is charged only by a retry) {
  // No ratio, a reserve of 0.1/s over 10 s: exactly one retry.
  retry_budget_settings s;
  s.ratio = 0;
  s.min_retries_per_second = 0.1;
  s.window = 10s;
  retry_budget b{s};
  budget = &b;
  check(decide(fail(error_class::overloaded, 503), 0), retry_action::fall_back,
        retry_reason::not_retryable);
  check(decide(fail(error_class::bad_request, 400), 0), retry_action::give_up,
        retry_reason::not_fallback_class);
  CAF_CHECK_EQUAL(b.retries(t0), 0u);
  check_retry(decide(fail(error_class::server_error, 500), 0),
              retry_reason::retryable, 50ms, false);
  CAF_CHECK_EQUAL(b.retries(t0), 1u);
  check(decide(fail(error_class::server_error, 500), 1),
        retry_action::fall_back, retry_reason::budget_exhausted);
  CAF_CHECK_EQUAL(b.retries(t0), 1u);
}

// -- the deployment and the stream --------------------------------------------

CAF_TEST(an unavailable deployment is not retried) {
  unavailable = true;
  check(decide(fail(error_class::server_error, 500), 0),
        retry_action::fall_back, retry_reason::deployment_unavailable);
  check(decide(fail(error_class::rate_limited, 429, 1s), 0),
        retry_action::fall_back, retry_reason::deployment_unavailable);
  // A class that is not retried says so first.
  check(decide(fail(error_class::overloaded, 503), 0), retry_action::fall_back,
        retry_reason::not_retryable);
}

CAF_TEST(a stream that delivered content is not retried in place) {
  streamed = true;
  check(decide(fail(error_class::server_error, 500), 0),
        retry_action::fall_back, retry_reason::streamed_content);
  check(decide(fail(error_class::overloaded, 200, std::nullopt, true), 0),
        retry_action::fall_back, retry_reason::streamed_content);
  // The class still bounds where the call may go.
  check(decide(fail(error_class::content_filter, 200), 0),
        retry_action::fall_back, retry_reason::streamed_content,
        fallback_scope::content_policy);
  check(decide(fail(error_class::bad_request, 200), 0), retry_action::give_up,
        retry_reason::not_fallback_class);
  CAF_CHECK_EQUAL(rng.draws(), 0u);
}

// -- per-route overrides ------------------------------------------------------

CAF_TEST(fall_back_on with bad_request makes a 400 fall back) {
  retry.fall_back_on.insert(error_class::bad_request);
  check(decide(fail(error_class::bad_request, 400), 0), retry_action::fall_back,
        retry_reason::not_retryable);
}

CAF_TEST(fall_back_on without server_error returns a 500 to the caller) {
  retry.fall_back_on.erase(error_class::server_error);
  check_retry(decide(fail(error_class::server_error, 500), 0),
              retry_reason::retryable, 50ms, false);
  check(decide(fail(error_class::server_error, 500), 2), retry_action::give_up,
        retry_reason::not_fallback_class);
}

CAF_TEST(max_retries auth 1 retries a 401 once) {
  retry.max_retries[static_cast<size_t>(error_class::auth)] = 1;
  check_retry(decide(fail(error_class::auth, 401), 0), retry_reason::retryable,
              50ms, false);
  check(decide(fail(error_class::auth, 401), 1), retry_action::fall_back,
        retry_reason::retries_exhausted);
}

CAF_TEST_FIXTURE_SCOPE_END()

// -- rendering ----------------------------------------------------------------

CAF_TEST(verdicts render for attempt records and logs) {
  retry_verdict v;
  v.action = retry_action::retry;
  v.reason = retry_reason::retryable;
  v.delay = 250ms;
  v.delay_from_hint = true;
  CAF_CHECK_EQUAL(to_string(v), "retry in 250 ms (retryable, server hint)");
  v.delay_from_hint = false;
  v.delay = 1500us;
  CAF_CHECK_EQUAL(to_string(v), "retry in 1 ms (retryable)");
  v.action = retry_action::fall_back;
  v.reason = retry_reason::retries_exhausted;
  CAF_CHECK_EQUAL(to_string(v), "fall_back (retries_exhausted)");
  v.reason = retry_reason::not_retryable;
  v.scope = fallback_scope::larger_context;
  CAF_CHECK_EQUAL(to_string(v), "fall_back (not_retryable, larger_context)");
  v.action = retry_action::give_up;
  v.reason = retry_reason::caller_cancelled;
  CAF_CHECK_EQUAL(to_string(v), "give_up (caller_cancelled)");
  CAF_CHECK_EQUAL(to_string(retry_verdict{}), "give_up (not_fallback_class)");
}

CAF_TEST(every enumerator has its name) {
  CAF_CHECK_EQUAL(to_string(retry_action::retry), "retry");
  CAF_CHECK_EQUAL(to_string(retry_action::fall_back), "fall_back");
  CAF_CHECK_EQUAL(to_string(retry_action::give_up), "give_up");
  CAF_CHECK_EQUAL(to_string(fallback_scope::any), "any");
  CAF_CHECK_EQUAL(to_string(fallback_scope::larger_context), "larger_context");
  CAF_CHECK_EQUAL(to_string(fallback_scope::content_policy), "content_policy");
  const char* reasons[] = {
      "retryable",          "server_asked_retry",   "retries_exhausted",
      "not_retryable",      "server_refused_retry", "hint_too_long",
      "wait_too_long",      "budget_exhausted",     "deployment_unavailable",
      "streamed_content",   "deadline_passed",      "caller_cancelled",
      "not_fallback_class",
  };
  for (size_t i = 0; i < std::size(reasons); ++i)
    CAF_CHECK_EQUAL(to_string(static_cast<retry_reason>(i)), reasons[i]);
}
