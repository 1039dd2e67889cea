#define CAF_SUITE actor_breaker

#include "support_fixture.hpp"

using namespace switchyard;
using namespace switchyard::test;

namespace {

// Two deployments; `a` opens after three consecutive failures for 5 s, and
// every reopen doubles that.
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
    "r": {"targets": ["a", "b"], "deadline_ms": 120000, "ladder_ms": [30000]}
  },
  "defaults": {
    "breaker": {"consecutive_failures": 3, "failure_rate": 0,
                "open_duration_ms": 5000, "open_factor": 2,
                "max_open_duration_ms": 60000}
  }
})";

struct fixture : actor_fixture {
  fixture() {
    start(config);
  }

  /// Runs one call that fails on `a` with a 503 and succeeds on `b`.
  uint64_t fail_over_once() {
    auto id = call();
    answer(client->last_job("model-a").id, overloaded_response());
    CAF_REQUIRE(!done(id));
    answer(client->last_job("model-b").id, ok_response());
    CAF_REQUIRE(done(id));
    return id;
  }

  /// Opens the breaker of `a` and returns when it opened.
  time_point open_a() {
    for (int i = 0; i < 3; ++i)
      fail_over_once();
    CAF_REQUIRE(runtime("a").breaker.state() == breaker_state::open);
    return now();
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(actor_breaker_tests, fixture)

CAF_TEST(consecutive failures open the breaker and the call falls back) {
  auto first = fail_over_once();
  CAF_CHECK(result(first).has_value());
  CAF_CHECK_EQUAL(attempt_trail(result(first)),
                  (std::vector<std::string>{"a", "b"}));
  fail_over_once();
  CAF_CHECK(transitions(*events, "a").empty());
  CAF_CHECK(runtime("a").breaker.state() == breaker_state::closed);
  fail_over_once();
  CAF_CHECK_EQUAL(transitions(*events, "a"),
                  (std::vector<std::string>{"closed>open"}));
  auto changes = events->of<breaker_changed>();
  CAF_REQUIRE_EQUAL(changes.size(), 1u);
  CAF_CHECK_EQUAL(changes[0].open_for, timespan{5s});
  auto fallbacks = events->of<fallback_taken>();
  CAF_REQUIRE_EQUAL(fallbacks.size(), 3u);
  for (const auto& fb : fallbacks) {
    CAF_CHECK_EQUAL(fb.from, "a");
    CAF_CHECK_EQUAL(fb.to, "b");
    CAF_CHECK_EQUAL(fb.reason, "overloaded");
  }
  CAF_CHECK(transitions(*events, "b").empty());
}

CAF_TEST(an open breaker rejects calls without any upstream job) {
  auto opened = open_a();
  CAF_REQUIRE_EQUAL(client->job_count("model-a"), 3u);
  // Through the route: the call goes to `b` and `a` sees nothing.
  auto id = call();
  CAF_CHECK_EQUAL(client->job_count("model-a"), 3u);
  answer(client->last_job("model-b").id, ok_response("from b"));
  CAF_REQUIRE(done(id));
  CAF_REQUIRE(result(id).has_value());
  CAF_CHECK_EQUAL(result(id)->text, "from b");
  // Pinned to `a`, the router turns the call away without asking it, and
  // reports it as the provider actor would have: one `refused` event.
  CAF_CHECK(refusals(*events).empty());
  auto pinned_id = call(pinned("a"));
  CAF_REQUIRE(done(pinned_id));
  CAF_CHECK(!result(pinned_id).has_value());
  CAF_CHECK_EQUAL(refusals(*events),
                  (std::vector<std::string>{std::to_string(pinned_id)
                                            + " r/a breaker_open"}));
  // Straight to the provider actor: rejected at once, reopening named.
  auto r = ask("a", make_call(900, 60s));
  CAF_REQUIRE(r.has_value());
  CAF_CHECK(r->rejected);
  CAF_CHECK_EQUAL(r->failure.code, "breaker_open");
  CAF_CHECK(r->attempts.empty());
  CAF_CHECK(r->retry_at == opened + 5s);
  CAF_CHECK_EQUAL(client->job_count("model-a"), 3u);
}

CAF_TEST(the breaker half opens exactly after the open duration) {
  auto opened = open_a();
  auto jobs = client->job_count();
  // Nothing is due before the calls' deadlines (120 s).
  CAF_CHECK_EQUAL(advance(5s - 1ns), 0u);
  auto r = ask("a", make_call(900, 60s));
  CAF_REQUIRE(r.has_value());
  CAF_CHECK(r->rejected);
  CAF_CHECK(r->retry_at == opened + 5s);
  auto early = call(pinned("a"));
  CAF_REQUIRE(done(early));
  CAF_CHECK_EQUAL(failure_code(result(early)), "all_targets_unavailable");
  CAF_REQUIRE(result(early).error().retry_in.has_value());
  CAF_CHECK_EQUAL(*result(early).error().retry_in, timespan{1ns});
  CAF_CHECK_EQUAL(client->job_count(), jobs);
  CAF_CHECK_EQUAL(advance(1ns), 0u);
  auto probe = call(pinned("a"));
  CAF_CHECK(!done(probe));
  CAF_CHECK_EQUAL(client->job_count("model-a"), 4u);
  CAF_CHECK_EQUAL(transitions(*events, "a"),
                  (std::vector<std::string>{"closed>open", "open>half_open"}));
  CAF_CHECK(runtime("a").breaker.state() == breaker_state::half_open);
}

CAF_TEST(a half open probe success closes the breaker) {
  open_a();
  advance(5s);
  auto probe = call(pinned("a"));
  CAF_REQUIRE_EQUAL(client->job_count("model-a"), 4u);
  auto probe_job = client->last_job("model-a").id;
  // While the only probe is out, `a` turns other calls away and they fall
  // back to `b` at once.
  auto other = call();
  CAF_CHECK_EQUAL(client->job_count("model-a"), 4u);
  CAF_REQUIRE_EQUAL(client->job_count("model-b"), 4u);
  answer(client->last_job("model-b").id, ok_response());
  CAF_REQUIRE(done(other));
  CAF_CHECK(result(other).has_value());
  CAF_CHECK_EQUAL(attempt_trail(result(other)),
                  (std::vector<std::string>{"a", "b"}));
  CAF_CHECK_EQUAL(result(other)->attempts.front().status, -1);
  answer(probe_job, ok_response("probe"));
  CAF_REQUIRE(done(probe));
  CAF_CHECK(result(probe).has_value());
  CAF_CHECK_EQUAL(transitions(*events, "a"),
                  (std::vector<std::string>{"closed>open", "open>half_open",
                                            "half_open>closed"}));
  CAF_CHECK(runtime("a").breaker.state() == breaker_state::closed);
  // Closed again: the next call goes to `a` first.
  call();
  CAF_CHECK_EQUAL(client->job_count("model-a"), 5u);
}

CAF_TEST(a half open probe failure reopens the breaker for longer) {
  open_a();
  advance(5s);
  auto probe = call(pinned("a"));
  answer(client->last_job("model-a").id, overloaded_response());
  CAF_REQUIRE(done(probe));
  CAF_CHECK_EQUAL(failure_class(result(probe)), "overloaded");
  auto reopened = now();
  CAF_CHECK_EQUAL(transitions(*events, "a"),
                  (std::vector<std::string>{"closed>open", "open>half_open",
                                            "half_open>open"}));
  auto changes = events->of<breaker_changed>();
  CAF_REQUIRE_EQUAL(changes.size(), 3u);
  CAF_CHECK_EQUAL(changes.back().open_for, timespan{10s});
  // No retry while open, and no job until the longer open period is over.
  CAF_CHECK_EQUAL(events->count<retry_scheduled>(), 0u);
  CAF_CHECK_EQUAL(advance(10s - 1ns), 0u);
  auto r = ask("a", make_call(900, 60s));
  CAF_REQUIRE(r.has_value());
  CAF_CHECK(r->rejected);
  CAF_CHECK(r->retry_at == reopened + 10s);
  CAF_CHECK_EQUAL(client->job_count("model-a"), 4u);
  advance(1ns);
  call(pinned("a"));
  CAF_CHECK_EQUAL(client->job_count("model-a"), 5u);
}

CAF_TEST_FIXTURE_SCOPE_END()

namespace {

// As above, but `a` probes itself when its open duration ends.
constexpr std::string_view probe_config = R"({
  "providers": {
    "pa": {"kind": "openai_chat", "base_url": "http://a.test"},
    "pb": {"kind": "openai_chat", "base_url": "http://b.test"}
  },
  "deployments": {
    "a": {"provider": "pa", "model": "model-a",
          "breaker": {"active_probe": true, "probe_timeout_ms": 800}},
    "b": {"provider": "pb", "model": "model-b"}
  },
  "routes": {
    "r": {"targets": ["a", "b"], "deadline_ms": 120000, "ladder_ms": [30000]}
  },
  "defaults": {
    "breaker": {"consecutive_failures": 1, "failure_rate": 0,
                "open_duration_ms": 5000, "open_factor": 2,
                "max_open_duration_ms": 60000}
  }
})";

struct probe_fixture : actor_fixture {
  probe_fixture() {
    start(probe_config);
  }

  /// One call: `a` fails with a 503 (opening its breaker), `b` answers.
  void open_a() {
    auto id = call();
    answer(client->last_job("model-a").id, overloaded_response());
    answer(client->last_job("model-b").id, ok_response());
    CAF_REQUIRE(done(id));
    CAF_REQUIRE(runtime("a").breaker.state() == breaker_state::open);
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(actor_breaker_probe_tests, probe_fixture)

CAF_TEST(an active probe is sent exactly when the open duration ends) {
  open_a();
  CAF_CHECK_EQUAL(client->job_count("model-a"), 1u);
  advance(5s - 1ns);
  CAF_CHECK_EQUAL(client->job_count("model-a"), 1u);
  advance(1ns);
  CAF_REQUIRE_EQUAL(client->job_count("model-a"), 2u);
  auto probe = client->last_job("model-a");
  CAF_CHECK_NOT_EQUAL(probe.job.request.body.find("\"ping\""),
                      std::string::npos);
  CAF_CHECK_NOT_EQUAL(probe.job.request.body.find("\"max_tokens\":1"),
                      std::string::npos);
  CAF_CHECK_EQUAL(timespan{*probe.job.timeouts.total}, timespan{800ms});
  // While it runs, callers are kept away from `a`.
  auto id = call();
  CAF_CHECK_EQUAL(client->job_count("model-a"), 2u);
  answer(client->last_job("model-b").id, ok_response());
  CAF_REQUIRE(done(id));
  CAF_CHECK_EQUAL(attempt_trail(result(id)),
                  (std::vector<std::string>{"a", "b"}));
  // The probe succeeds: the breaker closes and callers come back.
  answer(probe.id, ok_response());
  CAF_CHECK(runtime("a").breaker.state() == breaker_state::closed);
  CAF_CHECK_EQUAL(transitions(*events, "a"),
                  (std::vector<std::string>{"closed>open", "open>half_open",
                                            "half_open>closed"}));
  call();
  CAF_CHECK_EQUAL(client->job_count("model-a"), 3u);
}

CAF_TEST(a failed active probe reopens the breaker and probes again later) {
  open_a();
  advance(5s);
  CAF_REQUIRE_EQUAL(client->job_count("model-a"), 2u);
  answer(client->last_job("model-a").id, server_error_response());
  CAF_CHECK(runtime("a").breaker.state() == breaker_state::open);
  // Reopened for twice as long: the next probe comes 10 s later.
  advance(10s - 1ns);
  CAF_CHECK_EQUAL(client->job_count("model-a"), 2u);
  advance(1ns);
  CAF_REQUIRE_EQUAL(client->job_count("model-a"), 3u);
  answer(client->last_job("model-a").id, ok_response());
  CAF_CHECK(runtime("a").breaker.state() == breaker_state::closed);
}

CAF_TEST(a restarted provider actor takes over the probing) {
  open_a();
  crash("a");
  advance(5s);
  CAF_REQUIRE_EQUAL(client->job_count("model-a"), 2u);
  answer(client->last_job("model-a").id, ok_response());
  CAF_CHECK(runtime("a").breaker.state() == breaker_state::closed);
}

CAF_TEST_FIXTURE_SCOPE_END()
