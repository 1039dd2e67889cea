#define CAF_SUITE policy_deadline
#include "switchyard/policy/deadline.hpp"

#include <caf/test/unit_test.hpp>

using namespace switchyard;

namespace {

const time_point t0{};

} // namespace

CAF_TEST(a deadline counts down to zero and expires at due) {
  deadline d{t0 + 1s, 10s};
  CAF_CHECK_EQUAL(d.start(), t0 + 1s);
  CAF_CHECK_EQUAL(d.due(), t0 + 11s);
  CAF_CHECK_EQUAL(d.remaining(t0 + 4s), timespan{7s});
  CAF_CHECK_EQUAL(d.elapsed(t0 + 4s), timespan{3s});
  CAF_CHECK(!d.expired(t0 + 11s - 1ns));
  CAF_CHECK_EQUAL(d.remaining(t0 + 11s - 1ns), timespan{1ns});
  CAF_CHECK(d.expired(t0 + 11s));
  CAF_CHECK_EQUAL(d.remaining(t0 + 11s), timespan{0});
  CAF_CHECK_EQUAL(d.remaining(t0 + 20s), timespan{0});
  auto e = deadline::between(t0, t0 + 3s);
  CAF_CHECK_EQUAL(e.remaining(t0 + 1s), timespan{2s});
}

CAF_TEST(the ladder gives each attempt its step clipped to what is left) {
  timeout_ladder ladder{{2s, 5s, 15s}};
  deadline d{t0, 10s};
  CAF_CHECK_EQUAL(ladder.timeout_for(0, t0, d), timespan{2s});
  CAF_CHECK_EQUAL(ladder.timeout_for(1, t0 + 2s, d), timespan{5s});
  // 15 s clipped to the 3 s left.
  CAF_CHECK_EQUAL(ladder.timeout_for(2, t0 + 7s, d), timespan{3s});
  // Beyond its end the ladder repeats its last step.
  deadline long_d{t0, 60s};
  CAF_CHECK_EQUAL(ladder.timeout_for(7, t0 + 10s, long_d), timespan{15s});
  CAF_CHECK_EQUAL(ladder.step(7), timespan{15s});
  // Nothing left: no attempt.
  CAF_CHECK(!ladder.timeout_for(0, t0 + 10s, d).has_value());
  CAF_CHECK_EQUAL(ladder.timeout_for(0, t0 + 10s - 1ms, d), timespan{1ms});
}

CAF_TEST(an empty ladder gives every attempt all that is left) {
  timeout_ladder ladder;
  deadline d{t0, 10s};
  CAF_CHECK(!ladder.step(0).has_value());
  CAF_CHECK_EQUAL(ladder.timeout_for(3, t0 + 4s, d), timespan{6s});
  CAF_CHECK(!ladder.timeout_for(3, t0 + 10s, d).has_value());
}
