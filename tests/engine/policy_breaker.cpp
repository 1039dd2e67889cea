#define CAF_SUITE policy_breaker
#include "switchyard/policy/circuit_breaker.hpp"

#include <caf/test/unit_test.hpp>

using namespace switchyard;

namespace {

constexpr auto closed = breaker_state::closed;
constexpr auto open = breaker_state::open;
constexpr auto half_open = breaker_state::half_open;
constexpr auto server_error = error_class::server_error;

const time_point t0{};

/// Consecutive failures only: 3 in a row open for 5 s, growing by 2 to 15 s.
breaker_settings consecutive_settings() {
  breaker_settings s;
  s.consecutive_failures = 3;
  s.failure_rate = 0;
  s.open_duration = 5s;
  s.open_factor = 2;
  s.max_open_duration = 15s;
  return s;
}

/// Rates only, over a count window.
breaker_settings rate_settings(uint32_t size, uint32_t minimum, double rate) {
  breaker_settings s;
  s.consecutive_failures = 0;
  s.failure_rate = rate;
  s.window_size = size;
  s.minimum_calls = minimum;
  return s;
}

bool is(const std::optional<breaker_transition>& x, breaker_state from,
        breaker_state to, time_point at) {
  return x && x->from == from && x->to == to && x->at == at;
}

/// Opens `b` at `t` by three consecutive failures.
void trip(circuit_breaker& b, time_point t) {
  for (int i = 0; i < 3; ++i)
    b.on_failure(t, server_error);
}

} // namespace

CAF_TEST(consecutive failures open the breaker and a success resets the run) {
  circuit_breaker b{consecutive_settings()};
  CAF_CHECK(b.allow(t0));
  CAF_CHECK_EQUAL(b.retry_at(t0), t0);
  b.on_failure(t0, server_error);
  b.on_failure(t0 + 1s, server_error);
  b.on_success(t0 + 2s, 10ms);
  CAF_CHECK_EQUAL(b.consecutive_failures(), 0u);
  b.on_failure(t0 + 3s, server_error);
  b.on_failure(t0 + 4s, server_error);
  CAF_CHECK(b.state() == closed);
  CAF_CHECK(!b.take_transition());
  b.on_failure(t0 + 5s, server_error);
  CAF_CHECK(b.state() == open);
  CAF_CHECK(is(b.take_transition(), closed, open, t0 + 5s));
  CAF_CHECK(!b.take_transition());
  CAF_CHECK_EQUAL(b.transition_count(), 1u);
}

CAF_TEST(open fails fast until exactly the open duration then half - opens) {
  circuit_breaker b{consecutive_settings()};
  trip(b, t0 + 1500ms);
  b.take_transition();
  CAF_CHECK_EQUAL(b.retry_at(t0 + 2s), t0 + 6500ms);
  CAF_CHECK(!b.allow(t0 + 2s));
  CAF_CHECK(!b.allow(t0 + 6500ms - 1ns));
  CAF_CHECK(b.state() == open);
  CAF_CHECK(!b.take_transition());
  CAF_CHECK(b.allow(t0 + 6500ms));
  CAF_CHECK(b.state() == half_open);
  CAF_CHECK(is(b.take_transition(), open, half_open, t0 + 6500ms));
  CAF_CHECK_EQUAL(b.probes_in_flight(), 1u);
}

CAF_TEST(half - open admits at most the configured number of probes) {
  auto s = consecutive_settings();
  s.half_open_probes = 2;
  s.half_open_successes = 2;
  circuit_breaker b{s};
  trip(b, t0);
  CAF_CHECK(b.allow(t0 + 5s));
  CAF_CHECK(b.allow(t0 + 5s));
  CAF_CHECK(!b.allow(t0 + 5s));
  CAF_CHECK_EQUAL(b.retry_at(t0 + 5s), time_point::max());
  // A cancelled probe gives its slot back...
  b.release_probe();
  CAF_CHECK_EQUAL(b.retry_at(t0 + 6s), t0 + 6s);
  CAF_CHECK(b.allow(t0 + 6s));
  CAF_CHECK(!b.allow(t0 + 6s));
  // ...and so does a neutral verdict, without counting as a success.
  b.on_failure(t0 + 7s, error_class::cancelled);
  CAF_CHECK(b.state() == half_open);
  CAF_CHECK_EQUAL(b.probes_in_flight(), 1u);
  CAF_CHECK(b.allow(t0 + 7s));
}

CAF_TEST(half - open closes after the configured successes) {
  auto s = consecutive_settings();
  s.half_open_successes = 2;
  circuit_breaker b{s};
  trip(b, t0);
  CAF_REQUIRE(b.allow(t0 + 5s));
  b.on_success(t0 + 6s, 100ms);
  CAF_CHECK(b.state() == half_open);
  CAF_REQUIRE(b.allow(t0 + 6s));
  b.take_transition();
  b.on_success(t0 + 7s, 100ms);
  CAF_CHECK(b.state() == closed);
  CAF_CHECK(is(b.take_transition(), half_open, closed, t0 + 7s));
  CAF_CHECK(b.allow(t0 + 7s));
  // Closed again with a fresh count: two failures do not reopen it.
  b.on_failure(t0 + 8s, server_error);
  b.on_failure(t0 + 8s, server_error);
  CAF_CHECK(b.state() == closed);
}

CAF_TEST(half - open failure reopens with a growing capped duration) {
  circuit_breaker b{consecutive_settings()};
  trip(b, t0);
  CAF_CHECK_EQUAL(b.retry_at(t0), t0 + 5s);
  // First reopen: 10 s.
  CAF_REQUIRE(b.allow(t0 + 5s));
  b.take_transition();
  b.on_failure(t0 + 6s, error_class::timeout);
  CAF_CHECK(is(b.take_transition(), half_open, open, t0 + 6s));
  CAF_CHECK_EQUAL(b.retry_at(t0 + 6s), t0 + 16s);
  CAF_CHECK(!b.allow(t0 + 16s - 1ns));
  // Second reopen: 20 s, capped to 15 s.
  CAF_REQUIRE(b.allow(t0 + 16s));
  b.on_failure(t0 + 17s, server_error);
  CAF_CHECK_EQUAL(b.retry_at(t0 + 17s), t0 + 32s);
  // Closing resets the growth: the next trip opens for 5 s again.
  CAF_REQUIRE(b.allow(t0 + 32s));
  b.on_success(t0 + 33s, 1ms);
  CAF_REQUIRE(b.state() == closed);
  CAF_CHECK_EQUAL(b.next_open_duration(), timespan{5s});
  trip(b, t0 + 40s);
  CAF_CHECK_EQUAL(b.retry_at(t0 + 40s), t0 + 45s);
}

CAF_TEST(a server wait hint longer than the open duration wins) {
  circuit_breaker b{consecutive_settings()};
  b.on_failure(t0, error_class::rate_limited);
  b.on_failure(t0, error_class::rate_limited);
  b.on_failure(t0, error_class::rate_limited, timespan{30s});
  CAF_CHECK_EQUAL(b.retry_at(t0), t0 + 30s);
  CAF_CHECK(!b.allow(t0 + 29s));
  CAF_CHECK(b.allow(t0 + 30s));
  // A shorter hint does not shorten the (doubled) reopen duration.
  b.on_failure(t0 + 31s, error_class::rate_limited, timespan{1s});
  CAF_CHECK_EQUAL(b.retry_at(t0 + 31s), t0 + 41s);
}

CAF_TEST(late results while open change nothing) {
  circuit_breaker b{consecutive_settings()};
  trip(b, t0);
  b.take_transition();
  b.on_success(t0 + 1s, 1ms);
  b.on_failure(t0 + 1s, server_error, timespan{60s});
  CAF_CHECK(b.state() == open);
  CAF_CHECK_EQUAL(b.retry_at(t0 + 1s), t0 + 5s);
  CAF_CHECK(!b.take_transition());
}

CAF_TEST(neutral classes are not recorded) {
  auto s = consecutive_settings();
  s.consecutive_failures = 2;
  circuit_breaker b{s};
  // A neutral class neither counts as a failure nor breaks the run.
  b.on_failure(t0, server_error);
  for (auto cls : {error_class::bad_request, error_class::context_length,
                   error_class::content_filter, error_class::cancelled})
    b.on_failure(t0, cls);
  CAF_CHECK(b.state() == closed);
  CAF_CHECK_EQUAL(b.consecutive_failures(), 1u);
  b.on_failure(t0, server_error);
  CAF_CHECK(b.state() == open);
  // Nor do neutral results count as calls toward a rate: 1 of 2 fails.
  circuit_breaker r{rate_settings(10, 2, 0.5)};
  for (int i = 0; i < 8; ++i)
    r.on_failure(t0, error_class::bad_request);
  r.on_success(t0, 1ms);
  CAF_CHECK(r.state() == closed);
  r.on_failure(t0, server_error);
  CAF_CHECK(r.state() == open);
}

CAF_TEST(failure classes are configurable) {
  auto s = consecutive_settings();
  s.consecutive_failures = 1;
  s.failure_classes = {error_class::connection};
  circuit_breaker b{s};
  b.on_failure(t0, server_error);
  CAF_CHECK(b.state() == closed);
  b.on_failure(t0, error_class::connection);
  CAF_CHECK(b.state() == open);
}

CAF_TEST(failure rate in a count window opens once minimum calls are in it) {
  circuit_breaker b{rate_settings(10, 4, 0.5)};
  // Below minimum_calls a 100 % failure rate does not open.
  b.on_failure(t0, server_error);
  b.on_failure(t0, server_error);
  b.on_failure(t0, server_error);
  CAF_CHECK(b.state() == closed);
  // The fourth call reaches the minimum: 3 of 4 fail.
  b.on_success(t0 + 1s, 1ms);
  CAF_CHECK(b.state() == open);
  CAF_CHECK(is(b.take_transition(), closed, open, t0 + 1s));
}

CAF_TEST(the count window forgets calls beyond its size) {
  circuit_breaker b{rate_settings(4, 4, 0.75)};
  b.on_failure(t0, server_error);
  b.on_failure(t0, server_error);
  for (int i = 0; i < 4; ++i)
    b.on_success(t0, 1ms);
  // Window [S S F F]: 50 %. Counting the evicted failures it would be 4/8.
  b.on_failure(t0, server_error);
  b.on_failure(t0, server_error);
  CAF_CHECK(b.state() == closed);
  // Window [S F F F]: 75 %.
  b.on_failure(t0, server_error);
  CAF_CHECK(b.state() == open);
}

CAF_TEST(failure rate in a time window) {
  auto s = rate_settings(0, 4, 0.5);
  s.window = breaker_settings::window_kind::time;
  s.window_duration = 10s;
  circuit_breaker b{s};
  b.on_success(t0, 1ms);
  b.on_failure(t0 + 3s, server_error);
  b.on_success(t0 + 6s, 1ms);
  CAF_CHECK(b.state() == closed);
  b.on_failure(t0 + 9500ms, server_error);
  CAF_CHECK(b.state() == open);
  CAF_CHECK(is(b.take_transition(), closed, open, t0 + 9500ms));
}

CAF_TEST(the time window forgets old failures) {
  auto s = rate_settings(0, 4, 0.5);
  s.window = breaker_settings::window_kind::time;
  s.window_duration = 10s;
  circuit_breaker b{s};
  b.on_failure(t0, server_error);
  b.on_failure(t0, server_error);
  // 11 s later both failures have left the window: 1 of 4 fails, not 3 of 6.
  b.on_success(t0 + 11s, 1ms);
  b.on_success(t0 + 11s, 1ms);
  b.on_failure(t0 + 11s, server_error);
  CAF_CHECK(b.state() == closed);
  b.on_success(t0 + 11s, 1ms);
  CAF_CHECK(b.state() == closed);
  // Within the window the same failures still count: 2 of 4.
  circuit_breaker c{s};
  c.on_failure(t0, server_error);
  c.on_failure(t0, server_error);
  c.on_success(t0 + 9s, 1ms);
  c.on_success(t0 + 9s, 1ms);
  CAF_CHECK(c.state() == open);
}

CAF_TEST(slow call rate opens the breaker) {
  auto s = rate_settings(4, 4, 0);
  s.slow_call_rate = 0.5;
  s.slow_call_duration = 2s;
  circuit_breaker b{s};
  // Exactly the slow duration is not slow: 1 slow of 4.
  b.on_success(t0, 3s);
  b.on_success(t0, 1s);
  b.on_success(t0, 2s);
  b.on_success(t0, 1s);
  CAF_CHECK(b.state() == closed);
  // Window [1s 2s 1s 3s]: still 1 of 4 after the first slow one left.
  b.on_success(t0, 3s);
  CAF_CHECK(b.state() == closed);
  // Window [2s 1s 3s 2.5s]: 2 of 4.
  b.on_success(t0 + 1s, 2500ms);
  CAF_CHECK(b.state() == open);
  CAF_CHECK(is(b.take_transition(), closed, open, t0 + 1s));
}

CAF_TEST(forced open rejects until reset) {
  circuit_breaker b{consecutive_settings()};
  b.force_open(t0);
  CAF_CHECK(is(b.take_transition(), closed, breaker_state::forced_open, t0));
  CAF_CHECK(!b.allow(t0 + 1h));
  CAF_CHECK_EQUAL(b.retry_at(t0 + 1h), time_point::max());
  b.on_success(t0 + 1h, 1ms);
  CAF_CHECK(b.state() == breaker_state::forced_open);
  b.reset(t0 + 2h);
  CAF_CHECK(
      is(b.take_transition(), breaker_state::forced_open, closed, t0 + 2h));
  CAF_CHECK(b.allow(t0 + 2h));
}

CAF_TEST(forced closed admits everything and records nothing) {
  circuit_breaker b{consecutive_settings()};
  b.on_failure(t0, server_error);
  b.on_failure(t0, server_error);
  b.force_closed(t0);
  CAF_CHECK(is(b.take_transition(), closed, breaker_state::forced_closed, t0));
  for (int i = 0; i < 10; ++i)
    b.on_failure(t0, server_error);
  CAF_CHECK(b.allow(t0));
  CAF_CHECK(b.state() == breaker_state::forced_closed);
  // Reset starts from a clean count: two failures leave it closed.
  b.reset(t0 + 1s);
  b.on_failure(t0 + 1s, server_error);
  b.on_failure(t0 + 1s, server_error);
  CAF_CHECK(b.state() == closed);
  b.on_failure(t0 + 1s, server_error);
  CAF_CHECK(b.state() == open);
}

CAF_TEST(reset closes an open breaker and resets the growth) {
  circuit_breaker b{consecutive_settings()};
  trip(b, t0);
  CAF_REQUIRE(b.allow(t0 + 5s));
  b.on_failure(t0 + 5s, server_error);
  CAF_CHECK_EQUAL(b.next_open_duration(), timespan{10s});
  b.reset(t0 + 6s);
  CAF_CHECK(b.state() == closed);
  CAF_CHECK_EQUAL(b.next_open_duration(), timespan{5s});
  CAF_CHECK(b.allow(t0 + 6s));
}
