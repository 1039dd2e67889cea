// bench-thread_wakeup: what one hand-off to a sleeping thread costs on this
// machine, the floor under every thread hop of a request. Two threads pass
// a token back and forth through a mutex and condition variable, the way
// CAF's workers and Asio's loops are woken; the measuring thread pauses
// between round trips (spinning, --gap-us) so that the other one is asleep
// each time, as it is between the requests of one connection. Then the
// same with the other thread spinning instead of sleeping: the cost of the
// hand-off itself without the wake-up.
//
// Usage: bench-thread_wakeup [--rounds 20000] [--gap-us 200]
#include "measure.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

using namespace switchyard;
using namespace switchyard::bench;

namespace {

/// A one-slot mailbox whose reader sleeps until it is filled.
class sleeping_slot {
public:
  void put() {
    {
      std::lock_guard guard{mtx_};
      full_ = true;
    }
    cv_.notify_one();
  }

  void take() {
    std::unique_lock guard{mtx_};
    cv_.wait(guard, [this] { return full_; });
    full_ = false;
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  bool full_ = false;
};

/// A one-slot mailbox whose reader spins.
class spinning_slot {
public:
  void put() {
    full_.store(true, std::memory_order_release);
  }

  void take() {
    while (!full_.exchange(false, std::memory_order_acquire)) {
      // spin
    }
  }

private:
  std::atomic<bool> full_{false};
};

void pause_for(std::chrono::microseconds gap) {
  auto until = clock_type::now() + gap;
  while (clock_type::now() < until) {
    // spin: this thread stays awake, the other one falls asleep
  }
}

/// Round trips (two hand-offs each), sorted.
template <class Slot>
std::vector<timespan> ping_pong(size_t rounds, std::chrono::microseconds gap) {
  Slot there;
  Slot back;
  std::thread echo{[&] {
    for (size_t i = 0; i < rounds; ++i) {
      there.take();
      back.put();
    }
  }};
  std::vector<timespan> out;
  out.reserve(rounds);
  for (size_t i = 0; i < rounds; ++i) {
    auto t0 = clock_type::now();
    there.put();
    back.take();
    out.push_back(clock_type::now() - t0);
    pause_for(gap);
  }
  echo.join();
  std::sort(out.begin(), out.end());
  return out;
}

void print(const char* name, const std::vector<timespan>& rt) {
  std::printf("  %-28s round trip p50 %7.1f us  p90 %7.1f us  p99 %7.1f us"
              "  -> one hand-off p50 %6.1f us\n",
              name, us(quantile(rt, 0.5)), us(quantile(rt, 0.9)),
              us(quantile(rt, 0.99)), us(quantile(rt, 0.5)) / 2);
}

} // namespace

int main(int argc, char** argv) {
  size_t rounds = 20000;
  int gap_us = 200;
  CLI::App app{"bench-thread_wakeup: the cost of waking a sleeping thread"};
  app.add_option("--rounds", rounds, "round trips per variant")
      ->check(CLI::Range(size_t{100}, size_t{10000000}));
  app.add_option("--gap-us", gap_us, "pause between round trips (us)")
      ->check(CLI::Range(0, 1000000));
  CLI11_PARSE(app, argc, argv);
  std::chrono::microseconds gap{gap_us};
  std::printf("thread_wakeup: %zu round trips, %d us apart, %u cores\n", rounds,
              gap_us, std::thread::hardware_concurrency());
  print("to a sleeping thread", ping_pong<sleeping_slot>(rounds, gap));
  print("to a spinning thread", ping_pong<spinning_slot>(rounds, gap));
  return 0;
}
