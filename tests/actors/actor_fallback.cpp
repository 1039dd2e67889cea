#define CAF_SUITE actor_fallback

#include "support_fixture.hpp"

using namespace switchyard;
using namespace switchyard::test;

CAF_TEST_FIXTURE_SCOPE(actor_fallback_tests, actor_fixture)

CAF_TEST(a 503 falls back to the next target at once) {
  start(R"({
    "providers": {
      "pa": {"kind": "openai_chat", "base_url": "http://a.test"},
      "pb": {"kind": "openai_chat", "base_url": "http://b.test"}
    },
    "deployments": {
      "a": {"provider": "pa", "model": "model-a"},
      "b": {"provider": "pb", "model": "model-b"}
    },
    "routes": {"r": {"targets": ["a", "b"]}}
  })");
  auto id = call();
  answer(client->job(0).id, overloaded_response());
  CAF_CHECK_EQUAL(events->count<retry_scheduled>(), 0u);
  CAF_REQUIRE_EQUAL(client->job_count(), 2u);
  CAF_CHECK_EQUAL(client->job(1).model(), "model-b");
  answer(client->job(1).id, ok_response("from b"));
  CAF_REQUIRE(done(id));
  CAF_REQUIRE(result(id).has_value());
  CAF_CHECK_EQUAL(result(id)->text, "from b");
  CAF_CHECK_EQUAL(result(id)->provider, "pb");
  const auto& attempts = result(id)->attempts;
  CAF_REQUIRE_EQUAL(attempts.size(), 2u);
  CAF_CHECK_EQUAL(attempts[0].deployment, "a");
  CAF_CHECK_EQUAL(attempts[0].status, 503);
  CAF_CHECK(attempts[0].cls == error_class::overloaded);
  CAF_CHECK_EQUAL(attempts[1].deployment, "b");
  CAF_CHECK(!attempts[1].cls.has_value());
}

CAF_TEST(a bad request returns to the caller without fallback) {
  start(R"({
    "providers": {
      "pa": {"kind": "openai_chat", "base_url": "http://a.test"},
      "pb": {"kind": "openai_chat", "base_url": "http://b.test"}
    },
    "deployments": {
      "a": {"provider": "pa", "model": "model-a"},
      "b": {"provider": "pb", "model": "model-b"}
    },
    "routes": {"r": {"targets": ["a", "b"]}}
  })");
  auto id = call();
  answer(client->job(0).id, bad_request_response());
  CAF_REQUIRE(done(id));
  CAF_CHECK_EQUAL(failure_class(result(id)), "bad_request");
  CAF_CHECK_EQUAL(failure_code(result(id)), "model_not_found");
  CAF_CHECK_EQUAL(result(id).error().failure.status, 404);
  CAF_CHECK_EQUAL(client->job_count(), 1u);
  CAF_CHECK_EQUAL(events->count<fallback_taken>(), 0u);
  CAF_CHECK_EQUAL(events->count<retry_scheduled>(), 0u);
  // Not the deployment's fault: its breaker heard nothing.
  CAF_CHECK_EQUAL(runtime("a").breaker.consecutive_failures(), 0u);
}

CAF_TEST(context length errors go only to the context fallbacks) {
  start(R"({
    "providers": {
      "pa": {"kind": "openai_chat", "base_url": "http://a.test"},
      "pb": {"kind": "openai_chat", "base_url": "http://b.test"},
      "pc": {"kind": "openai_chat", "base_url": "http://c.test"}
    },
    "deployments": {
      "a": {"provider": "pa", "model": "model-a", "context_window": 8000},
      "b": {"provider": "pb", "model": "model-b", "context_window": 8000},
      "c": {"provider": "pc", "model": "model-c", "context_window": 128000}
    },
    "routes": {"r": {"targets": ["a", "b"], "context_fallbacks": ["c"]}}
  })");
  auto id = call();
  answer(client->job(0).id, context_length_response());
  CAF_REQUIRE_EQUAL(client->job_count(), 2u);
  CAF_CHECK_EQUAL(client->job(1).model(), "model-c");
  CAF_CHECK_EQUAL(client->job_count("model-b"), 0u);
  auto fallbacks = events->of<fallback_taken>();
  CAF_REQUIRE_EQUAL(fallbacks.size(), 1u);
  CAF_CHECK_EQUAL(fallbacks[0].to, "c");
  CAF_CHECK_EQUAL(fallbacks[0].reason, "context_length");
  // The larger model fails too: `b` (same context size) is never tried.
  answer(client->job(1).id, context_length_response());
  CAF_REQUIRE(done(id));
  CAF_CHECK_EQUAL(failure_class(result(id)), "context_length");
  CAF_CHECK_EQUAL(client->job_count("model-b"), 0u);
  CAF_CHECK_EQUAL(attempt_trail(result(id)),
                  (std::vector<std::string>{"a", "c"}));
}

CAF_TEST(a 401 is retried as often as the route says then marked down) {
  // `retry.max_retries.auth: 1`: one retry on the same deployment, then it
  // is marked down and the call moves on.
  start(R"({
    "providers": {
      "pa": {"kind": "openai_chat", "base_url": "http://a.test"},
      "pb": {"kind": "openai_chat", "base_url": "http://b.test"}
    },
    "deployments": {
      "a": {"provider": "pa", "model": "model-a"},
      "b": {"provider": "pb", "model": "model-b"}
    },
    "routes": {"r": {"targets": ["a", "b"],
                     "backoff": {"base_ms": 100, "jitter": "none"},
                     "retry": {"max_retries": {"auth": 1}}}}
  })");
  auto id = call();
  answer(client->job(0).id, unauthorized_response());
  CAF_CHECK_EQUAL(events->count<retry_scheduled>(), 1u);
  CAF_CHECK(!status("a").marked_down);
  CAF_CHECK_EQUAL(advance(100ms), 1u);
  CAF_REQUIRE_EQUAL(client->job_count(), 2u);
  CAF_CHECK_EQUAL(client->job(1).model(), "model-a");
  answer(client->job(1).id, unauthorized_response());
  CAF_CHECK_EQUAL(events->count<retry_scheduled>(), 1u);
  CAF_REQUIRE_EQUAL(client->job_count(), 3u);
  CAF_CHECK_EQUAL(client->job(2).model(), "model-b");
  auto fallbacks = events->of<fallback_taken>();
  CAF_REQUIRE_EQUAL(fallbacks.size(), 1u);
  CAF_CHECK_EQUAL(fallbacks[0].reason, "auth");
  answer(client->job(2).id, ok_response());
  CAF_REQUIRE(done(id));
  CAF_CHECK(result(id).has_value());
  CAF_CHECK(status("a").marked_down);
  CAF_CHECK(!status("b").marked_down);
  // Later calls skip `a` without asking it, even an hour later.
  advance(1h);
  auto next = call();
  CAF_CHECK_EQUAL(client->job_count("model-a"), 2u);
  CAF_REQUIRE_EQUAL(client->job_count(), 4u);
  answer(client->job(3).id, ok_response());
  CAF_REQUIRE(done(next));
  CAF_CHECK(result(next).has_value());
  auto only_a = call(pinned("a"));
  CAF_REQUIRE(done(only_a));
  CAF_CHECK_EQUAL(failure_code(result(only_a)), "all_targets_unavailable");
  CAF_CHECK_EQUAL(client->job_count("model-a"), 2u);
}

CAF_TEST(when every target is open the call fails at once) {
  start(R"({
    "providers": {
      "pa": {"kind": "openai_chat", "base_url": "http://a.test"},
      "pb": {"kind": "openai_chat", "base_url": "http://b.test"}
    },
    "deployments": {
      "a": {"provider": "pa", "model": "model-a"},
      "b": {"provider": "pb", "model": "model-b",
            "breaker": {"open_duration_ms": 3000}}
    },
    "routes": {"r": {"targets": ["a", "b"]}},
    "defaults": {"breaker": {"consecutive_failures": 1,
                             "open_duration_ms": 5000}}
  })");
  auto first = call();
  answer(client->job(0).id, overloaded_response());
  answer(client->job(1).id, overloaded_response());
  CAF_REQUIRE(done(first));
  CAF_CHECK_EQUAL(failure_class(result(first)), "overloaded");
  CAF_CHECK_EQUAL(transitions(*events, "a"),
                  (std::vector<std::string>{"closed>open"}));
  CAF_CHECK_EQUAL(transitions(*events, "b"),
                  (std::vector<std::string>{"closed>open"}));
  CAF_CHECK_EQUAL(advance(1s), 0u);
  auto second = call();
  CAF_REQUIRE(done(second));
  CAF_CHECK_EQUAL(client->job_count(), 2u);
  CAF_CHECK_EQUAL(failure_code(result(second)), "all_targets_unavailable");
  CAF_CHECK_EQUAL(failure_class(result(second)), "overloaded");
  // `b` reopens first: 3 s after it opened, 1 s ago.
  CAF_REQUIRE(result(second).error().retry_in.has_value());
  CAF_CHECK_EQUAL(*result(second).error().retry_in, timespan{2s});
  const auto& attempts = result(second).error().attempts;
  CAF_REQUIRE_EQUAL(attempts.size(), 2u);
  CAF_CHECK_EQUAL(attempts[0].status, -1);
  CAF_CHECK_EQUAL(attempts[1].status, -1);
}

CAF_TEST_FIXTURE_SCOPE_END()
