// The load driver alone: the highest open-loop rate it sends with a
// scheduling error (how late each send was) of p99 <= 1 ms, against an
// in-process upstream that answers after 1 ms on a timer thread, and
// against switchyard-mock over loopback HTTP (libcurl multi, the transport
// of --target). Each rate runs 3 s; rates double until the driver no longer
// keeps up (achieved < 98 % of the target, or < 99 % answered). Reports the
// highest rate whose sends were late by at most 1 ms at p99 (every lower
// rate too), and the highest rate sustained at all. On a busy machine the
// scheduler's preemptions alone exceed 1 ms; run it on an idle one. Prints
// numbers; never passes or fails.
#include "driver.hpp"
#include "mock_process.hpp"
#include "recorder.hpp"
#include "target.hpp"

#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>

#include <curl/curl.h>

namespace {

using namespace switchyard;
using namespace switchyard::load;

struct step {
  double rate;
  double achieved;
  double p99_ms;
  double max_ms;
  double answered;
};

step run_step(target& tgt, double rate) {
  load_plan plan;
  plan.rate = rate;
  plan.duration = std::chrono::seconds{3};
  plan.warmup = std::chrono::milliseconds{500};
  plan.drain = std::chrono::seconds{5};
  plan.prompts = {"Why keep a fallback provider?"};
  recorder rec{clock_type::now() + std::chrono::milliseconds{20}, plan.warmup,
               plan.duration};
  std::atomic<bool> stop{false};
  run_load(tgt, rec, plan, stop);
  return {rate, rec.achieved_rate(),
          static_cast<double>(rec.send_lateness.quantile(0.99)) / 1000,
          static_cast<double>(rec.send_lateness.max()) / 1000,
          rec.requests ? static_cast<double>(rec.ok) / rec.requests : 0};
}

void sweep(const char* name,
           const std::function<std::unique_ptr<target>()>& make, double from,
           double to) {
  std::printf("\n%s\n%10s %10s %14s %12s %9s\n", name, "rate", "achieved",
              "sched p99 ms", "sched max", "answered");
  double best = 0;
  double sustained = 0;
  for (double rate = from; rate <= to; rate *= 2) {
    auto tgt = make();
    auto s = run_step(*tgt, rate);
    tgt->stop();
    std::printf("%10.0f %10.0f %14.3f %12.3f %8.2f%%\n", s.rate, s.achieved,
                s.p99_ms, s.max_ms, 100 * s.answered);
    std::fflush(stdout);
    if (s.answered < 0.99 || s.achieved < 0.98 * rate)
      break;
    sustained = rate;
    if (s.p99_ms <= 1.0 && best == rate / 2)
      best = rate;
    else if (s.p99_ms <= 1.0 && rate == from)
      best = rate;
  }
  std::printf("%s: highest rate with scheduling p99 <= 1 ms: %.0f req/s; "
              "highest rate sustained (>= 98 %% achieved, >= 99 %% "
              "answered): %.0f req/s\n",
              name, best, sustained);
}

} // namespace

int main() {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  sweep(
      "in-process upstream (answers after 1 ms)",
      [] { return make_null_target(std::chrono::milliseconds{1}); }, 1250,
      320000);
  auto mock = bench::start_mock({"--threads", "2"});
  if (!mock) {
    std::printf("cannot start switchyard-mock next to this program\n");
    return 0;
  }
  auto url = "http://127.0.0.1:" + std::to_string(mock->port) + "/v1";
  sweep(
      "switchyard-mock over loopback HTTP",
      [&] {
        return make_http_target(url, "gpt-4o-mini", false,
                                std::chrono::seconds{10});
      },
      1250, 160000);
  bench::stop_mock(*mock);
  return 0;
}
