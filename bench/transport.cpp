// bench-transport: the HTTP transport against a local switchyard-mock.
//
//   (a) N non-streaming requests, K in flight: req/s and CPU µs per request
//       of this process (user + system, all threads);
//   (b) C concurrent transfers held open by the mock (latency=1000 ms): all
//       must succeed; prints errors and the time the batch took.
//
// Usage: bench-transport [requests=20000] [in_flight=64] [concurrent=5000]
//                        [loops=0 (the transport's default)]
// The mock is started from the directory of this binary and stopped by PID.

#include "switchyard/transport.hpp"

#include "measure.hpp"
#include "mock_process.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <climits>
#include <curl/curl.h>

using namespace switchyard;
using namespace switchyard::bench;
using namespace std::chrono_literals;

namespace {

// -- measuring ----------------------------------------------------------------

void raise_fd_limit() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  std::printf("open files limit: %llu\n",
              static_cast<unsigned long long>(rl.rlim_cur));
}

/// Counts completions; optionally keeps a fixed number of jobs in flight by
/// submitting the next one from `on_complete` (on the transport thread).
class counting_sink : public transfer_sink {
public:
  counting_sink(transport& tr, http_job proto, size_t total)
      : tr_(tr), proto_(std::move(proto)), total_(total) {
    // nop
  }

  void on_head(int, const header_list&) override {
    // nop
  }

  void on_chunk(std::string_view) override {
    // nop
  }

  void on_complete(transfer_result r) override {
    if (r.error != transport_error::none || r.response.status != 200) {
      std::lock_guard<std::mutex> guard{mtx_};
      auto key = r.error != transport_error::none
                     ? std::string{to_string(r.error)} + ": " + r.detail
                     : "status " + std::to_string(r.response.status);
      ++error_kinds_[key];
      ++errors_;
    }
    if (submitted_.load() < total_ && refill_) {
      submitted_.fetch_add(1);
      tr_.submit(proto_, self_.lock());
    }
    if (done_.fetch_add(1) + 1 == total_) {
      std::lock_guard<std::mutex> guard{mtx_};
      cv_.notify_all();
    }
  }

  /// Submits `initial` jobs now; with `refill`, each completion submits the
  /// next until `total` were submitted.
  void start(std::shared_ptr<counting_sink> self, size_t initial, bool refill) {
    self_ = self;
    refill_ = refill;
    submitted_ = initial;
    for (size_t i = 0; i < initial; ++i)
      tr_.submit(proto_, self);
  }

  bool wait(std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> guard{mtx_};
    return cv_.wait_for(guard, timeout, [this] { return done_ == total_; });
  }

  size_t done() const {
    return done_.load();
  }

  size_t errors() {
    std::lock_guard<std::mutex> guard{mtx_};
    return errors_;
  }

  void print_errors() {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& [k, n] : error_kinds_)
      std::printf("    %zu × %s\n", n, k.c_str());
  }

private:
  transport& tr_;
  http_job proto_;
  size_t total_;
  bool refill_ = false;
  std::weak_ptr<counting_sink> self_;
  std::atomic<size_t> submitted_{0};
  std::atomic<size_t> done_{0};
  std::mutex mtx_;
  std::condition_variable cv_;
  size_t errors_ = 0;
  std::map<std::string, size_t> error_kinds_;
};

http_job chat_job(int port) {
  http_job job;
  job.request.url
      = "http://127.0.0.1:" + std::to_string(port) + "/v1/chat/completions";
  job.request.headers = {{"content-type", "application/json"},
                         {"authorization", "Bearer bench"}};
  job.request.body = R"({"model":"mock-1","messages":[)"
                     R"({"role":"user","content":"hello"}]})";
  job.timeouts.first_byte = 30s;
  job.timeouts.total = 60s;
  return job;
}

size_t arg(int argc, char** argv, int i, size_t fallback) {
  return argc > i ? std::strtoull(argv[i], nullptr, 10) : fallback;
}

} // namespace

int main(int argc, char** argv) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  auto requests = arg(argc, argv, 1, 20000);
  auto in_flight = arg(argc, argv, 2, 64);
  auto concurrent = arg(argc, argv, 3, 5000);
  auto loops = arg(argc, argv, 4, 0);
  raise_fd_limit();
  auto mock = start_mock();
  if (!mock)
    return EXIT_FAILURE;
  std::printf("mock pid %d on port %d\n", static_cast<int>(mock->pid),
              mock->port);
  int rc = EXIT_SUCCESS;
  {
    transport_config cfg;
    cfg.max_host_connections = static_cast<long>(concurrent + 256);
    cfg.loops = loops;
    transport tr{cfg};
    std::printf("%zu transport loop(s)\n", tr.loops());
    // (a) throughput at a fixed number in flight.
    {
      // Warm up the connections first.
      auto warm = std::make_shared<counting_sink>(tr, chat_job(mock->port),
                                                  in_flight * 4);
      warm->start(warm, in_flight, true);
      warm->wait(30s);
      auto sink
          = std::make_shared<counting_sink>(tr, chat_job(mock->port), requests);
      auto cpu0 = cpu_seconds();
      auto t0 = std::chrono::steady_clock::now();
      sink->start(sink, std::min(in_flight, requests), true);
      bool ok = sink->wait(300s);
      auto secs
          = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
                .count();
      auto cpu = cpu_seconds() - cpu0;
      std::printf("(a) %zu requests, %zu in flight: %s in %.2f s → %.0f req/s, "
                  "%.1f µs CPU per request, %zu errors\n",
                  requests, in_flight, ok ? "done" : "TIMED OUT", secs,
                  static_cast<double>(sink->done()) / secs,
                  cpu * 1e6 / static_cast<double>(sink->done()),
                  sink->errors());
      sink->print_errors();
      if (!ok || sink->errors() > 0)
        rc = EXIT_FAILURE;
    }
    // (b) many concurrent transfers.
    {
      auto job = chat_job(mock->port);
      job.request.headers.push_back({"x-mock-fault", "latency=1000"});
      auto sink = std::make_shared<counting_sink>(tr, job, concurrent);
      auto cpu0 = cpu_seconds();
      auto t0 = std::chrono::steady_clock::now();
      sink->start(sink, concurrent, false);
      size_t peak = 0;
      while (!sink->wait(0s)) {
        peak = std::max(peak, tr.in_flight());
        if (std::chrono::steady_clock::now() - t0 > 120s)
          break;
        std::this_thread::sleep_for(20ms);
      }
      auto secs
          = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
                .count();
      auto cpu = cpu_seconds() - cpu0;
      std::printf("(b) %zu concurrent (latency=1000 ms): %zu done, %zu errors, "
                  "peak in flight %zu, %.2f s, %.1f µs CPU per request\n",
                  concurrent, sink->done(), sink->errors(), peak, secs,
                  cpu * 1e6 / static_cast<double>(concurrent));
      sink->print_errors();
      if (sink->done() != concurrent || sink->errors() > 0)
        rc = EXIT_FAILURE;
    }
  }
  stop_mock(*mock);
  curl_global_cleanup();
  return rc;
}
