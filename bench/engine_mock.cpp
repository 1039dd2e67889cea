// bench-engine_mock: the engine against a real switchyard-mock over loopback,
// compared with the bare transport (switchyard::transport) sending the same
// request bytes to the same mock. Both keep a fixed number of calls in
// flight (each completion starts the next). Prints, for each, calls/s, CPU
// µs per call of this process and the latency percentiles, and the CPU and
// context switches per call of each thread name (the transport's loop
// `sy-transport`, CAF's workers, ...); then what the engine adds (its JSON
// build + parse, actors, policies) over the transport.
//
// Usage: bench-engine_mock [--seconds 5] [--in-flight 64] [--threads 2]
// The mock is started from the directory of this binary and stopped by PID.
#include "measure.hpp"
#include "mock_process.hpp"
#include "switchyard/adapter.hpp"
#include "switchyard/config.hpp"
#include "switchyard/engine.hpp"
#include "switchyard/transport.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <optional>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <CLI/CLI.hpp>
#include <climits>
#include <curl/curl.h>

using namespace switchyard;
using namespace switchyard::bench;

namespace {

// -- measuring ----------------------------------------------------------------

/// What one phase measured.
struct phase_result {
  double calls_per_s = 0;
  double cpu_us_per_call = 0;
  uint64_t errors = 0;
  /// Calls measured, and the threads' usage at the window's ends.
  double calls = 0;
  thread_usages threads_before;
  thread_usages threads_after;
  std::vector<timespan> latencies;
};

/// Keeps `in_flight` operations running through `launch(done)`; `done(ok)`
/// must be called once per operation, from any thread.
class closed_loop {
public:
  using launcher = std::function<void(std::function<void(bool)>)>;

  closed_loop(launcher launch, size_t in_flight)
      : launch_(std::move(launch)), in_flight_(in_flight) {
    // nop
  }

  phase_result run(double warmup_s, double seconds) {
    for (size_t i = 0; i < in_flight_; ++i)
      next();
    std::this_thread::sleep_for(std::chrono::duration<double>(warmup_s));
    recording_ = true;
    auto c0 = completed_.load();
    auto threads0 = thread_usage_now();
    auto cpu0 = cpu_seconds();
    auto t0 = clock_type::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    auto c1 = completed_.load();
    auto cpu1 = cpu_seconds();
    auto t1 = clock_type::now();
    auto threads1 = thread_usage_now();
    recording_ = false;
    stopping_ = true;
    for (int i = 0; i < 3000 && running_.load() > 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    phase_result r;
    auto calls = static_cast<double>(c1 - c0);
    r.calls_per_s = calls / std::chrono::duration<double>(t1 - t0).count();
    r.cpu_us_per_call = (cpu1 - cpu0) * 1e6 / calls;
    r.calls = calls;
    r.threads_before = std::move(threads0);
    r.threads_after = std::move(threads1);
    r.errors = errors_.load();
    std::lock_guard guard{mtx_};
    r.latencies = std::move(latencies_);
    std::sort(r.latencies.begin(), r.latencies.end());
    return r;
  }

private:
  void next() {
    running_.fetch_add(1);
    auto begun = clock_type::now();
    launch_([this, begun](bool ok) {
      auto now = clock_type::now();
      if (!ok)
        errors_.fetch_add(1);
      completed_.fetch_add(1);
      if (recording_.load()) {
        std::lock_guard guard{mtx_};
        latencies_.push_back(now - begun);
      }
      if (!stopping_.load())
        next();
      running_.fetch_sub(1);
    });
  }

  launcher launch_;
  size_t in_flight_;
  std::atomic<bool> recording_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> running_{0};
  std::atomic<uint64_t> completed_{0};
  std::atomic<uint64_t> errors_{0};
  std::mutex mtx_;
  std::vector<timespan> latencies_;
};

/// Calls `done` when a bare transfer completes.
class callback_sink final : public transfer_sink {
public:
  explicit callback_sink(std::function<void(bool)> done)
      : done_(std::move(done)) {
    // nop
  }

  void on_head(int, const header_list&) override {
    // nop
  }

  void on_chunk(std::string_view) override {
    // nop
  }

  void on_complete(transfer_result r) override {
    done_(r.error == transport_error::none && r.response.status == 200);
  }

private:
  std::function<void(bool)> done_;
};

std::string config_json(int port, uint32_t threads) {
  return R"({
    "providers": {"mock": {"kind": "openai_chat",
                           "base_url": "http://127.0.0.1:)"
         + std::to_string(port) + R"("}},
    "deployments": {"mock-gpt": {"provider": "mock", "model": "gpt-4o-mini"}},
    "routes": {"chat": {"targets": ["mock-gpt"]}},
    "engine": {"threads": )"
         + std::to_string(threads) + "}}";
}

void print(const char* name, const phase_result& r) {
  std::printf("  %-10s %8.0f calls/s  %6.1f us CPU/call  latency p50 %6.0f "
              "us  p90 %6.0f us  p99 %6.0f us  errors %llu\n",
              name, r.calls_per_s, r.cpu_us_per_call,
              us(quantile(r.latencies, 0.5)), us(quantile(r.latencies, 0.9)),
              us(quantile(r.latencies, 0.99)),
              static_cast<unsigned long long>(r.errors));
  print_thread_usage(r.threads_before, r.threads_after, r.calls);
}

} // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  size_t in_flight = 64;
  uint32_t threads = 2;
  CLI::App app{"bench-engine_mock: engine vs bare transport against the mock"};
  app.add_option("--seconds", seconds, "measured time per phase")
      ->check(CLI::Range(0.1, 600.0));
  app.add_option("--in-flight", in_flight, "calls in flight")
      ->check(CLI::Range(1, 10000));
  app.add_option("--threads", threads, "engine worker threads")
      ->check(CLI::Range(1, 256));
  CLI11_PARSE(app, argc, argv);
  curl_global_init(CURL_GLOBAL_DEFAULT);

  auto mock = start_mock();
  if (!mock)
    return 1;
  std::printf("engine_mock: mock pid %d on port %d, %zu in flight, %u engine "
              "threads, %u cores\n",
              static_cast<int>(mock->pid), mock->port, in_flight, threads,
              std::thread::hardware_concurrency());
  auto cfg = parse_config(config_json(mock->port, threads));
  if (!cfg) {
    std::fprintf(stderr, "config: %s\n", to_string(cfg.error()).c_str());
    stop_mock(*mock);
    return 1;
  }
  // The same bytes the engine sends, built once.
  const auto& dep = cfg->deployments.begin()->second;
  auto built = adapter_for(provider_kind::openai_chat)
                   .build_request(make_request(), dep.ep);
  if (!built) {
    std::fprintf(stderr, "build_request: %s\n",
                 to_string(built.error()).c_str());
    stop_mock(*mock);
    return 1;
  }
  http_job job;
  job.request = std::move(*built);
  job.timeouts.total = std::chrono::seconds{15};

  phase_result bare;
  {
    transport tr;
    closed_loop loop{
        [&](std::function<void(bool)> done) {
          tr.submit(job, std::make_shared<callback_sink>(std::move(done)));
        },
        in_flight};
    bare = loop.run(1.0, seconds);
  }
  phase_result eng_r;
  {
    auto created = engine::create(std::move(*cfg));
    if (!created) {
      std::fprintf(stderr, "engine: %s\n", created.error().c_str());
      stop_mock(*mock);
      return 1;
    }
    auto& eng = **created;
    closed_loop loop{[&](std::function<void(bool)> done) {
                       eng.complete(make_request(), call_options{},
                                    [done = std::move(done)](call_result r) {
                                      done(r.has_value());
                                    });
                     },
                     in_flight};
    eng_r = loop.run(1.0, seconds);
    eng.shutdown(std::chrono::seconds{5});
  }
  stop_mock(*mock);

  print("transport", bare);
  print("engine", eng_r);
  auto d = [&](double q) {
    return us(quantile(eng_r.latencies, q)) - us(quantile(bare.latencies, q));
  };
  std::printf("  engine adds: p50 %+.0f us, p99 %+.0f us, %+.1f us CPU per "
              "call, throughput x%.2f\n",
              d(0.5), d(0.99), eng_r.cpu_us_per_call - bare.cpu_us_per_call,
              eng_r.calls_per_s / bare.calls_per_s);
  return 0;
}
