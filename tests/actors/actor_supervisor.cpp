#define CAF_SUITE actor_supervisor

#include "support_fixture.hpp"

#include <algorithm>
#include <iostream>
#include <sstream>

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
    "b": {"provider": "pb", "model": "model-b",
          "breaker": {"consecutive_failures": 5}}
  },
  "routes": {
    "r": {"targets": ["a", "b"], "deadline_ms": 30000, "ladder_ms": [10000]},
    "rb": {"targets": ["b", "a"], "deadline_ms": 30000, "ladder_ms": [10000],
           "backoff": {"base_ms": 500, "jitter": "none"}}
  },
  "default_route": "r",
  "defaults": {"breaker": {"consecutive_failures": 1,
                           "open_duration_ms": 20000,
                           "max_open_duration_ms": 60000}}
})";

struct fixture : actor_fixture {
  fixture() {
    start(config);
  }

  /// Answers every open job with a success until none is left; returns how
  /// many it answered.
  size_t answer_all() {
    size_t n = 0;
    for (int round = 0; round < 10; ++round) {
      auto open = client->open_jobs();
      if (open.empty())
        break;
      for (auto id : open) {
        answer(id, ok_response());
        ++n;
      }
    }
    return n;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(actor_supervisor_tests, fixture)

CAF_TEST(calls in flight complete after their provider crashes) {
  // The transfers belong to the calls, not to the actor: the successor
  // adopts them and no request reaches the upstream twice.
  constexpr size_t n = 5;
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < n; ++i)
    ids.push_back(call());
  CAF_REQUIRE_EQUAL(client->job_count("model-a"), n);
  auto old_jobs = client->open_jobs();
  auto before = provider("a");
  crash("a");
  CAF_CHECK(client->cancels().empty());
  CAF_CHECK_NOT_EQUAL(provider("a"), before);
  auto restarts = events->of<provider_restarted>();
  CAF_REQUIRE_EQUAL(restarts.size(), 1u);
  CAF_CHECK_EQUAL(restarts[0].deployment, "a");
  CAF_CHECK_EQUAL(restarts[0].restarts_in_window, 1u);
  CAF_CHECK(!restarts[0].marked_down);
  for (auto id : ids)
    CAF_CHECK(!done(id));
  advance(std::chrono::milliseconds{10});
  CAF_CHECK_EQUAL(client->job_count(), n);
  CAF_CHECK_EQUAL(client->open_jobs(), old_jobs);
  CAF_CHECK_EQUAL(runtime("a").board.in_flight.load(), n);
  CAF_CHECK_EQUAL(answer_all(), n);
  for (auto id : ids) {
    CAF_REQUIRE(done(id));
    CAF_CHECK(result(id).has_value());
    CAF_CHECK_EQUAL(attempt_trail(result(id)), (std::vector<std::string>{"a"}));
  }
  // No second submit, no fallback.
  CAF_CHECK_EQUAL(client->job_count(), n);
  CAF_CHECK_EQUAL(events->count<fallback_taken>(), 0u);
  CAF_CHECK_EQUAL(runtime("a").board.in_flight.load(), 0u);
  CAF_CHECK_EQUAL(status("a").restarts, 1u);
  // The restarted actor works.
  auto later = call();
  auto open = client->open_jobs();
  CAF_REQUIRE_EQUAL(open.size(), 1u);
  CAF_CHECK_EQUAL(client->last_job("model-a").id, open[0]);
  answer_all();
  CAF_REQUIRE(done(later));
  CAF_CHECK(result(later).has_value());
}

CAF_TEST(a result whose message died with the crashed actor still arrives) {
  auto id = call();
  CAF_REQUIRE_EQUAL(client->job_count(), 1u);
  // The crash is queued before the transfer's message: that message dies
  // unread, and the successor finds the result in the transfer's sink.
  caf::anon_send(provider("a"), crash_atom::value);
  client->answer(client->job(0).id, ok_response());
  consume_messages();
  CAF_REQUIRE(done(id));
  CAF_CHECK(result(id).has_value());
  CAF_CHECK_EQUAL(client->job_count(), 1u);
  CAF_CHECK_EQUAL(events->count<provider_restarted>(), 1u);
}

CAF_TEST(a call that dies unread in the mailbox of a crashed actor fails over) {
  // The crash is queued before the call reaches the actor: the call's
  // message dies with it, unanswered. The router monitors the actor and
  // sends the call again to its successor.
  caf::anon_send(provider("a"), crash_atom::value);
  auto id = call();
  CAF_CHECK_EQUAL(client->job_count(), 0u);
  CAF_CHECK(!done(id));
  advance(std::chrono::milliseconds{1});
  CAF_REQUIRE_EQUAL(client->open_jobs().size(), 1u);
  CAF_CHECK_EQUAL(client->job_count("model-a"), 1u);
  CAF_CHECK_EQUAL(events->count<fallback_taken>(), 0u);
  CAF_CHECK_EQUAL(answer_all(), 1u);
  CAF_REQUIRE(done(id));
  CAF_REQUIRE(result(id).has_value());
  CAF_CHECK_EQUAL(attempt_trail(result(id)), (std::vector<std::string>{"a"}));
}

CAF_TEST(a call sent to an actor already dead fails over) {
  // The actor died and the supervisor has not yet replaced it in the
  // directory: a call sent meanwhile must not vanish either.
  auto dead = provider("a");
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  consume_messages();
  sup = nullptr;
  CAF_REQUIRE_EQUAL(provider("a"), dead); // nobody replaced it
  auto id = call();
  // No successor comes: after 1 s of polling the router tries the dead
  // actor once more, then falls back to `b`, which is gone as well, and
  // waits for it in the same way.
  for (int i = 0; i < 2100 && !done(id); ++i)
    advance(1ms);
  CAF_REQUIRE(done(id));
  CAF_CHECK_EQUAL(failure_code(result(id)), "provider_restarted");
  CAF_CHECK_EQUAL(client->job_count(), 0u);
}

CAF_TEST(a crash during a backoff wait does not lose the call) {
  call_options opts;
  opts.route = "rb";
  auto id = call(opts);
  answer(client->job(0).id, server_error_response());
  CAF_REQUIRE_EQUAL(events->count<retry_scheduled>(), 1u);
  CAF_REQUIRE(client->open_jobs().empty());
  crash("b");
  // The call goes to the restarted actor as soon as it is registered,
  // instead of waiting for the dead actor's retry timer.
  advance(std::chrono::milliseconds{1});
  CAF_REQUIRE_EQUAL(client->open_jobs().size(), 1u);
  CAF_CHECK(!done(id));
  CAF_CHECK_EQUAL(answer_all(), 1u);
  CAF_REQUIRE(done(id));
  CAF_CHECK(result(id).has_value());
  // The old actor's retry timer comes and goes without a ghost attempt.
  auto jobs = client->job_count();
  advance(1s);
  CAF_CHECK_EQUAL(client->job_count(), jobs);
}

CAF_TEST(an escaping exception is reported as an event not on stdout) {
  std::ostringstream captured;
  auto* old = std::cout.rdbuf(captured.rdbuf());
  crash("a");
  std::cout.rdbuf(old);
  CAF_CHECK_EQUAL(captured.str(), "");
  auto restarts = events->of<provider_restarted>();
  CAF_REQUIRE_EQUAL(restarts.size(), 1u);
  CAF_CHECK_EQUAL(restarts[0].deployment, "a");
  CAF_CHECK_NOT_EQUAL(
      restarts[0].reason.find("unhandled exception: crash requested"),
      std::string::npos);
}

CAF_TEST(a restarted provider keeps its open breaker) {
  auto id = call();
  answer(client->job(0).id, overloaded_response());
  answer(client->last_job("model-b").id, ok_response());
  CAF_REQUIRE(done(id));
  CAF_REQUIRE(status("a").breaker == breaker_state::open);
  auto before = provider("a");
  crash("a");
  CAF_REQUIRE_NOT_EQUAL(provider("a"), before);
  auto st = status("a");
  CAF_CHECK(st.breaker == breaker_state::open);
  CAF_CHECK_EQUAL(st.restarts, 1u);
  CAF_CHECK_EQUAL(st.failures, 1u);
  auto r = ask("a", make_call(900, 10s));
  CAF_REQUIRE(r.has_value());
  CAF_CHECK(r->rejected);
  CAF_CHECK_EQUAL(r->failure.code, "breaker_open");
  CAF_CHECK_EQUAL(client->job_count("model-a"), 1u);
}

CAF_TEST(more than five restarts within ten seconds mark it down) {
  for (int i = 0; i < 6; ++i) {
    if (i > 0)
      advance(1s);
    crash("a");
  }
  auto restarts = events->of<provider_restarted>();
  CAF_REQUIRE_EQUAL(restarts.size(), 6u);
  for (size_t i = 0; i < 5; ++i) {
    CAF_CHECK_EQUAL(restarts[i].restarts_in_window, i + 1);
    CAF_CHECK(!restarts[i].marked_down);
  }
  CAF_CHECK_EQUAL(restarts[5].restarts_in_window, 6u);
  CAF_CHECK(restarts[5].marked_down);
  CAF_CHECK(status("a").marked_down);
  // Calls skip `a` for the next ten seconds.
  auto id = call();
  CAF_CHECK_EQUAL(client->job_count("model-a"), 0u);
  CAF_REQUIRE_EQUAL(client->job_count("model-b"), 1u);
  answer_all();
  CAF_REQUIRE(done(id));
  auto r = ask("a", make_call(900, 10s));
  CAF_REQUIRE(r.has_value());
  CAF_CHECK(r->rejected);
  CAF_CHECK_EQUAL(r->failure.code, "restart_limit");
  advance(10s - 1ns);
  call(pinned("a"));
  CAF_CHECK_EQUAL(client->job_count("model-a"), 0u);
  advance(1ns);
  call(pinned("a"));
  CAF_CHECK_EQUAL(client->job_count("model-a"), 1u);
}

CAF_TEST(restarts spread over more than ten seconds do not mark it down) {
  for (int i = 0; i < 6; ++i) {
    if (i > 0)
      advance(2500ms);
    crash("a");
  }
  auto restarts = events->of<provider_restarted>();
  CAF_REQUIRE_EQUAL(restarts.size(), 6u);
  for (const auto& ev : restarts)
    CAF_CHECK(!ev.marked_down);
  // At 12.5 s the restart at 0 s has left the window.
  CAF_CHECK_EQUAL(restarts.back().restarts_in_window, 5u);
  CAF_CHECK(!status("a").marked_down);
  call();
  CAF_CHECK_EQUAL(client->job_count("model-a"), 1u);
}

CAF_TEST_FIXTURE_SCOPE_END()
