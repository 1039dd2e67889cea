#define CAF_SUITE actor_control

#include "support_fixture.hpp"

#include <string>

using namespace switchyard;
using namespace switchyard::test;

namespace {

/// Two deployments behind one route; the breaker of each opens after two
/// consecutive failures.
constexpr std::string_view config = R"({
  "providers": {
    "pa": {"kind": "openai_chat", "base_url": "http://a.test"},
    "pb": {"kind": "openai_chat", "base_url": "http://b.test"}
  },
  "deployments": {
    "a": {"provider": "pa", "model": "model-a",
          "breaker": {"consecutive_failures": 2}},
    "b": {"provider": "pb", "model": "model-b"}
  },
  "routes": {"r": {"targets": ["a", "b"], "strategy": "priority",
                   "retry": {"max_retries": {"server_error": 0}}}}
})";

} // namespace

struct control_fixture : actor_fixture {
  void control(const std::string& name, deployment_command cmd) {
    caf::anon_send(provider(name), control_atom::value, cmd);
    consume_messages();
  }
};

CAF_TEST_FIXTURE_SCOPE(actor_control_tests, control_fixture)

CAF_TEST(force open rejects every call until reset) {
  start(config);
  control("a", deployment_command::force_open);
  CAF_CHECK(runtime("a").breaker.state() == breaker_state::forced_open);
  CAF_CHECK_EQUAL(transitions(*events, "a"),
                  (std::vector<std::string>{"closed>forced_open"}));
  // Routers read it on the board: the call goes to b without asking a.
  CAF_CHECK(runtime("a").unavailable(now()));
  CAF_CHECK(runtime("a").available_at(now()) == time_point::max());
  auto id = call();
  CAF_CHECK_EQUAL(client->job_count("model-a"), 0u);
  CAF_REQUIRE_EQUAL(client->job_count(), 1u);
  answer(client->job(0).id, ok_response());
  CAF_CHECK(result(id).has_value());
  // Even an hour later.
  advance(1h);
  CAF_CHECK(runtime("a").unavailable(now()));
  control("a", deployment_command::reset);
  CAF_CHECK(runtime("a").breaker.state() == breaker_state::closed);
  CAF_CHECK(!runtime("a").unavailable(now()));
  call();
  CAF_CHECK_EQUAL(client->job_count("model-a"), 1u);
}

CAF_TEST(force closed keeps the breaker closed through failures) {
  start(config);
  control("a", deployment_command::force_closed);
  CAF_CHECK(runtime("a").breaker.state() == breaker_state::forced_closed);
  for (int i = 0; i < 3; ++i) {
    call(pinned("a"));
    answer(client->last_job("model-a").id, server_error_response());
  }
  CAF_CHECK(runtime("a").breaker.state() == breaker_state::forced_closed);
  CAF_CHECK(!runtime("a").unavailable(now()));
  CAF_CHECK_EQUAL(client->job_count("model-a"), 3u);
}

CAF_TEST(a disabled deployment takes no calls until enabled) {
  start(config);
  control("a", deployment_command::disable);
  CAF_CHECK(runtime("a").board.disabled.load());
  CAF_CHECK(status("a").disabled);
  CAF_CHECK_EQUAL(transitions(*events, "a"),
                  (std::vector<std::string>{"closed>disabled"}));
  CAF_CHECK(runtime("a").unavailable(now() + 1h));
  auto id = call();
  CAF_CHECK_EQUAL(client->job_count("model-a"), 0u);
  answer(client->last_job("model-b").id, ok_response());
  CAF_CHECK(result(id).has_value());
  // Routed around it, nothing was refused; pinned to it, the router turns
  // the call away without asking it, and reports the refusal.
  CAF_CHECK(refusals(*events).empty());
  auto pinned_id = call(pinned("a"));
  CAF_REQUIRE(done(pinned_id));
  CAF_CHECK(!result(pinned_id).has_value());
  CAF_CHECK_EQUAL(client->job_count("model-a"), 0u);
  CAF_CHECK_EQUAL(refusals(*events),
                  (std::vector<std::string>{std::to_string(pinned_id)
                                            + " r/a marked_down"}));
  // Asked directly, it refuses and says why.
  auto r = ask("a", make_call(900, 10s, "r"));
  CAF_REQUIRE(r.has_value());
  CAF_CHECK(r->rejected);
  CAF_CHECK_EQUAL(r->failure.message, "disabled by an operator");
  control("a", deployment_command::enable);
  CAF_CHECK(!runtime("a").board.disabled.load());
  CAF_CHECK(!runtime("a").unavailable(now()));
  CAF_CHECK_EQUAL(
      transitions(*events, "a"),
      (std::vector<std::string>{"closed>disabled", "disabled>closed"}));
  call();
  CAF_CHECK_EQUAL(client->job_count("model-a"), 1u);
}

CAF_TEST(reset closes an open breaker and clears marked down and disabled) {
  start(config);
  for (int i = 0; i < 2; ++i) {
    call(pinned("a"));
    answer(client->last_job("model-a").id, server_error_response());
  }
  CAF_REQUIRE(runtime("a").breaker.state() == breaker_state::open);
  runtime("a").mark_down(now() + 1h, make_failure(engine_code::restart_limit,
                                                  "too many restarts"));
  control("a", deployment_command::disable);
  CAF_REQUIRE(runtime("a").unavailable(now()));
  control("a", deployment_command::reset);
  CAF_CHECK(runtime("a").breaker.state() == breaker_state::closed);
  CAF_CHECK_EQUAL(runtime("a").board.down_until_ns.load(), 0);
  CAF_CHECK(!runtime("a").board.disabled.load());
  CAF_CHECK(!runtime("a").unavailable(now()));
  CAF_CHECK(!status("a").marked_down);
  auto jobs = client->job_count("model-a");
  call(pinned("a"));
  CAF_CHECK_EQUAL(client->job_count("model-a"), jobs + 1);
}

CAF_TEST(the board holds the status snapshot without asking the actor) {
  start(R"({
    "providers": {"pa": {"kind": "openai_chat", "base_url": "http://a.test"}},
    "deployments": {"a": {"provider": "pa", "model": "model-a",
                          "limits": {"max_in_flight": 1, "max_queue": 4}}},
    "routes": {"r": {"targets": ["a"],
                     "retry": {"max_retries": {"server_error": 0}}}}
  })");
  auto view = core->view(index_of("a"));
  auto first = call();
  advance(40ms);
  answer(client->job(0).id, server_error_response());
  CAF_REQUIRE(done(first));
  call();
  call();
  call();
  auto st = view.status(now());
  CAF_CHECK_EQUAL(st.name, "a");
  CAF_CHECK_EQUAL(st.model, "model-a");
  CAF_CHECK_EQUAL(st.calls, 1u);
  CAF_CHECK_EQUAL(st.failures, 1u);
  CAF_CHECK_EQUAL(st.recent_error_rate, 0.1);
  CAF_CHECK_EQUAL(st.in_flight, 1u);
  CAF_CHECK_EQUAL(st.queued, 2u);
  CAF_CHECK_EQUAL(st.restarts, 0u);
  advance(30ms);
  answer(client->job(1).id, ok_response());
  st = view.status(now());
  CAF_CHECK_EQUAL(st.calls, 2u);
  CAF_CHECK_EQUAL(st.queued, 1u);
  CAF_CHECK_EQUAL(st.latency_ewma, timespan{30ms});
  crash("a");
  CAF_CHECK_EQUAL(view.status(now()).restarts, 1u);
}

CAF_TEST_FIXTURE_SCOPE_END()
