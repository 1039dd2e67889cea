#define CAF_SUITE actor_deadline

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
    "r": {"targets": ["a", "b"], "deadline_ms": 3000, "ladder_ms": [3000],
          "backoff": {"base_ms": 100, "jitter": "none"}}
  }
})";

struct fixture : actor_fixture {
  fixture() {
    start(config);
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(actor_deadline_tests, fixture)

CAF_TEST(the deadline cancels the running attempt and fails the call) {
  auto id = call();
  CAF_REQUIRE_EQUAL(client->job_count(), 1u);
  auto job = client->job(0).id;
  CAF_CHECK_EQUAL(advance(3s - 1ns), 0u);
  CAF_CHECK(!done(id));
  CAF_CHECK(client->cancels().empty());
  CAF_CHECK_EQUAL(advance(1ns), 1u);
  CAF_REQUIRE(done(id));
  CAF_CHECK_EQUAL(failure_class(result(id)), "timeout");
  CAF_CHECK_EQUAL(failure_code(result(id)), "deadline_exceeded");
  CAF_CHECK_EQUAL(client->cancels(), (std::vector<uint64_t>{job}));
  CAF_CHECK(client->open_jobs().empty());
  CAF_CHECK_EQUAL(client->job_count(), 1u);
  // The provider freed the slot.
  CAF_CHECK_EQUAL(status("a").in_flight, 0u);
}

CAF_TEST(a caller deadline overrides the route deadline) {
  call_options opts;
  opts.deadline = 1200ms;
  auto id = call(opts);
  CAF_CHECK_EQUAL(timespan{*client->job(0).job.timeouts.total},
                  timespan{1200ms});
  CAF_CHECK_EQUAL(advance(1199ms), 0u);
  CAF_CHECK(!done(id));
  CAF_CHECK_EQUAL(advance(1ms), 1u);
  CAF_REQUIRE(done(id));
  CAF_CHECK_EQUAL(failure_code(result(id)), "deadline_exceeded");
}

CAF_TEST(no retry is scheduled past the deadline) {
  auto id = call();
  // 50 ms before the deadline a 100 ms backoff no longer fits: the call
  // moves to `b` at once.
  CAF_CHECK_EQUAL(advance(2950ms), 0u);
  answer(client->job(0).id, server_error_response());
  CAF_CHECK_EQUAL(events->count<retry_scheduled>(), 0u);
  CAF_REQUIRE_EQUAL(client->job_count(), 2u);
  CAF_CHECK_EQUAL(client->job(1).model(), "model-b");
  // `b` gets only what is left.
  CAF_CHECK_EQUAL(timespan{*client->job(1).job.timeouts.total}, timespan{50ms});
  // One timer serves the call's deadline, however many dispatches it made.
  CAF_CHECK_EQUAL(advance(50ms), 1u);
  CAF_REQUIRE(done(id));
  CAF_CHECK_EQUAL(failure_code(result(id)), "deadline_exceeded");
  CAF_CHECK_EQUAL(client->cancels(),
                  (std::vector<uint64_t>{client->job(1).id}));
}

CAF_TEST(calls of a shard share one deadline timer) {
  call_options soon;
  soon.deadline = 1s;
  auto first = call();     // deadline at 3 s
  auto second = call();    // 3 s: no new timer
  auto third = call(soon); // 1 s: sooner, so a timer for it
  CAF_CHECK_EQUAL(advance(999ms), 0u);
  CAF_CHECK_EQUAL(advance(1ms), 1u);
  CAF_REQUIRE(done(third));
  CAF_CHECK_EQUAL(failure_code(result(third)), "deadline_exceeded");
  CAF_CHECK(!done(first));
  // The first timer (for 3 s) is still pending; answering `first` does not
  // take it away, and it ends `second` on time.
  answer(client->job(0).id, ok_response("fine"));
  CAF_REQUIRE(done(first));
  CAF_CHECK(static_cast<bool>(result(first)));
  // `third` had a dispatch running at its deadline: the router gave it
  // `expiry_grace` (100 ms) to answer the cancel with its attempts. It
  // answered at once, and the grace timer (which cannot be cancelled) fires
  // with nothing to do.
  CAF_CHECK_EQUAL(advance(100ms), 1u);
  CAF_CHECK_EQUAL(advance(1900ms - 1ns), 0u);
  CAF_CHECK(!done(second));
  CAF_CHECK_EQUAL(advance(1ns), 1u);
  CAF_REQUIRE(done(second));
  CAF_CHECK_EQUAL(failure_code(result(second)), "deadline_exceeded");
  // The grace timer of `second`, then nothing is left to time out and no
  // timer is left behind.
  CAF_CHECK_EQUAL(advance(100ms), 1u);
  CAF_CHECK_EQUAL(advance(1h), 0u);
}

CAF_TEST_FIXTURE_SCOPE_END()
