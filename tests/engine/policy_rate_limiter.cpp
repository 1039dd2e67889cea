#define CAF_SUITE policy_rate_limiter
#include "switchyard/policy/rate_limiter.hpp"

#include <caf/test/unit_test.hpp>

using namespace switchyard;

namespace {

const time_point t0{};

rate_limit_settings make(double rpm, double tpm) {
  rate_limit_settings s;
  s.requests_per_minute = rpm;
  s.tokens_per_minute = tpm;
  return s;
}

/// True when `x` is within 1 us after `y` (the refill rounds up).
bool near(time_point x, time_point y) {
  return x >= y && x - y <= 1us;
}

} // namespace

CAF_TEST(unlimited buckets grant everything) {
  rate_limiter l{make(0, 0), t0};
  for (int i = 0; i < 1000; ++i)
    CAF_CHECK(l.acquire(t0, 1'000'000).granted);
  CAF_CHECK(l.requests().unlimited());
  CAF_CHECK(l.tokens().unlimited());
}

CAF_TEST(the request bucket refills over time) {
  rate_limiter l{make(2, 0), t0};
  CAF_CHECK(l.acquire(t0, 0).granted);
  CAF_CHECK(l.acquire(t0, 0).granted);
  auto d = l.acquire(t0, 0);
  CAF_CHECK(!d.granted);
  // Two per minute: one back after 30 s.
  CAF_CHECK(near(d.ready_at, t0 + 30s));
  CAF_CHECK(!l.acquire(t0 + 29s, 0).granted);
  CAF_CHECK(l.acquire(d.ready_at, 0).granted);
  CAF_CHECK(!l.acquire(d.ready_at, 0).granted);
}

CAF_TEST(the token bucket waits for the estimated tokens) {
  rate_limiter l{make(60, 6000), t0};
  for (int i = 0; i < 6; ++i)
    CAF_CHECK(l.acquire(t0, 1000).granted);
  auto d = l.acquire(t0, 1000);
  CAF_CHECK(!d.granted);
  // 100 tokens per second: 1000 take 10 s; nothing was taken meanwhile.
  CAF_CHECK(near(d.ready_at, t0 + 10s));
  CAF_CHECK(near(l.acquire(t0 + 5s, 1000).ready_at, t0 + 10s));
  CAF_CHECK(l.acquire(d.ready_at, 1000).granted);
}

CAF_TEST(committing the actual usage corrects the estimate) {
  rate_limiter l{make(0, 6000), t0};
  CAF_REQUIRE(l.acquire(t0, 1000).granted);
  l.commit(t0, 1000, 3000);
  CAF_CHECK(l.tokens().level(t0) > 2999.0 && l.tokens().level(t0) < 3001.0);
  CAF_CHECK(l.acquire(t0, 3000).granted);
  // Empty: one token takes 10 ms.
  CAF_CHECK(near(l.acquire(t0, 1).ready_at, t0 + 10ms));
  // Over-estimates give tokens back, but never beyond the capacity.
  l.commit(t0, 3000, 0);
  l.commit(t0, 6000, 0);
  CAF_CHECK(l.tokens().level(t0) <= 6000.0);
  CAF_CHECK(l.acquire(t0, 6000).granted);
}

CAF_TEST(a call above the capacity waits for a full bucket) {
  rate_limiter l{make(0, 600), t0};
  CAF_CHECK(l.acquire(t0, 1000).granted);
  // Now 400 in debt: one token needs 401 at 10 per second.
  CAF_CHECK(near(l.acquire(t0, 1).ready_at, t0 + 40100ms));
}

CAF_TEST(headers lower the buckets and their reset sets the refill) {
  rate_limiter l{make(60, 0), t0};
  rate_limit_snapshot snap;
  snap.remaining_requests = 0;
  snap.reset_requests = 2s;
  l.observe(snap, t0);
  auto d = l.acquire(t0, 0);
  CAF_CHECK(!d.granted);
  // Full again at t0 + 2 s: 60 in 2 s, one per 33.3 ms.
  CAF_CHECK(near(d.ready_at, t0 + 33333334ns));
  CAF_CHECK(l.requests().level(t0 + 2s) > 59.99);
  for (int i = 0; i < 60; ++i)
    CAF_CHECK(l.acquire(t0 + 2s, 0).granted);
  // Once full, the configured rate (1 per second) applies again.
  CAF_CHECK(near(l.acquire(t0 + 2s, 0).ready_at, t0 + 3s));
}

CAF_TEST(headers never raise a bucket) {
  rate_limiter l{make(60, 0), t0};
  for (int i = 0; i < 50; ++i)
    CAF_REQUIRE(l.acquire(t0, 0).granted);
  rate_limit_snapshot snap;
  snap.remaining_requests = 59;
  snap.reset_requests = 1s;
  l.observe(snap, t0);
  CAF_CHECK(l.requests().level(t0) < 10.01);
  // The reset of a bucket that was not lowered keeps the configured rate
  // (else it would be full after 1 s).
  CAF_CHECK(l.requests().level(t0 + 1s) < 11.01);
}

CAF_TEST(an unlimited bucket adopts the provider limit) {
  rate_limiter l{make(0, 0), t0};
  rate_limit_snapshot snap;
  snap.remaining_tokens = 0;
  snap.limit_tokens = 1000;
  snap.reset_tokens = 6s;
  l.observe(snap, t0);
  CAF_CHECK_EQUAL(l.tokens().capacity(), 1000.0);
  auto d = l.acquire(t0, 500);
  CAF_CHECK(!d.granted);
  CAF_CHECK(near(d.ready_at, t0 + 3s));
}

CAF_TEST(an unlimited bucket without a limit blocks until the reset) {
  rate_limiter l{make(0, 0), t0};
  rate_limit_snapshot snap;
  snap.remaining_requests = 0;
  snap.reset_requests = 2s;
  l.observe(snap, t0);
  auto d = l.acquire(t0 + 1s, 0);
  CAF_CHECK(!d.granted);
  CAF_CHECK_EQUAL(d.ready_at, t0 + 2s);
  CAF_CHECK(l.acquire(t0 + 2s, 0).granted);
}

CAF_TEST(headers are ignored unless followed) {
  auto s = make(60, 0);
  s.follow_headers = false;
  rate_limiter l{s, t0};
  rate_limit_snapshot snap;
  snap.remaining_requests = 0;
  snap.reset_requests = 60s;
  l.observe(snap, t0);
  CAF_CHECK(l.acquire(t0, 0).granted);
}
