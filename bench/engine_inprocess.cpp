// bench-engine_inprocess: the embedded engine's own cost. The upstream is an
// in-process fake http_client that answers every job from inside submit()
// (on the provider actor's thread) with a canned OpenAI chat completion, so
// everything measured is the engine: the call's state in its router shard,
// routing, breaker / limiter bookkeeping, building the request JSON,
// parsing the response JSON, four actor messages per call (start, call,
// transfer, result) and the callback.
//
// A fixed number of calls is kept in flight: each callback starts the next
// call. Prints calls/s, CPU µs per call (getrusage, user + system, all
// threads, over the measured window / calls) and the call latency.
//
// With --cache the route has a response cache and every request is the same
// (temperature 0): after the first call, every call is a cache hit, so the
// numbers are those of the hit path (key, lookup, copy of the answer, the
// hand-off to a courier actor and the callback); the upstream is not asked.
//
// Usage: bench-engine_inprocess [--seconds 5] [--in-flight 256]
//                               [--threads 2] [--events] [--deadline-ms N]
//                               [--cache] [--metrics] [--log FILE] [--log-level
//                               L]
// --metrics counts into a Prometheus registry (rendered once at the end);
// --log writes the JSON-lines event log to FILE (level info by default:
// every attempt and call). Compare their CPU per call with a run without.
#include "measure.hpp"
#include "switchyard/engine.hpp"
#include "switchyard/event_log.hpp"
#include "switchyard/metrics.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <sys/resource.h>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <curl/curl.h>

using namespace switchyard;
using namespace switchyard::bench;

namespace {

/// Answers every job at once, from the submitting thread.
class instant_client final : public http_client {
public:
  uint64_t submit(http_job, std::shared_ptr<transfer_sink> sink) override {
    transfer_result r;
    r.response.status = 200;
    r.response.headers = {{"content-type", "application/json"}};
    r.response.body = canned_body;
    sink->on_complete(std::move(r));
    return next_id_.fetch_add(1, std::memory_order_relaxed);
  }

  void cancel(uint64_t) override {
    // nop: every job is complete before submit returns
  }

private:
  std::atomic<uint64_t> next_id_{1};
};

/// Counts events without doing anything else (the cheapest real sink).
class counting_sink final : public event_sink {
public:
  void on_event(const engine_event&) override {
    events.fetch_add(1, std::memory_order_relaxed);
  }

  std::atomic<uint64_t> events{0};
};

std::string config_json(uint32_t threads, int64_t deadline_ms, bool cache) {
  std::string route = R"({"targets": ["fake-gpt"])";
  if (deadline_ms > 0)
    route += R"(, "deadline_ms": )" + std::to_string(deadline_ms)
             + R"(, "ladder_ms": [)" + std::to_string(deadline_ms) + "]";
  if (cache)
    route += R"(, "cache": {"enabled": true, "ttl_ms": 3600000})";
  route += "}";
  return R"({
    "providers": {"fake": {"kind": "openai_chat",
                           "base_url": "http://127.0.0.1:9"}},
    "deployments": {"fake-gpt": {"provider": "fake", "model": "gpt-4o-mini"}},
    "routes": {"chat": )"
         + route + R"(},
    "engine": {"threads": )"
         + std::to_string(threads) + "}}";
}

/// Peak resident memory of this process in MiB.
double max_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

/// Keeps `in_flight` calls running until told to stop; records latencies
/// while `recording` is set.
class driver {
public:
  driver(engine& eng, size_t in_flight, bool cache)
      : eng_(eng), in_flight_(in_flight) {
    request_ = make_request();
    if (cache)
      request_.temperature = 0.0;
  }

  uint64_t hits() const {
    return hits_.load();
  }

  void start() {
    for (size_t i = 0; i < in_flight_; ++i)
      launch();
  }

  /// Stops launching and waits (at most 10 s) for running calls.
  void stop() {
    stopping_ = true;
    for (int i = 0; i < 1000 && running_.load() > 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }

  void set_recording(bool on) {
    recording_ = on;
  }

  uint64_t completed() const {
    return completed_.load();
  }

  uint64_t failed() const {
    return failed_.load();
  }

  std::vector<timespan> take_latencies() {
    std::vector<timespan> all;
    std::lock_guard guard{mtx_};
    all.swap(latencies_);
    return all;
  }

private:
  void launch() {
    running_.fetch_add(1);
    auto begun = clock_type::now();
    eng_.complete(request_, call_options{}, [this, begun](call_result r) {
      auto now = clock_type::now();
      if (!r)
        failed_.fetch_add(1, std::memory_order_relaxed);
      else if (r->cache == cache_outcome::hit)
        hits_.fetch_add(1, std::memory_order_relaxed);
      completed_.fetch_add(1, std::memory_order_relaxed);
      if (recording_.load(std::memory_order_relaxed)) {
        std::lock_guard guard{mtx_};
        latencies_.push_back(now - begun);
      }
      if (!stopping_.load(std::memory_order_relaxed))
        launch();
      running_.fetch_sub(1);
    });
  }

  engine& eng_;
  size_t in_flight_;
  chat_request request_;
  std::atomic<uint64_t> hits_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> recording_{false};
  std::atomic<int64_t> running_{0};
  std::atomic<uint64_t> completed_{0};
  std::atomic<uint64_t> failed_{0};
  std::mutex mtx_;
  std::vector<timespan> latencies_;
};

} // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  size_t in_flight = 256;
  uint32_t threads = 2;
  bool events = false;
  int64_t deadline_ms = 0;
  bool cache = false;
  bool metrics = false;
  std::string log_file;
  std::string level_name = "info";
  CLI::App app{"bench-engine_inprocess: engine cost with an instant upstream"};
  app.add_option("--seconds", seconds, "measured time")
      ->check(CLI::Range(0.1, 600.0));
  app.add_option("--in-flight", in_flight, "calls in flight")
      ->check(CLI::Range(1, 100000));
  app.add_option("--threads", threads, "engine worker threads")
      ->check(CLI::Range(1, 256));
  app.add_flag("--events", events, "attach a counting event sink");
  app.add_option("--deadline-ms", deadline_ms,
                 "route deadline (0: the default, 60 s)")
      ->check(CLI::Range(int64_t{0}, int64_t{86400000}));
  app.add_flag("--cache", cache,
               "cache the answers (every call after the first is a hit)");
  app.add_flag("--metrics", metrics, "count into a Prometheus registry");
  app.add_option("--log", log_file, "write the JSON-lines event log here");
  app.add_option("--log-level", level_name, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  CLI11_PARSE(app, argc, argv);
  curl_global_init(CURL_GLOBAL_DEFAULT);

  engine_options opts;
  opts.client = std::make_shared<instant_client>();
  auto sink = std::make_shared<counting_sink>();
  if (events)
    opts.events = sink;
  opts.seed = 1;
  std::shared_ptr<metric_registry> registry;
  if (metrics)
    opts.metrics = registry = std::make_shared<metric_registry>();
  if (!log_file.empty()) {
    log_settings ls;
    ls.enabled = true;
    ls.file = log_file;
    ls.level = level_name == "debug"   ? log_level::debug
               : level_name == "warn"  ? log_level::warn
               : level_name == "error" ? log_level::error
                                       : log_level::info;
    auto opened = log_sink::open(ls);
    if (!opened) {
      std::fprintf(stderr, "%s\n", opened.error().c_str());
      return 1;
    }
    opts.log = *opened;
  }
  auto created = engine::from_json(config_json(threads, deadline_ms, cache),
                                   std::move(opts));
  if (!created) {
    std::fprintf(stderr, "engine: %s\n", created.error().c_str());
    return 1;
  }
  auto& eng = **created;
  std::printf("engine_inprocess: %zu in flight, %u engine threads, %u cores, "
              "event sink %s, metrics %s, log %s, deadline %s, cache %s\n",
              in_flight, threads, std::thread::hardware_concurrency(),
              events ? "on" : "off", metrics ? "on" : "off",
              log_file.empty() ? "off"
                               : (log_file + " at " + level_name).c_str(),
              deadline_ms > 0 ? (std::to_string(deadline_ms) + " ms").c_str()
                              : "60 s (default)",
              cache ? "on" : "off");

  driver drv{eng, in_flight, cache};
  drv.start();
  std::this_thread::sleep_for(std::chrono::seconds{1}); // warm-up
  drv.set_recording(true);
  auto c0 = drv.completed();
  auto cpu0 = cpu_seconds();
  auto t0 = clock_type::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  auto c1 = drv.completed();
  auto cpu1 = cpu_seconds();
  auto t1 = clock_type::now();
  drv.set_recording(false);
  drv.stop();

  auto calls = static_cast<double>(c1 - c0);
  auto wall = std::chrono::duration<double>(t1 - t0).count();
  auto lat = drv.take_latencies();
  std::sort(lat.begin(), lat.end());
  std::printf("  calls            %.0f in %.2f s (failed overall: %llu)\n",
              calls, wall, static_cast<unsigned long long>(drv.failed()));
  std::printf("  throughput       %.0f calls/s\n", calls / wall);
  std::printf("  CPU per call     %.2f us (user+sys, all threads; %.2f cores "
              "busy)\n",
              (cpu1 - cpu0) * 1e6 / calls, (cpu1 - cpu0) / wall);
  std::printf("  latency          p50 %.0f us  p90 %.0f us  p99 %.0f us  "
              "max %.0f us\n",
              us(quantile(lat, 0.5)), us(quantile(lat, 0.9)),
              us(quantile(lat, 0.99)), lat.empty() ? 0.0 : us(lat.back()));
  std::printf("  peak RSS         %.0f MiB\n", max_rss_mib());
  if (cache)
    std::printf("  cache hits       %llu of %llu calls\n",
                static_cast<unsigned long long>(drv.hits()),
                static_cast<unsigned long long>(drv.completed()));
  if (events)
    std::printf("  events           %.1f per call\n",
                static_cast<double>(sink->events.load())
                    / static_cast<double>(drv.completed()));
  if (registry) {
    auto text = registry->render();
    std::printf("  metrics          %zu bytes rendered\n", text.size());
  }
  eng.shutdown(std::chrono::seconds{5});
  return 0;
}
