#define CAF_SUITE actor_retry

#include "support_fixture.hpp"
#include "switchyard/policy/backoff.hpp"
#include "switchyard/random.hpp"

#include <string>

using namespace switchyard;
using namespace switchyard::test;

namespace {

/// A two-target route; `route` and `defaults` are spliced in as JSON members.
std::string config(const std::string& route, const std::string& defaults = "") {
  return R"({
    "providers": {
      "pa": {"kind": "openai_chat", "base_url": "http://a.test"},
      "pb": {"kind": "openai_chat", "base_url": "http://b.test"}
    },
    "deployments": {
      "a": {"provider": "pa", "model": "model-a"},
      "b": {"provider": "pb", "model": "model-b"}
    },
    "routes": {"r": {"targets": ["a", "b"])"
         + (route.empty() ? "" : ", " + route) + R"(}},
    "defaults": {)"
         + defaults + R"(}
  })";
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(actor_retry_tests, actor_fixture)

CAF_TEST(a server error is retried after the exact backoff delay) {
  start(config(R"("backoff": {"base_ms": 200, "factor": 2, "jitter": "none"},
                  "retry": {"max_retries": {"server_error": 2}})"));
  auto id = call();
  CAF_REQUIRE_EQUAL(client->job_count(), 1u);
  answer(client->job(0).id, server_error_response());
  auto retries = events->of<retry_scheduled>();
  CAF_REQUIRE_EQUAL(retries.size(), 1u);
  CAF_CHECK_EQUAL(retries[0].deployment, "a");
  CAF_CHECK_EQUAL(retries[0].wait, timespan{200ms});
  CAF_CHECK(!retries[0].from_server);
  CAF_CHECK(retries[0].cls == error_class::server_error);
  CAF_CHECK_EQUAL(advance(199ms), 0u);
  CAF_CHECK_EQUAL(client->job_count(), 1u);
  CAF_CHECK_EQUAL(advance(1ms), 1u);
  CAF_REQUIRE_EQUAL(client->job_count(), 2u);
  CAF_CHECK_EQUAL(client->job(1).model(), "model-a");
  // The second retry waits twice as long.
  answer(client->job(1).id, server_error_response());
  retries = events->of<retry_scheduled>();
  CAF_REQUIRE_EQUAL(retries.size(), 2u);
  CAF_CHECK_EQUAL(retries[1].wait, timespan{400ms});
  CAF_CHECK_EQUAL(advance(399ms), 0u);
  CAF_CHECK_EQUAL(client->job_count(), 2u);
  CAF_CHECK_EQUAL(advance(1ms), 1u);
  CAF_REQUIRE_EQUAL(client->job_count(), 3u);
  // Retries used up: the call falls back to `b` without waiting.
  answer(client->job(2).id, server_error_response());
  CAF_CHECK_EQUAL(events->count<retry_scheduled>(), 2u);
  CAF_REQUIRE_EQUAL(client->job_count(), 4u);
  CAF_CHECK_EQUAL(client->job(3).model(), "model-b");
  answer(client->job(3).id, ok_response());
  CAF_REQUIRE(done(id));
  CAF_REQUIRE(result(id).has_value());
  CAF_CHECK_EQUAL(attempt_trail(result(id)),
                  (std::vector<std::string>{"a", "a", "a", "b"}));
}

CAF_TEST(a seeded jittered backoff waits exactly the drawn delay) {
  constexpr uint64_t seed = 4711;
  start(config(R"("backoff": {"base_ms": 1000, "jitter": "full"})"), seed);
  // A copy of the deployment's own generator draws what the provider will.
  auto rng = runtime("a").rng;
  backoff expected_backoff{core->find_route("r")->config->policy.backoff};
  auto expected = expected_backoff.wait_before_retry(std::nullopt, 60s, 0, rng);
  CAF_REQUIRE(expected.has_value());
  auto id = call();
  answer(client->job(0).id, server_error_response());
  auto retries = events->of<retry_scheduled>();
  CAF_REQUIRE_EQUAL(retries.size(), 1u);
  CAF_CHECK_EQUAL(retries[0].wait, expected->delay);
  CAF_CHECK_LESS(retries[0].wait, timespan{1s});
  auto wait = retries[0].wait;
  CAF_REQUIRE_GREATER(wait, timespan{1ns});
  CAF_CHECK_EQUAL(advance(wait - 1ns), 0u);
  CAF_CHECK_EQUAL(client->job_count(), 1u);
  CAF_CHECK_EQUAL(advance(1ns), 1u);
  CAF_REQUIRE_EQUAL(client->job_count(), 2u);
  answer(client->job(1).id, ok_response());
  CAF_REQUIRE(done(id));
  CAF_CHECK(result(id).has_value());
}

CAF_TEST(a 429 is retried exactly after its retry - after - ms) {
  start(config(""));
  auto id = call();
  answer(client->job(0).id, rate_limited_response(1850));
  auto retries = events->of<retry_scheduled>();
  CAF_REQUIRE_EQUAL(retries.size(), 1u);
  CAF_CHECK_EQUAL(retries[0].wait, timespan{1850ms});
  CAF_CHECK(retries[0].from_server);
  CAF_CHECK(retries[0].cls == error_class::rate_limited);
  CAF_CHECK_EQUAL(advance(1849ms), 0u);
  CAF_CHECK_EQUAL(client->job_count(), 1u);
  CAF_CHECK_EQUAL(advance(1ms), 1u);
  CAF_REQUIRE_EQUAL(client->job_count(), 2u);
  CAF_CHECK_EQUAL(client->job(1).model(), "model-a");
  answer(client->job(1).id, ok_response());
  CAF_REQUIRE(done(id));
  CAF_REQUIRE(result(id).has_value());
  CAF_CHECK_EQUAL(attempt_trail(result(id)),
                  (std::vector<std::string>{"a", "a"}));
  CAF_CHECK_EQUAL(events->count<fallback_taken>(), 0u);
}

CAF_TEST(a 429 whose wait does not fit the deadline falls back at once) {
  // Neither the server's 1850 ms nor the 2 s backoff fit in 1.5 s.
  start(config(R"("deadline_ms": 1500, "ladder_ms": [1000],
                  "backoff": {"base_ms": 2000, "cap_ms": 2000,
                              "jitter": "none"})"));
  auto id = call();
  answer(client->job(0).id, rate_limited_response(1850));
  CAF_CHECK_EQUAL(events->count<retry_scheduled>(), 0u);
  CAF_REQUIRE_EQUAL(client->job_count(), 2u);
  CAF_CHECK_EQUAL(client->job(1).model(), "model-b");
  auto fallbacks = events->of<fallback_taken>();
  CAF_REQUIRE_EQUAL(fallbacks.size(), 1u);
  CAF_CHECK_EQUAL(fallbacks[0].from, "a");
  CAF_CHECK_EQUAL(fallbacks[0].to, "b");
  CAF_CHECK_EQUAL(fallbacks[0].reason, "rate_limited");
  answer(client->job(1).id, ok_response());
  CAF_REQUIRE(done(id));
  CAF_CHECK(result(id).has_value());
}

CAF_TEST(a 429 whose hint does not fit falls back even when backoff fits) {
  // The server said "not before 1850 ms": retrying sooner on the same
  // deployment is pointless, so the call moves on although a 100 ms backoff
  // would fit the 1.5 s deadline.
  start(config(R"("deadline_ms": 1500, "ladder_ms": [1000],
                  "backoff": {"base_ms": 100, "jitter": "none"})"));
  auto id = call();
  answer(client->job(0).id, rate_limited_response(1850));
  CAF_CHECK_EQUAL(events->count<retry_scheduled>(), 0u);
  CAF_REQUIRE_EQUAL(client->job_count(), 2u);
  CAF_CHECK_EQUAL(client->job(1).model(), "model-b");
  answer(client->job(1).id, ok_response());
  CAF_REQUIRE(done(id));
  CAF_REQUIRE(result(id).has_value());
  CAF_CHECK_EQUAL(result(id)->attempts.size(), 2u);
}

CAF_TEST(the provider hands the verdict to the router and records it) {
  start(config(R"("deadline_ms": 1500, "ladder_ms": [1000],
                  "backoff": {"base_ms": 100, "jitter": "none"})"));
  auto jobs = client->job_count();
  auto results = send_call("a", make_call(77, 1500ms, "r"));
  CAF_REQUIRE_EQUAL(client->job_count(), jobs + 1);
  CAF_CHECK(results->empty());
  answer(client->job(jobs).id, rate_limited_response(1850));
  CAF_REQUIRE_EQUAL(results->size(), 1u);
  auto* r = &results->front();
  CAF_CHECK(r->verdict.action == retry_action::fall_back);
  CAF_CHECK(r->verdict.reason == retry_reason::hint_too_long);
  CAF_CHECK(r->failure.cls == error_class::rate_limited);
  // No English reason is appended to the failure any more.
  CAF_CHECK_EQUAL(r->failure.message.find("no retry"), std::string::npos);
  CAF_REQUIRE_EQUAL(r->attempts.size(), 1u);
  auto& reason = r->attempts[0].reason;
  CAF_CHECK_NOT_EQUAL(reason.find("rate_limited (429"), std::string::npos);
  CAF_CHECK_EQUAL(reason.substr(reason.size() - 28),
                  "-> fall_back (hint_too_long)");
}

CAF_TEST(every event of a call carries its metadata) {
  start(config(R"("backoff": {"base_ms": 100, "jitter": "none"},
                  "retry": {"max_retries": {"server_error": 1}})"));
  auto call = make_call(5, 10s, "r");
  call.metadata = std::make_shared<const std::map<std::string, std::string>>(
      std::map<std::string, std::string>{{"request_id", "req-1"}});
  auto meta = call.metadata;
  auto results = send_call("a", std::move(call));
  answer(client->job(0).id, server_error_response());
  CAF_CHECK_EQUAL(advance(100ms), 1u);
  answer(client->job(1).id, ok_response());
  CAF_REQUIRE_EQUAL(results->size(), 1u);
  auto started = events->of<attempt_started>();
  auto finished = events->of<attempt_finished>();
  auto retries = events->of<retry_scheduled>();
  CAF_REQUIRE_EQUAL(started.size(), 2u);
  CAF_REQUIRE_EQUAL(finished.size(), 2u);
  CAF_REQUIRE_EQUAL(retries.size(), 1u);
  for (auto& ev : started)
    CAF_CHECK(ev.metadata == meta);
  for (auto& ev : finished)
    CAF_CHECK(ev.metadata == meta);
  CAF_CHECK(retries[0].metadata == meta);
  CAF_CHECK_EQUAL(retries[0].metadata->at("request_id"), "req-1");
}

CAF_TEST(an exhausted retry budget stops retries and the call falls back) {
  // The budget grants ratio * requests + 0.1/s * 10 s = 1 retry per window.
  start(config(R"("backoff": {"base_ms": 100, "jitter": "none"},
                  "retry": {"max_retries": {"server_error": 2}})",
               R"("retry_budget": {"ratio": 0, "min_retries_per_second": 0.1,
                                   "window_ms": 10000})"));
  auto id = call();
  answer(client->job(0).id, server_error_response());
  CAF_CHECK_EQUAL(events->count<retry_scheduled>(), 1u);
  CAF_CHECK_EQUAL(advance(100ms), 1u);
  CAF_REQUIRE_EQUAL(client->job_count(), 2u);
  answer(client->job(1).id, server_error_response());
  // The route allows a second retry, the budget does not.
  CAF_CHECK_EQUAL(events->count<retry_scheduled>(), 1u);
  CAF_REQUIRE_EQUAL(client->job_count(), 3u);
  CAF_CHECK_EQUAL(client->job(2).model(), "model-b");
  answer(client->job(2).id, ok_response());
  CAF_REQUIRE(done(id));
  CAF_REQUIRE(result(id).has_value());
  const auto& attempts = result(id)->attempts;
  CAF_REQUIRE_EQUAL(attempts.size(), 3u);
  CAF_CHECK_NOT_EQUAL(attempts[0].reason.find("-> retry in 100 ms (retryable)"),
                      std::string::npos);
}

CAF_TEST(each route spends its own retry budget on a deployment) {
  // Both routes grant 1 retry per 10 s window on `a`; "strict" spends its
  // own, and "other" still has one.
  start(R"({
    "providers": {"pa": {"kind": "openai_chat", "base_url": "http://a.test"}},
    "deployments": {"a": {"provider": "pa", "model": "model-a"}},
    "routes": {
      "strict": {"targets": ["a"], "backoff": {"base_ms": 100, "jitter": "none"},
                 "retry": {"max_retries": {"server_error": 2}},
                 "retry_budget": {"ratio": 0, "min_retries_per_second": 0.1,
                                  "window_ms": 10000}},
      "other": {"targets": ["a"], "backoff": {"base_ms": 100, "jitter": "none"},
                "retry": {"max_retries": {"server_error": 1}},
                "retry_budget": {"ratio": 0, "min_retries_per_second": 0.1,
                                 "window_ms": 10000}}
    },
    "default_route": "strict"
  })");
  call_options strict;
  strict.route = "strict";
  auto first = call(strict);
  answer(client->job(0).id, server_error_response());
  advance(100ms);
  CAF_REQUIRE_EQUAL(client->job_count(), 2u);
  answer(client->job(1).id, server_error_response());
  // strict's budget is spent: no third attempt.
  CAF_REQUIRE(done(first));
  CAF_CHECK_EQUAL(client->job_count(), 2u);
  call_options other;
  other.route = "other";
  auto second = call(other);
  answer(client->job(2).id, server_error_response());
  CAF_CHECK_EQUAL(advance(100ms), 1u);
  CAF_REQUIRE_EQUAL(client->job_count(), 4u);
  answer(client->job(3).id, ok_response());
  CAF_REQUIRE(done(second));
  CAF_CHECK(result(second).has_value());
}

CAF_TEST(attempt timeouts follow the ladder) {
  start(config(R"("ladder_ms": [1000, 3000, 10000],
                  "backoff": {"base_ms": 100, "jitter": "none"},
                  "retry": {"max_retries": {"server_error": 2}})"));
  call();
  auto first = client->job(0).job.timeouts;
  CAF_REQUIRE(first.total.has_value());
  CAF_CHECK_EQUAL(*first.total, timespan{1s});
  CAF_REQUIRE(first.connect.has_value());
  CAF_CHECK_EQUAL(*first.connect, timespan{1s});
  answer(client->job(0).id, server_error_response());
  advance(100ms);
  CAF_REQUIRE_EQUAL(client->job_count(), 2u);
  CAF_CHECK_EQUAL(timespan{*client->job(1).job.timeouts.total}, timespan{3s});
  answer(client->job(1).id, server_error_response());
  advance(200ms);
  CAF_REQUIRE_EQUAL(client->job_count(), 3u);
  CAF_CHECK_EQUAL(timespan{*client->job(2).job.timeouts.total}, timespan{10s});
}

CAF_TEST(a ladder rung is clipped to what is left of the deadline) {
  start(config(R"("deadline_ms": 4000, "ladder_ms": [2000, 3000],
                  "backoff": {"base_ms": 100, "jitter": "none"})"));
  call();
  CAF_CHECK_EQUAL(timespan{*client->job(0).job.timeouts.total}, timespan{2s});
  CAF_CHECK_EQUAL(advance(1500ms), 0u);
  answer(client->job(0).id, server_error_response());
  CAF_CHECK_EQUAL(advance(100ms), 1u);
  CAF_REQUIRE_EQUAL(client->job_count(), 2u);
  // Started at 1.6 s of a 4 s deadline: 2.4 s left, less than the 3 s rung.
  CAF_CHECK_EQUAL(timespan{*client->job(1).job.timeouts.total},
                  timespan{2400ms});
  CAF_CHECK_EQUAL(timespan{*client->job(1).job.timeouts.connect},
                  timespan{2400ms});
}

CAF_TEST_FIXTURE_SCOPE_END()
