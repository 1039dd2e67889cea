#define CAF_SUITE policy_retry_budget
#include "switchyard/policy/retry_budget.hpp"

#include <caf/test/unit_test.hpp>

using namespace switchyard;

namespace {

const time_point t0{};

/// 20 % of requests plus a reserve of 0.5/s * 10 s = 5 retries.
retry_budget_settings make() {
  retry_budget_settings s;
  s.ratio = 0.2;
  s.min_retries_per_second = 0.5;
  s.window = 10s;
  return s;
}

} // namespace

CAF_TEST(without traffic only the reserve is available) {
  retry_budget b{make()};
  CAF_CHECK_EQUAL(b.available(t0), 5u);
  for (int i = 0; i < 5; ++i)
    CAF_CHECK(b.try_acquire_retry(t0));
  CAF_CHECK(!b.try_acquire_retry(t0));
  CAF_CHECK_EQUAL(b.available(t0), 0u);
  CAF_CHECK_EQUAL(b.retries(t0), 5u);
}

CAF_TEST(requests add their ratio to the budget) {
  retry_budget b{make()};
  for (int i = 0; i < 10; ++i)
    b.record_request(t0);
  CAF_CHECK_EQUAL(b.available(t0), 7u);
  for (int i = 0; i < 7; ++i)
    CAF_CHECK(b.try_acquire_retry(t0));
  CAF_CHECK(!b.try_acquire_retry(t0));
  // Retries do not count as requests.
  CAF_CHECK_EQUAL(b.requests(t0), 10u);
  // Five more requests later: 5 + 0.2 * 15 = 8, one more retry.
  for (int i = 0; i < 5; ++i)
    b.record_request(t0 + 5s);
  CAF_CHECK(b.try_acquire_retry(t0 + 5s));
  CAF_CHECK(!b.try_acquire_retry(t0 + 5s));
}

CAF_TEST(the budget recovers as the window slides) {
  retry_budget b{make()};
  for (int i = 0; i < 10; ++i)
    b.record_request(t0);
  for (int i = 0; i < 7; ++i)
    CAF_REQUIRE(b.try_acquire_retry(t0));
  for (int i = 0; i < 5; ++i)
    b.record_request(t0 + 5s);
  CAF_REQUIRE(b.try_acquire_retry(t0 + 5s));
  // 1 ns before the window passes t0's events, the budget is still spent.
  CAF_CHECK_EQUAL(b.available(t0 + 10s - 1ns), 0u);
  CAF_CHECK(!b.try_acquire_retry(t0 + 10s - 1ns));
  // Then only the 5 requests and 1 retry of t0 + 5 s remain: 6 - 1 = 5.
  CAF_CHECK_EQUAL(b.requests(t0 + 10s), 5u);
  CAF_CHECK_EQUAL(b.retries(t0 + 10s), 1u);
  CAF_CHECK_EQUAL(b.available(t0 + 10s), 5u);
  CAF_CHECK(b.try_acquire_retry(t0 + 10s));
  // Long after, everything has left the window.
  CAF_CHECK_EQUAL(b.requests(t0 + 1min), 0u);
  CAF_CHECK_EQUAL(b.available(t0 + 1min), 5u);
}
