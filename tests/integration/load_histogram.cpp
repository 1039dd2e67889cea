#define CAF_SUITE load_histogram
// The load driver's latency histogram and its recorder's achieved rate,
// alone. The integration binary does not link the driver, so this suite
// compiles their source files itself.
#include "../../apps/load/histogram.cpp"
#include "../../apps/load/recorder.cpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <caf/test/unit_test.hpp>

using switchyard::load::log_histogram;
using namespace std::chrono_literals;

namespace {

/// The value of rank ceil(q * n) in sorted `v`, as the histogram defines it.
uint64_t exact_quantile(const std::vector<uint64_t>& v, double q) {
  auto rank = std::max<size_t>(1, static_cast<size_t>(std::ceil(q * v.size())));
  return v[rank - 1];
}

} // namespace

CAF_TEST(buckets tile the range without gaps or overlaps) {
  for (size_t i = 0; i + 1 < log_histogram::bucket_count; ++i) {
    auto lo = log_histogram::lower_bound(i);
    auto hi = log_histogram::upper_bound(i);
    if (lo > hi || hi + 1 != log_histogram::lower_bound(i + 1)
        || log_histogram::index_of(lo) != i || log_histogram::index_of(hi) != i)
      CAF_FAIL("bucket " << i << " is [" << lo << ", " << hi << "]");
    // Bounded relative width: under 1/128 of the bucket's lower bound.
    if (lo >= 256)
      CAF_REQUIRE_LESS_OR_EQUAL(static_cast<double>(hi - lo + 1) / lo,
                                1.0 / 128);
  }
  CAF_CHECK_EQUAL(log_histogram::index_of(0), 0u);
  CAF_CHECK_EQUAL(log_histogram::index_of(255), 255u);
  CAF_CHECK_EQUAL(log_histogram::index_of(UINT64_MAX),
                  log_histogram::bucket_count - 1);
}

CAF_TEST(small values are exact) {
  log_histogram h;
  for (uint64_t v = 1; v <= 200; ++v)
    h.record(v);
  CAF_CHECK_EQUAL(h.quantile(0.5), 100u);
  CAF_CHECK_EQUAL(h.quantile(0.99), 198u);
  CAF_CHECK_EQUAL(h.quantile(1.0), 200u);
  CAF_CHECK_EQUAL(h.min(), 1u);
  CAF_CHECK_EQUAL(h.max(), 200u);
  CAF_CHECK_EQUAL(h.count(), 200u);
}

CAF_TEST(quantiles stay within 1 / 128 from microseconds to hours) {
  std::mt19937_64 rng{42};
  // Log-uniform over 1 µs .. 3 h: every octave gets values.
  std::uniform_real_distribution<double> exp10{0.0, 10.0};
  std::vector<uint64_t> values;
  log_histogram h;
  for (int i = 0; i < 100000; ++i) {
    auto v = static_cast<uint64_t>(std::pow(10.0, exp10(rng)));
    values.push_back(v);
    h.record(v);
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0}) {
    auto want = exact_quantile(values, q);
    auto got = h.quantile(q);
    auto err = std::fabs(static_cast<double>(got) - static_cast<double>(want))
               / static_cast<double>(std::max<uint64_t>(want, 1));
    CAF_MESSAGE("q " << q << ": exact " << want << ", histogram " << got);
    CAF_CHECK_LESS_OR_EQUAL(err, 1.0 / 128);
  }
  CAF_CHECK_EQUAL(h.max(), values.back());
}

CAF_TEST(merge adds counts and keeps the extremes) {
  log_histogram a;
  log_histogram b;
  a.record(10);
  a.record(5000);
  b.record(3);
  b.record(7000000);
  a.merge(b);
  CAF_CHECK_EQUAL(a.count(), 4u);
  CAF_CHECK_EQUAL(a.min(), 3u);
  CAF_CHECK_EQUAL(a.max(), 7000000u);
  CAF_CHECK_EQUAL(a.quantile(0.5), 10u);
  a.clear();
  CAF_CHECK_EQUAL(a.count(), 0u);
  CAF_CHECK_EQUAL(a.quantile(0.5), 0u);
}

CAF_TEST(the achieved rate counts measured requests over their answers) {
  using switchyard::load::recorder;
  using switchyard::load::request_result;
  auto t0 = switchyard::clock_type::now();
  request_result ok;
  ok.ok = true;
  // 400 requests scheduled over a 4 s window after 1 s of warmup, each
  // answered in 1 ms; 50 warmup requests answered late, inside the window.
  auto run = [&](switchyard::timespan last_answer_delay) {
    recorder rec{t0, 1s, 4s};
    for (int i = 0; i < 50; ++i)
      rec.record(t0 + 900ms, t0 + 900ms, t0 + 1500ms, ok);
    for (int i = 0; i < 400; ++i) {
      auto at = t0 + 1s + i * 10ms;
      auto done = i == 399 ? at + last_answer_delay : at + 1ms;
      rec.record(at, at, done, ok);
    }
    return rec.achieved_rate();
  };
  // The warmup backlog does not inflate the rate.
  CAF_CHECK_LESS(std::fabs(run(1ms) - 100.0), 1e-9);
  // The last answer 4.01 s late: 400 answers took 8 s.
  CAF_CHECK_LESS(std::fabs(run(4010ms) - 50.0), 1e-9);
}
