#define CAF_SUITE policy_backoff
#include "support_random.hpp"
#include "switchyard/policy/backoff.hpp"

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using switchyard::test::replay_random;

namespace {

backoff_settings make(jitter_kind jitter, timespan cap = 10s) {
  backoff_settings s;
  s.base = 100ms;
  s.cap = cap;
  s.factor = 2;
  s.jitter = jitter;
  s.max_retry_after = 60s;
  return s;
}

} // namespace

CAF_TEST(exponential delays grow by the factor up to the cap) {
  backoff b{make(jitter_kind::none)};
  replay_random rng{0.5};
  CAF_CHECK_EQUAL(b.next_delay(0, rng), timespan{100ms});
  CAF_CHECK_EQUAL(b.next_delay(1, rng), timespan{200ms});
  CAF_CHECK_EQUAL(b.next_delay(3, rng), timespan{800ms});
  CAF_CHECK_EQUAL(b.next_delay(6, rng), timespan{6400ms});
  CAF_CHECK_EQUAL(b.next_delay(7, rng), timespan{10s});
  CAF_CHECK_EQUAL(b.next_delay(5000, rng), timespan{10s});
  CAF_CHECK_EQUAL(rng.draws(), 0u);
}

CAF_TEST(full jitter scales the exponential delay by a uniform draw) {
  backoff b{make(jitter_kind::full)};
  replay_random rng{0.5, 0.25, 0.0, 0.75};
  CAF_CHECK_EQUAL(b.next_delay(0, rng), timespan{50ms});
  CAF_CHECK_EQUAL(b.next_delay(1, rng), timespan{50ms});
  CAF_CHECK_EQUAL(b.next_delay(2, rng), timespan{0});
  CAF_CHECK_EQUAL(b.next_delay(10, rng), timespan{7500ms});
  CAF_CHECK_EQUAL(rng.draws(), 4u);
}

CAF_TEST(decorrelated jitter draws between base and three times the last) {
  backoff b{make(jitter_kind::decorrelated, 1s)};
  replay_random rng{0.5, 0.5, 0.75, 0.75, 0.5};
  // [100, 300) at 0.5 -> 200; [100, 600) -> 350; [100, 1050) at 0.75 ->
  // 812.5; [100, 2437.5) at 0.75 -> 1853.125, capped to 1 s.
  CAF_CHECK_EQUAL(b.next_delay(0, rng), timespan{200ms});
  CAF_CHECK_EQUAL(b.next_delay(1, rng), timespan{350ms});
  CAF_CHECK_EQUAL(b.next_delay(2, rng), timespan{812500us});
  CAF_CHECK_EQUAL(b.next_delay(3, rng), timespan{1s});
  // Attempt 0 starts a new sequence from the base.
  CAF_CHECK_EQUAL(b.next_delay(0, rng), timespan{200ms});
}

CAF_TEST(the server hint wins when honoured and it fits) {
  backoff b{make(jitter_kind::none)};
  replay_random rng{0.5};
  auto w = b.wait_before_retry(timespan{2s}, 5s, 0, rng);
  CAF_REQUIRE(w.has_value());
  CAF_CHECK_EQUAL(w->delay, timespan{2s});
  CAF_CHECK(w->from_hint);
  // A hint that ends at the deadline leaves no time: back off instead.
  w = b.wait_before_retry(timespan{2s}, 2s, 1, rng);
  CAF_REQUIRE(w.has_value());
  CAF_CHECK_EQUAL(w->delay, timespan{200ms});
  CAF_CHECK(!w->from_hint);
  // A hint above max_retry_after is not honoured.
  w = b.wait_before_retry(timespan{90s}, 10min, 0, rng);
  CAF_REQUIRE(w.has_value());
  CAF_CHECK_EQUAL(w->delay, timespan{100ms});
  CAF_CHECK(!w->from_hint);
}

CAF_TEST(hints are ignored when not honoured) {
  auto s = make(jitter_kind::none);
  s.honour_retry_after = false;
  backoff b{s};
  replay_random rng{0.5};
  auto w = b.wait_before_retry(timespan{1s}, 5s, 2, rng);
  CAF_REQUIRE(w.has_value());
  CAF_CHECK_EQUAL(w->delay, timespan{400ms});
  CAF_CHECK(!w->from_hint);
}

CAF_TEST(no wait fits when the backoff reaches the deadline) {
  backoff b{make(jitter_kind::none)};
  replay_random rng{0.5};
  CAF_CHECK(!b.wait_before_retry(std::nullopt, 100ms, 0, rng).has_value());
  CAF_CHECK(b.wait_before_retry(std::nullopt, 101ms, 0, rng).has_value());
  CAF_CHECK(!b.wait_before_retry(timespan{2s}, 100ms, 0, rng).has_value());
  CAF_CHECK(!b.wait_before_retry(std::nullopt, 0s, 0, rng).has_value());
}
