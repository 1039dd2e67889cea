#define CAF_SUITE actor_routing

#include "support_fixture.hpp"

#include <set>

using namespace switchyard;
using namespace switchyard::test;

CAF_TEST_FIXTURE_SCOPE(actor_routing_tests, actor_fixture)

CAF_TEST(a pinned call runs only on its deployment and never falls back) {
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
                     "hedge": {"enabled": true, "delay_ms": 100}}}
  })");
  auto id = call(pinned("b"));
  CAF_REQUIRE_EQUAL(client->job_count(), 1u);
  CAF_CHECK_EQUAL(client->job(0).model(), "model-b");
  // No hedge for a pinned call.
  CAF_CHECK_EQUAL(advance(1s), 0u);
  CAF_CHECK_EQUAL(client->job_count(), 1u);
  answer(client->job(0).id, overloaded_response());
  CAF_REQUIRE(done(id));
  CAF_CHECK_EQUAL(failure_class(result(id)), "overloaded");
  CAF_CHECK_EQUAL(client->job_count(), 1u);
  CAF_CHECK_EQUAL(events->count<fallback_taken>(), 0u);
  CAF_CHECK_EQUAL(attempt_trail(result(id)), (std::vector<std::string>{"b"}));
}

CAF_TEST(pinning to an unknown deployment is a bad request) {
  start(R"({
    "providers": {"pa": {"kind": "openai_chat", "base_url": "http://a.test"}},
    "deployments": {"a": {"provider": "pa", "model": "model-a"}},
    "routes": {"r": {"targets": ["a"]}}
  })");
  auto id = call(pinned("nope"));
  CAF_REQUIRE(done(id));
  CAF_CHECK_EQUAL(failure_class(result(id)), "bad_request");
  CAF_CHECK_EQUAL(failure_code(result(id)), "unknown_deployment");
  CAF_CHECK_EQUAL(client->job_count(), 0u);
}

CAF_TEST(an unknown route is a bad request) {
  start(R"({
    "providers": {"pa": {"kind": "openai_chat", "base_url": "http://a.test"}},
    "deployments": {"a": {"provider": "pa", "model": "model-a"}},
    "routes": {"r": {"targets": ["a"]}}
  })");
  call_options opts;
  opts.route = "elsewhere";
  auto id = call(opts);
  CAF_REQUIRE(done(id));
  CAF_CHECK_EQUAL(failure_code(result(id)), "unknown_route");
  CAF_CHECK_EQUAL(client->job_count(), 0u);
}

CAF_TEST(sticky sessions keep going to the same deployment) {
  start(R"({
    "providers": {
      "pa": {"kind": "openai_chat", "base_url": "http://a.test"},
      "pb": {"kind": "openai_chat", "base_url": "http://b.test"},
      "pc": {"kind": "openai_chat", "base_url": "http://c.test"}
    },
    "deployments": {
      "a": {"provider": "pa", "model": "model-a"},
      "b": {"provider": "pb", "model": "model-b"},
      "c": {"provider": "pc", "model": "model-c"}
    },
    "routes": {"r": {"targets": ["a", "b", "c"], "strategy": "sticky"}}
  })");
  std::set<std::string> chosen;
  for (int k = 0; k < 12; ++k) {
    auto key = "user-" + std::to_string(k);
    std::string first;
    for (int n = 0; n < 3; ++n) {
      auto before = client->job_count();
      auto id = call(session(key));
      CAF_REQUIRE_EQUAL(client->job_count(), before + 1);
      auto job = client->job(before);
      if (n == 0)
        first = job.model();
      else
        CAF_CHECK_EQUAL(job.model(), first);
      answer(job.id, ok_response());
      CAF_REQUIRE(done(id));
      CAF_CHECK(result(id).has_value());
    }
    chosen.insert(first);
  }
  // Keys spread over the deployments instead of all landing on the first.
  CAF_CHECK_GREATER(chosen.size(), 1u);
}

CAF_TEST(a sticky session moves only while its deployment is open) {
  start(R"({
    "providers": {
      "pa": {"kind": "openai_chat", "base_url": "http://a.test"},
      "pb": {"kind": "openai_chat", "base_url": "http://b.test"},
      "pc": {"kind": "openai_chat", "base_url": "http://c.test"}
    },
    "deployments": {
      "a": {"provider": "pa", "model": "model-a"},
      "b": {"provider": "pb", "model": "model-b"},
      "c": {"provider": "pc", "model": "model-c"}
    },
    "routes": {"r": {"targets": ["a", "b", "c"], "strategy": "sticky"}},
    "defaults": {"breaker": {"consecutive_failures": 1,
                             "open_duration_ms": 5000}}
  })");
  auto id = call(session("user-7"));
  auto home = client->job(0).model();
  answer(client->job(0).id, overloaded_response());
  CAF_REQUIRE_EQUAL(client->job_count(), 2u);
  auto away = client->job(1).model();
  CAF_CHECK_NOT_EQUAL(away, home);
  answer(client->job(1).id, ok_response());
  CAF_REQUIRE(done(id));
  // While home is open the session stays on the fallback...
  auto again = call(session("user-7"));
  CAF_REQUIRE_EQUAL(client->job_count(), 3u);
  CAF_CHECK_EQUAL(client->job(2).model(), away);
  answer(client->job(2).id, ok_response());
  CAF_REQUIRE(done(again));
  // ...and returns home once it may take calls again.
  advance(5s);
  call(session("user-7"));
  CAF_REQUIRE_EQUAL(client->job_count(), 4u);
  CAF_CHECK_EQUAL(client->job(3).model(), home);
}

CAF_TEST_FIXTURE_SCOPE_END()
