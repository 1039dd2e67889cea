#define CAF_SUITE actor_hedge

#include "support_fixture.hpp"

using namespace switchyard;
using namespace switchyard::test;

namespace {

constexpr std::string_view config = R"({
  "providers": {
    "pa": {"kind": "openai_chat", "base_url": "http://a.test"},
    "pb": {"kind": "openai_chat", "base_url": "http://b.test"}
  },
  "deployments": {
    "a": {"provider": "pa", "model": "model-a"},
    "b": {"provider": "pb", "model": "model-b"}
  },
  "routes": {
    "r": {"targets": ["a", "b"],
          "hedge": {"enabled": true, "delay_ms": 500, "max_attempts": 2}}
  }
})";

struct fixture : actor_fixture {
  fixture() {
    start(config);
  }

  /// Returns the hedge events of `phase`, as deployment names.
  std::vector<std::string> hedges(hedge_phase phase) const {
    std::vector<std::string> out;
    for (const auto& ev : events->of<hedge_event>())
      if (ev.phase == phase)
        out.push_back(ev.deployment);
    return out;
  }

  /// Starts a call and lets the hedge fire on `b` at 500 ms.
  uint64_t hedged_call() {
    auto id = call();
    CAF_REQUIRE_EQUAL(client->job_count(), 1u);
    CAF_CHECK_EQUAL(advance(499ms), 0u);
    CAF_CHECK_EQUAL(client->job_count(), 1u);
    CAF_CHECK(hedges(hedge_phase::fired).empty());
    CAF_CHECK_EQUAL(advance(1ms), 1u);
    CAF_REQUIRE_EQUAL(client->job_count(), 2u);
    CAF_CHECK_EQUAL(client->job(0).model(), "model-a");
    CAF_CHECK_EQUAL(client->job(1).model(), "model-b");
    CAF_CHECK_EQUAL(hedges(hedge_phase::fired),
                    (std::vector<std::string>{"b"}));
    return id;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(actor_hedge_tests, fixture)

CAF_TEST(the hedge starts on the next target exactly after its delay) {
  auto id = hedged_call();
  CAF_CHECK(!done(id));
  // Only one hedge: nothing more happens before the deadline.
  CAF_CHECK_EQUAL(advance(10s), 0u);
  CAF_CHECK_EQUAL(client->job_count(), 2u);
}

CAF_TEST(a winning hedge cancels the first attempt upstream) {
  auto id = hedged_call();
  auto first = client->job(0).id;
  auto hedge = client->job(1).id;
  answer(hedge, ok_response("from b"));
  CAF_REQUIRE(done(id));
  CAF_REQUIRE(result(id).has_value());
  CAF_CHECK_EQUAL(result(id)->text, "from b");
  CAF_CHECK_EQUAL(result(id)->provider, "pb");
  CAF_CHECK_EQUAL(client->cancels(), (std::vector<uint64_t>{first}));
  CAF_CHECK_EQUAL(hedges(hedge_phase::won), (std::vector<std::string>{"b"}));
  CAF_CHECK(hedges(hedge_phase::cancelled).empty());
  CAF_CHECK(client->open_jobs().empty());
}

CAF_TEST(a winning first attempt cancels the hedge upstream) {
  auto id = hedged_call();
  auto first = client->job(0).id;
  auto hedge = client->job(1).id;
  answer(first, ok_response("from a"));
  CAF_REQUIRE(done(id));
  CAF_REQUIRE(result(id).has_value());
  CAF_CHECK_EQUAL(result(id)->text, "from a");
  CAF_CHECK_EQUAL(client->cancels(), (std::vector<uint64_t>{hedge}));
  CAF_CHECK_EQUAL(hedges(hedge_phase::cancelled),
                  (std::vector<std::string>{"b"}));
  CAF_CHECK(hedges(hedge_phase::won).empty());
  CAF_CHECK(client->open_jobs().empty());
}

CAF_TEST(an answer before the delay starts no hedge) {
  auto id = call();
  CAF_CHECK_EQUAL(advance(300ms), 0u);
  answer(client->job(0).id, ok_response());
  CAF_REQUIRE(done(id));
  // The stale hedge timer still fires, but starts nothing.
  advance(200ms);
  CAF_CHECK_EQUAL(client->job_count(), 1u);
  CAF_CHECK_EQUAL(events->count<hedge_event>(), 0u);
  CAF_CHECK(client->cancels().empty());
}

CAF_TEST(a failed first attempt leaves the hedge running) {
  auto id = hedged_call();
  answer(client->job(0).id, overloaded_response());
  CAF_CHECK(!done(id));
  CAF_CHECK_EQUAL(client->job_count(), 2u);
  answer(client->job(1).id, ok_response("from b"));
  CAF_REQUIRE(done(id));
  CAF_REQUIRE(result(id).has_value());
  CAF_CHECK_EQUAL(result(id)->text, "from b");
  CAF_CHECK_EQUAL(attempt_trail(result(id)),
                  (std::vector<std::string>{"a", "b"}));
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST_FIXTURE_SCOPE(actor_hedge_percentile_tests, actor_fixture)

CAF_TEST(a percentile hedge follows the latencies seen on its own route) {
  // Both routes hedge at their median once 4 latencies are known, 500 ms
  // before that.
  start(R"({
    "providers": {
      "pa": {"kind": "openai_chat", "base_url": "http://a.test"},
      "pb": {"kind": "openai_chat", "base_url": "http://b.test"}
    },
    "deployments": {
      "a": {"provider": "pa", "model": "model-a"},
      "b": {"provider": "pb", "model": "model-b"}
    },
    "routes": {
      "p": {"targets": ["a", "b"],
            "hedge": {"enabled": true, "delay_ms": 500, "percentile": 0.5,
                      "min_samples": 4}},
      "q": {"targets": ["a", "b"],
            "hedge": {"enabled": true, "delay_ms": 500, "percentile": 0.5,
                      "min_samples": 4}}
    },
    "default_route": "p"
  })");
  call_options p;
  p.route = "p";
  // Four answers on route p, after 100 to 400 ms.
  for (int i = 1; i <= 4; ++i) {
    auto id = call(p);
    advance(std::chrono::milliseconds{100 * i});
    answer(client->last_job("model-a").id, ok_response());
    CAF_REQUIRE(done(id));
  }
  CAF_REQUIRE_EQUAL(client->job_count(), 4u);
  // Route p now hedges at its median: 200 ms (nearest rank of 100, 200,
  // 300 and 400 ms), not at its fixed 500 ms.
  auto hedged = call(p);
  advance(199ms);
  CAF_CHECK_EQUAL(client->job_count("model-b"), 0u);
  advance(1ms);
  CAF_CHECK_EQUAL(client->job_count("model-b"), 1u);
  answer(client->last_job("model-a").id, ok_response());
  CAF_REQUIRE(done(hedged));
  // Route q has seen nothing: still its fixed 500 ms.
  call_options q;
  q.route = "q";
  auto fixed = call(q);
  advance(499ms);
  CAF_CHECK_EQUAL(client->job_count("model-b"), 1u);
  advance(1ms);
  CAF_CHECK_EQUAL(client->job_count("model-b"), 2u);
  answer(client->last_job("model-a").id, ok_response());
  CAF_CHECK(done(fixed));
}

CAF_TEST_FIXTURE_SCOPE_END()
