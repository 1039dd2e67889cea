#include "driver.hpp"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <random>
#include <sys/prctl.h>
#include <thread>
#include <unordered_map>

namespace switchyard::load {

namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

/// The requests that were sent and have not ended, with their times. Shared
/// with the targets' callbacks, which may outlive the run: whichever of the
/// callback and the drain takes an entry out records it, once.
struct pending_set {
  struct times {
    time_point scheduled;
    time_point sent;
  };
  std::mutex mtx;
  std::condition_variable cv;
  std::unordered_map<uint64_t, times> calls;
  /// Set when the run gave up on the rest: late callbacks are dropped.
  bool closed = false;
  /// Callbacks between `take` and `recorded`: the run waits for them before
  /// it returns (the recorder may go with it, and the summary must hold
  /// every answer that was taken).
  size_t recording = 0;

  void add(uint64_t n, time_point scheduled, time_point sent) {
    std::lock_guard guard{mtx};
    calls.emplace(n, times{scheduled, sent});
  }

  std::optional<times> take(uint64_t n) {
    std::lock_guard guard{mtx};
    auto i = calls.find(n);
    if (closed || i == calls.end())
      return std::nullopt;
    auto out = i->second;
    calls.erase(i);
    ++recording;
    cv.notify_all();
    return out;
  }

  /// Ends what `take` began.
  void recorded() {
    std::lock_guard guard{mtx};
    --recording;
    cv.notify_all();
  }

  size_t size() {
    std::lock_guard guard{mtx};
    return calls.size();
  }
};

/// How often at most the open-loop sender wakes up. At high rates a sleep
/// per request cost more CPU than the sends (20,000 nanosleeps a second: a
/// quarter of the driver's profile against the mock); waking at most every
/// 200 us and sending what came due meanwhile keeps the added lateness
/// below 0.2 ms, counted in the reported scheduling error like any other.
constexpr auto min_wake_gap = microseconds{200};

/// Waits until `t` (returns at once when it is past), but wakes no sooner
/// than `min_wake_gap` after the previous wake-up (`last_wake`, updated).
/// The sender never spins: on 2 cores a spinning sender took a whole core
/// from the target's I/O thread and the upstream, and on a busy machine a
/// spinner that used up its time slice is preempted for milliseconds, while
/// a thread that sleeps is woken ahead of CPU-bound ones. With the thread's
/// timer slack at 1 us (`precise_sleeps`) the wake-up is late by the
/// scheduler's wake-up latency (tens of us on an idle machine); requests
/// that came due meanwhile are sent back to back.
void wait_until(time_point t, time_point& last_wake) {
  if (clock_type::now() >= t)
    return;
  std::this_thread::sleep_until(std::max(t, last_wake + min_wake_gap));
  last_wake = clock_type::now();
}

/// Makes the calling thread's timed sleeps precise while it lives: Linux
/// lets a sleep end up to the thread's timer slack (50 us by default) late,
/// to merge wake-ups. Best effort; the old slack comes back at the end.
class precise_sleeps {
public:
  precise_sleeps() {
    auto old = prctl(PR_GET_TIMERSLACK, 0UL, 0UL, 0UL, 0UL);
    if (old > 0 && prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL) == 0)
      old_ = static_cast<unsigned long>(old);
  }
  ~precise_sleeps() {
    if (old_ != 0)
      prctl(PR_SET_TIMERSLACK, old_, 0UL, 0UL, 0UL);
  }
  precise_sleeps(const precise_sleeps&) = delete;
  precise_sleeps& operator=(const precise_sleeps&) = delete;

private:
  unsigned long old_ = 0;
};

/// Prints a progress line per second until `done`.
class progress_printer {
public:
  progress_printer(recorder& rec, const load_plan& plan, pending_set& pending)
      : rec_(rec), plan_(plan), pending_(pending) {
    if (plan.live)
      thread_ = std::thread{[this] { loop(); }};
  }

  ~progress_printer() {
    finish();
  }

  void finish() {
    {
      std::lock_guard guard{mtx_};
      done_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) {
      thread_.join();
      if (plan_.tty)
        std::fputc('\n', stdout);
    }
  }

private:
  void loop() {
    auto last = clock_type::now();
    uint64_t errors = 0;
    std::unique_lock lock{mtx_};
    while (!cv_.wait_for(lock, std::chrono::seconds{1},
                         [this] { return done_; })) {
      auto now = clock_type::now();
      auto tick = rec_.take_tick();
      errors += tick.errors;
      auto line = progress_line(now - rec_.start(), tick, now - last,
                                pending_.size(), errors, plan_.deployments);
      last = now;
      if (plan_.tty)
        std::printf("\r\033[K%s", line.c_str());
      else
        std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    }
  }

  recorder& rec_;
  const load_plan& plan_;
  pending_set& pending_;
  std::mutex mtx_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

/// Builds the callback of request `n`: takes it out of `pending` and
/// records it. Optionally tells the closed loop its slot is free.
result_callback make_done(uint64_t n, std::shared_ptr<pending_set> pending,
                          recorder& rec) {
  return [n, pending = std::move(pending), &rec](request_result res) {
    auto now = clock_type::now();
    if (auto t = pending->take(n)) {
      rec.record(t->scheduled, t->sent, now, res);
      pending->recorded();
    }
  };
}

const std::string& prompt_of(const load_plan& plan, uint64_t n) {
  return plan.prompts[n % plan.prompts.size()];
}

} // namespace

std::vector<timespan> make_schedule(double rate, timespan span, bool poisson,
                                    uint64_t seed) {
  std::vector<timespan> out;
  auto secs = std::chrono::duration<double>(span).count();
  out.reserve(static_cast<size_t>(rate * secs * 1.1) + 16);
  if (!poisson) {
    auto n = static_cast<uint64_t>(std::llround(rate * secs));
    for (uint64_t i = 0; i < n; ++i)
      out.push_back(std::chrono::duration_cast<timespan>(
          std::chrono::duration<double>(static_cast<double>(i) / rate)));
    return out;
  }
  std::mt19937_64 rng{seed};
  std::exponential_distribution<double> gap{rate};
  for (double t = gap(rng); t < secs; t += gap(rng))
    out.push_back(
        std::chrono::duration_cast<timespan>(std::chrono::duration<double>(t)));
  return out;
}

run_summary run_load(target& tgt, recorder& rec, const load_plan& plan,
                     const std::atomic<bool>& stop) {
  run_summary sum;
  auto pending = std::make_shared<pending_set>();
  auto start = rec.start();
  auto end = start + plan.warmup + plan.duration;
  log_histogram lateness;
  std::vector<timespan> schedule;
  if (plan.rate > 0)
    schedule = make_schedule(plan.rate, plan.warmup + plan.duration,
                             plan.poisson, plan.seed);
  progress_printer progress{rec, plan, *pending};
  precise_sleeps precise;
  if (plan.rate > 0) {
    time_point last_wake{};
    for (uint64_t n = 0; n < schedule.size() && !stop; ++n) {
      auto at = start + schedule[n];
      wait_until(at, last_wake);
      auto now = clock_type::now();
      lateness.record(to_us(now - at));
      pending->add(n, at, now);
      tgt.send(n, prompt_of(plan, n), make_done(n, pending, rec));
      ++sum.sent;
    }
  } else {
    time_point last_wake{};
    wait_until(start, last_wake);
    uint64_t n = 0;
    while (!stop && clock_type::now() < end) {
      {
        std::unique_lock lock{pending->mtx};
        pending->cv.wait_until(lock, end, [&] {
          return pending->calls.size() < plan.concurrency || stop;
        });
        if (pending->calls.size() >= plan.concurrency)
          continue;
      }
      auto now = clock_type::now();
      if (now >= end)
        break;
      pending->add(n, now, now);
      tgt.send(n, prompt_of(plan, n), make_done(n, pending, rec));
      ++sum.sent;
      ++n;
    }
  }
  sum.interrupted = stop;
  // Drain: wait for the running requests, then count the rest as unfinished
  // with the latency they had reached (a stall is never hidden).
  {
    std::unique_lock lock{pending->mtx};
    pending->cv.wait_until(lock, clock_type::now() + plan.drain, [&] {
      return (pending->calls.empty() && pending->recording == 0) || stop;
    });
    auto now = clock_type::now();
    request_result res;
    res.error = "unfinished";
    for (auto& [n, t] : pending->calls)
      rec.record(t.scheduled, t.sent, now, res);
    sum.unfinished = pending->calls.size();
    pending->calls.clear();
    pending->closed = true;
    // An answer taken just before the close is being recorded: it counts.
    pending->cv.wait(lock, [&] { return pending->recording == 0; });
  }
  progress.finish();
  sum.elapsed = clock_type::now() - start;
  rec.send_lateness = lateness;
  return sum;
}

std::string progress_line(timespan elapsed, const tick_stats& tick,
                          timespan tick_len, uint64_t in_flight,
                          uint64_t errors_total,
                          const std::vector<std::string>& deployments) {
  auto secs = std::chrono::duration<double>(tick_len).count();
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "%6.1fs  %8.1f req/s  in flight %5llu  errors %6llu  "
                "p50 %8.1f ms  p99 %8.1f ms",
                std::chrono::duration<double>(elapsed).count(),
                secs > 0 ? static_cast<double>(tick.completed) / secs : 0.0,
                static_cast<unsigned long long>(in_flight),
                static_cast<unsigned long long>(errors_total),
                static_cast<double>(tick.latency.quantile(0.5)) / 1000,
                static_cast<double>(tick.latency.quantile(0.99)) / 1000);
  std::string line = buf;
  uint64_t answers = 0;
  for (const auto& [d, c] : tick.by_deployment)
    answers += c;
  auto share = [&](const std::string& d, uint64_t c) {
    std::snprintf(buf, sizeof(buf), "  %s %.0f%%", d.c_str(),
                  answers ? 100.0 * static_cast<double>(c) / answers : 0.0);
    line += buf;
  };
  for (const auto& d : deployments) {
    auto i = tick.by_deployment.find(d);
    share(d, i == tick.by_deployment.end() ? 0 : i->second);
  }
  for (const auto& [d, c] : tick.by_deployment)
    if (std::find(deployments.begin(), deployments.end(), d)
        == deployments.end())
      share(d, c);
  return line;
}

} // namespace switchyard::load
