#define CAF_SUITE policy_hedge
#include "switchyard/policy/hedge.hpp"

#include <caf/test/unit_test.hpp>

using namespace switchyard;

namespace {

hedge_settings make(std::optional<double> percentile) {
  hedge_settings s;
  s.enabled = true;
  s.delay = 500ms;
  s.percentile = percentile;
  s.min_samples = 10;
  s.max_attempts = 2;
  return s;
}

} // namespace

CAF_TEST(disabled hedging has no delay) {
  auto s = make(std::nullopt);
  s.enabled = false;
  hedge_policy h{s};
  CAF_CHECK(!h.hedge_delay().has_value());
  CAF_CHECK(!h.may_hedge(1));
}

CAF_TEST(a fixed delay ignores samples) {
  hedge_policy h{make(std::nullopt)};
  for (int i = 0; i < 50; ++i)
    h.record_latency(10ms);
  CAF_CHECK_EQUAL(h.hedge_delay(), timespan{500ms});
}

CAF_TEST(the percentile applies once enough samples were seen) {
  hedge_policy h{make(0.9)};
  // Latencies 10..100 ms, shuffled; nine are not enough.
  for (int ms : {70, 20, 100, 40, 10, 90, 30, 60, 80}) {
    h.record_latency(std::chrono::milliseconds{ms});
    CAF_CHECK_EQUAL(h.hedge_delay(), timespan{500ms});
  }
  h.record_latency(50ms);
  CAF_CHECK_EQUAL(h.samples(), 10u);
  // Nearest rank: ceil(0.9 * 10) = 9th smallest.
  CAF_CHECK_EQUAL(h.hedge_delay(), timespan{90ms});
  hedge_policy median{make(0.5)};
  for (int ms : {70, 20, 100, 40, 10, 90, 30, 60, 80, 50})
    median.record_latency(std::chrono::milliseconds{ms});
  CAF_CHECK_EQUAL(median.hedge_delay(), timespan{50ms});
}

CAF_TEST(the percentile looks only at recent samples) {
  hedge_policy h{make(0.9)};
  for (size_t i = 0; i < hedge_policy::sample_capacity; ++i)
    h.record_latency(1s);
  CAF_CHECK_EQUAL(h.hedge_delay(), timespan{1s});
  for (size_t i = 0; i < hedge_policy::sample_capacity - 1; ++i)
    h.record_latency(10ms);
  // One slow sample left of 256: p90 is fast.
  CAF_CHECK_EQUAL(h.hedge_delay(), timespan{10ms});
}

CAF_TEST(hedges stop at the attempt limit) {
  hedge_policy h{make(std::nullopt)};
  CAF_CHECK(h.may_hedge(1));
  CAF_CHECK(!h.may_hedge(2));
}
