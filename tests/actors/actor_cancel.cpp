#define CAF_SUITE actor_cancel

#include "support_fixture.hpp"

#include <string>

using namespace switchyard;
using namespace switchyard::test;

namespace {

/// One deployment; server errors are retried once after 100 ms; at most one
/// call in flight, one queued.
constexpr std::string_view config = R"({
  "providers": {"pa": {"kind": "openai_chat", "base_url": "http://a.test"}},
  "deployments": {"a": {"provider": "pa", "model": "model-a",
                        "limits": {"max_in_flight": 1, "max_queue": 1}}},
  "routes": {"r": {"targets": ["a"],
                   "backoff": {"base_ms": 100, "jitter": "none"},
                   "retry": {"max_retries": {"server_error": 1}}}}
})";

} // namespace

CAF_TEST_FIXTURE_SCOPE(actor_cancel_tests, actor_fixture)

CAF_TEST(a deadline cut answers with every attempt and the running one) {
  start(config);
  auto results = send_call("a", make_call(1, 10s, "r"));
  answer(client->job(0).id, server_error_response());
  CAF_CHECK_EQUAL(advance(100ms), 1u);
  CAF_REQUIRE_EQUAL(client->job_count(), 2u);
  advance(250ms);
  caf::anon_send(provider("a"), cancel_atom::value, uint64_t{1},
                 engine_code::deadline_exceeded);
  consume_messages();
  CAF_REQUIRE_EQUAL(results->size(), 1u);
  auto& r = results->front();
  CAF_CHECK(r.failure.is(engine_code::deadline_exceeded));
  CAF_CHECK(r.verdict.reason == retry_reason::deadline_passed);
  CAF_REQUIRE_EQUAL(r.attempts.size(), 2u);
  CAF_CHECK(r.attempts[0].cls == error_class::server_error);
  CAF_CHECK_EQUAL(r.attempts[0].status, 500);
  CAF_CHECK(r.attempts[1].cls == error_class::timeout);
  CAF_CHECK_EQUAL(r.attempts[1].status, 0);
  CAF_CHECK_EQUAL(r.attempts[1].reason, "cut by the deadline");
  CAF_CHECK_EQUAL(r.attempts[1].latency, timespan{250ms});
  // The running transfer is freed.
  CAF_CHECK(client->job(1).cancelled);
  CAF_CHECK_EQUAL(runtime("a").board.in_flight.load(), 0u);
}

CAF_TEST(a cancel during a backoff wait answers with the attempts so far) {
  start(config);
  auto results = send_call("a", make_call(1, 10s, "r"));
  answer(client->job(0).id, server_error_response());
  caf::anon_send(provider("a"), cancel_atom::value, uint64_t{1},
                 engine_code::cancelled);
  consume_messages();
  CAF_REQUIRE_EQUAL(results->size(), 1u);
  auto& r = results->front();
  CAF_CHECK(r.failure.is(engine_code::cancelled));
  CAF_REQUIRE_EQUAL(r.attempts.size(), 1u);
  CAF_CHECK(r.attempts[0].cls == error_class::server_error);
  // The retry timer comes and goes without an attempt.
  CAF_CHECK_EQUAL(advance(100ms), 1u);
  CAF_CHECK_EQUAL(client->job_count(), 1u);
}

CAF_TEST(a cancelled running attempt is recorded as cancelled) {
  start(config);
  auto results = send_call("a", make_call(1, 10s, "r"));
  caf::anon_send(provider("a"), cancel_atom::value, uint64_t{1},
                 engine_code::shutdown);
  consume_messages();
  CAF_REQUIRE_EQUAL(results->size(), 1u);
  auto& r = results->front();
  CAF_CHECK(r.failure.is(engine_code::shutdown));
  CAF_REQUIRE_EQUAL(r.attempts.size(), 1u);
  CAF_CHECK(r.attempts[0].cls == error_class::cancelled);
  CAF_CHECK_EQUAL(r.attempts[0].reason, "cut by the engine's shutdown");
}

CAF_TEST(a queued call is rejected with the cancel reason) {
  start(config);
  auto first = send_call("a", make_call(1, 10s, "r"));
  auto second = send_call("a", make_call(2, 10s, "r"));
  CAF_CHECK_EQUAL(client->job_count(), 1u);
  caf::anon_send(provider("a"), cancel_atom::value, uint64_t{2},
                 engine_code::deadline_exceeded);
  consume_messages();
  CAF_REQUIRE_EQUAL(second->size(), 1u);
  CAF_CHECK(second->front().rejected);
  CAF_CHECK(second->front().failure.is(engine_code::deadline_exceeded));
  CAF_CHECK(second->front().attempts.empty());
  CAF_CHECK(first->empty());
}

CAF_TEST_FIXTURE_SCOPE_END()
