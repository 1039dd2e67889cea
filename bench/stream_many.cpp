// bench-stream_many: many concurrent streams through the engine against one
// switchyard-mock over loopback. Every stream is started at once (the engine
// API is asynchronous); the bench then waits, bounded by `--timeout-s`, for
// every stream's terminal event. Prints completed / errored streams (with the
// first error messages and a count per error code), streams whose events
// broke the API's promises (no start before content, a missing or second
// terminal event, fewer words than asked for), wall time, time to first
// token and to the end (p50 / p99), CPU and peak RSS of this process and of
// the mock, this process's busiest threads, and the mock's own counters.
// Raises RLIMIT_NOFILE to its hard limit first (one socket per stream).
//
// Usage: bench-stream_many [--streams 10000] [--words 20]
//                          [--chunk-delay-ms 50] [--threads 2]
//                          [--mock-threads 2] [--timeout-s 120]
//                          [--first-token-ms 60000] [--idle-ms 30000]
//                          [--max-host-connections 0 (= streams)]
//                          [--loops 0 (the transport's default)]
//                          [--transport-only] [--progress-ms 5000]
// --transport-only sends the same request bytes through the bare transport
// (decoded by `stream_attempt`, as the engine does) to compare RSS and CPU.
// The mock is started from the directory of this binary and stopped by PID.
#include "measure.hpp"
#include "mock_process.hpp"
#include "switchyard/adapter.hpp"
#include "switchyard/config.hpp"
#include "switchyard/engine.hpp"
#include "switchyard/stream.hpp"
#include "switchyard/transport.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <thread>
#include <variant>
#include <vector>

#include <CLI/CLI.hpp>
#include <curl/curl.h>

using namespace switchyard;
using namespace switchyard::bench;

namespace {

// -- the mock -----------------------------------------------------------------

/// Returns the value of `key` (e.g. "VmHWM:") in /proc/<pid>/status, in KiB.
long proc_status_kib(const std::string& pid, const char* key) {
  std::ifstream in{"/proc/" + pid + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0)
      return std::atol(line.c_str() + std::strlen(key));
  return -1;
}

/// Returns user + system CPU seconds from a /proc/.../stat file.
double stat_cpu_seconds(const std::string& path) {
  std::ifstream in{path};
  std::string all{std::istreambuf_iterator<char>{in}, {}};
  auto close_paren = all.rfind(')');
  if (close_paren == std::string::npos)
    return -1;
  std::istringstream rest{all.substr(close_paren + 2)};
  std::string field;
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  // Fields 3.. follow the command name; utime and stime are fields 14, 15.
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14)
      utime = std::stoull(field);
    if (i == 15)
      stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime)
         / static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// Returns user + system CPU seconds of process `pid`.
double proc_cpu_seconds(int pid) {
  return stat_cpu_seconds("/proc/" + std::to_string(pid) + "/stat");
}

/// Returns "name (tid) CPU s" for this process's busiest threads, which
/// shows whether one thread (the transport's) is the bottleneck.
std::string busiest_threads(size_t n) {
  std::vector<std::pair<double, std::string>> threads;
  for (auto& entry : std::filesystem::directory_iterator{"/proc/self/task"}) {
    auto dir = entry.path().string();
    std::ifstream comm{dir + "/comm"};
    std::string name;
    std::getline(comm, name);
    threads.emplace_back(stat_cpu_seconds(dir + "/stat"),
                         name + " (" + entry.path().filename().string() + ")");
  }
  std::sort(threads.rbegin(), threads.rend());
  std::string out;
  for (size_t i = 0; i < std::min(n, threads.size()); ++i) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), " %.2f s", threads[i].first);
    out += (i > 0 ? ", " : "") + threads[i].second + buf;
  }
  return out;
}

size_t append_body(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

/// Returns the mock's `/mock/stats` document (or an error text).
std::string mock_stats(int port) {
  std::string body;
  auto* h = curl_easy_init();
  auto url = "http://127.0.0.1:" + std::to_string(port) + "/mock/stats";
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &append_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
  auto rc = curl_easy_perform(h);
  curl_easy_cleanup(h);
  if (rc != CURLE_OK)
    return std::string{"(stats unavailable: "} + curl_easy_strerror(rc) + ")";
  return body;
}

// -- counting -----------------------------------------------------------------

/// What all streams reported so far.
struct tally {
  size_t expected_words = 0;
  std::atomic<uint64_t> terminated{0};
  std::atomic<uint64_t> completed{0};
  std::atomic<uint64_t> errored{0};
  std::atomic<uint64_t> first_tokens{0};
  /// Streams that finished with more than one attempt.
  std::atomic<uint64_t> retried{0};
  /// Broken promises of the stream API.
  std::atomic<uint64_t> content_before_start{0};
  std::atomic<uint64_t> after_terminal{0};
  std::atomic<uint64_t> short_answers{0};
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<std::string> first_errors;
  std::map<std::string, uint64_t> errors_by_code;
  std::vector<timespan> ttft;
  std::vector<timespan> total;
};

/// Counts one stream's events and checks their order.
class counting_sink final : public stream_sink {
public:
  counting_sink(tally& t, time_point begun) : tally_(t), begun_(begun) {
    // nop
  }

  bool on_event(stream_event ev) override {
    if (terminals_.load(std::memory_order_relaxed) > 0) {
      tally_.after_terminal.fetch_add(1);
      return true;
    }
    if (std::holds_alternative<stream_start>(ev)) {
      started_.store(true, std::memory_order_relaxed);
    } else if (std::holds_alternative<text_delta>(ev)) {
      if (!started_.load(std::memory_order_relaxed))
        tally_.content_before_start.fetch_add(1);
      if (deltas_.fetch_add(1, std::memory_order_relaxed) == 0) {
        first_ = clock_type::now();
        tally_.first_tokens.fetch_add(1);
      }
    } else if (auto* e = std::get_if<stream_end>(&ev)) {
      if (deltas_.load() < tally_.expected_words)
        tally_.short_answers.fetch_add(1);
      if (e->attempts.size() > 1)
        tally_.retried.fetch_add(1);
      terminate(true, nullptr);
    } else if (auto* e = std::get_if<stream_error>(&ev)) {
      terminate(false, &e->failure);
    }
    return true;
  }

  bool terminated() const {
    return terminals_.load() > 0;
  }

  bool started() const {
    return started_.load();
  }

  uint32_t deltas() const {
    return deltas_.load();
  }

private:
  void terminate(bool ok, const failure* f) {
    terminals_.fetch_add(1);
    auto now = clock_type::now();
    (ok ? tally_.completed : tally_.errored).fetch_add(1);
    {
      std::lock_guard guard{tally_.mtx};
      if (ok) {
        if (deltas_.load() > 0)
          tally_.ttft.push_back(first_ - begun_);
        tally_.total.push_back(now - begun_);
      } else {
        ++tally_.errors_by_code[std::string{to_string(f->cls)} + "/" + f->code];
        if (tally_.first_errors.size() < 5)
          tally_.first_errors.push_back(to_string(*f));
      }
      tally_.terminated.fetch_add(1);
    }
    tally_.cv.notify_all();
  }

  tally& tally_;
  time_point begun_;
  time_point first_;
  std::atomic<bool> started_{false};
  std::atomic<uint32_t> deltas_{0};
  std::atomic<uint32_t> terminals_{0};
};

/// Decodes a bare transfer with `stream_attempt`, as the engine's forwarder
/// does, and hands the events to a counting sink.
class transport_feed final : public transfer_sink {
public:
  transport_feed(std::shared_ptr<counting_sink> sink, const adapter& codec)
      : sink_(std::move(sink)), attempt_(codec) {
    // nop
  }

  void on_head(int, const header_list&) override {
    // nop
  }

  void on_chunk(std::string_view chunk) override {
    if (failed_)
      return;
    std::vector<stream_event> out;
    failed_ = attempt_.feed(chunk, out);
    for (auto& ev : out)
      sink_->on_event(std::move(ev));
  }

  void on_complete(transfer_result r) override {
    std::optional<failure> tf;
    if (r.error != transport_error::none)
      tf = classify_transport_error(r.error, std::move(r.detail));
    auto v = attempt_.finish(std::move(tf), r.response,
                             std::chrono::system_clock::now());
    if (v.failure)
      sink_->on_event(stream_error{std::move(*v.failure), {}});
    else
      sink_->on_event(stream_end{v.finish, v.finish_raw, v.usage, {}});
  }

private:
  std::shared_ptr<counting_sink> sink_;
  stream_attempt attempt_;
  std::optional<failure> failed_;
};

// -- setup --------------------------------------------------------------------

struct options {
  size_t streams = 10000;
  uint32_t words = 20;
  uint32_t chunk_delay_ms = 50;
  uint32_t threads = 2;
  uint32_t mock_threads = 2;
  uint32_t timeout_s = 120;
  uint32_t first_token_ms = 60000;
  uint32_t idle_ms = 30000;
  long max_host_connections = 0;
  uint32_t loops = 0;
  bool transport_only = false;
  uint32_t progress_ms = 5000;
};

std::string config_json(int port, const options& o) {
  auto n = [](auto x) { return std::to_string(x); };
  auto deadline_ms = o.timeout_s * 1000;
  auto hosts = o.max_host_connections > 0 ? o.max_host_connections
                                          : static_cast<long>(o.streams) + 16;
  return R"({
    "providers": {"mock": {"kind": "openai_chat",
                           "base_url": "http://127.0.0.1:)"
         + n(port) + R"(",
                           "headers": {"x-mock-words": ")"
         + n(o.words) + R"(", "x-mock-chunk-delay-ms": ")" + n(o.chunk_delay_ms)
         + R"("}}},
    "deployments": {"mock-gpt": {"provider": "mock", "model": "gpt-4o-mini"}},
    "routes": {"chat": {"targets": ["mock-gpt"],
                        "deadline_ms": )"
         + n(deadline_ms) + R"(,
                        "ladder_ms": [)"
         + n(std::min(o.first_token_ms, deadline_ms)) + R"(],
                        "stream": {"first_token_ms": [)"
         + n(std::min(o.first_token_ms, deadline_ms)) + R"(],
                                   "idle_ms": )"
         + n(o.idle_ms) + R"(}}},
    "engine": {"threads": )"
         + n(o.threads) + R"(, "transport": {"max_host_connections": )"
         + n(hosts) + R"(, "loops": )" + n(o.loops) + "}}}";
}

/// Raises the soft limit of open files to the hard limit; returns the soft
/// limit in effect.
rlim_t raise_nofile() {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);
  }
  return lim.rlim_cur;
}

long max_rss_kib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

} // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app{"bench-stream_many: many concurrent streams through the engine"};
  app.add_option("--streams", o.streams, "streams started at once")
      ->check(CLI::Range(1, 1'000'000));
  app.add_option("--words", o.words, "words per answer (one chunk each)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--chunk-delay-ms", o.chunk_delay_ms,
                 "mock's wait before each chunk after the first")
      ->check(CLI::Range(0, 60000));
  app.add_option("--threads", o.threads, "engine worker threads")
      ->check(CLI::Range(1, 256));
  app.add_option("--mock-threads", o.mock_threads, "mock I/O threads")
      ->check(CLI::Range(1, 64));
  app.add_option("--timeout-s", o.timeout_s,
                 "overall bound of the wait (and the calls' deadline)")
      ->check(CLI::Range(1, 3600));
  app.add_option("--first-token-ms", o.first_token_ms,
                 "route's time-to-first-token limit")
      ->check(CLI::Range(1, 3'600'000));
  app.add_option("--idle-ms", o.idle_ms, "route's stream idle limit")
      ->check(CLI::Range(1, 3'600'000));
  app.add_option("--max-host-connections", o.max_host_connections,
                 "transport's connections per host; 0 = streams + 16")
      ->check(CLI::Range(0, 65536));
  app.add_option("--loops", o.loops,
                 "transport loops; 0 = the transport's default")
      ->check(CLI::Range(0, 64));
  app.add_flag("--transport-only", o.transport_only,
               "the bare transport instead of the engine, for comparison");
  app.add_option("--progress-ms", o.progress_ms, "interval of progress lines")
      ->check(CLI::Range(10, 3'600'000));
  CLI11_PARSE(app, argc, argv);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  auto nofile = raise_nofile();

  auto mock = start_mock({"--threads", std::to_string(o.mock_threads)});
  if (!mock)
    return 1;
  std::printf("stream_many: mock pid %d on port %d (%u threads), %zu streams "
              "x %u words, chunk delay %u ms, %u engine threads, %u "
              "transport loops (0 = default), %u cores, RLIMIT_NOFILE %llu\n",
              static_cast<int>(mock->pid), mock->port, o.mock_threads,
              o.streams, o.words, o.chunk_delay_ms, o.threads, o.loops,
              std::thread::hardware_concurrency(),
              static_cast<unsigned long long>(nofile));
  if (nofile < o.streams + 256)
    std::printf("  warning: RLIMIT_NOFILE %llu is too small for %zu "
                "sockets\n",
                static_cast<unsigned long long>(nofile), o.streams);
  auto cfg = parse_config(config_json(mock->port, o));
  if (!cfg) {
    std::fprintf(stderr, "config: %s\n", to_string(cfg.error()).c_str());
    stop_mock(*mock);
    return 1;
  }
  // --transport-only: the same request bytes through the bare transport,
  // decoded as the engine's forwarder does, for comparison.
  const auto& codec = adapter_for(cfg->deployments.begin()->second.ep.kind);
  auto req = make_request();
  req.stream = true;
  auto built = codec.build_request(req, cfg->deployments.begin()->second.ep);
  if (!built) {
    std::fprintf(stderr, "build_request: %s\n",
                 to_string(built.error()).c_str());
    stop_mock(*mock);
    return 1;
  }
  http_job job;
  job.request = std::move(*built);
  job.stream = true;
  job.timeouts.first_byte = std::chrono::milliseconds{o.first_token_ms};
  job.timeouts.idle = std::chrono::milliseconds{o.idle_ms};
  std::unique_ptr<transport> tr;
  std::unique_ptr<engine> eng;
  if (o.transport_only) {
    tr = std::make_unique<transport>(cfg->engine.transport);
  } else {
    auto created = engine::create(std::move(*cfg));
    if (!created) {
      std::fprintf(stderr, "engine: %s\n", created.error().c_str());
      stop_mock(*mock);
      return 1;
    }
    eng = std::move(*created);
  }
  std::printf("  through the %s\n", eng ? "engine" : "bare transport");

  tally t;
  t.expected_words = o.words;
  std::vector<std::shared_ptr<counting_sink>> sinks;
  std::vector<uint64_t> ids;
  sinks.reserve(o.streams);
  ids.reserve(o.streams);
  auto cpu0 = cpu_seconds();
  auto mock_cpu0 = proc_cpu_seconds(mock->pid);
  auto t0 = clock_type::now();
  for (size_t i = 0; i < o.streams; ++i) {
    auto sink = std::make_shared<counting_sink>(t, clock_type::now());
    sinks.push_back(sink);
    ids.push_back(
        eng ? eng->stream(make_request(), call_options{}, sink)
            : tr->submit(job, std::make_shared<transport_feed>(sink, codec)));
  }
  auto started = clock_type::now();
  std::printf("  started %zu streams in %.0f ms\n", o.streams,
              us(started - t0) / 1000);

  // Wait for every terminal event, bounded; a progress line now and then.
  auto limit = t0 + std::chrono::seconds{o.timeout_s};
  auto self_pid = std::to_string(getpid());
  auto mock_pid = std::to_string(mock->pid);
  {
    std::unique_lock guard{t.mtx};
    auto every = std::chrono::milliseconds{o.progress_ms};
    auto next_report = clock_type::now() + every;
    while (t.terminated.load() < o.streams && clock_type::now() < limit) {
      t.cv.wait_until(guard, std::min(next_report, limit));
      if (clock_type::now() >= next_report) {
        std::printf("  %5.1f s: %llu first tokens, %llu ended (%llu ok, %llu "
                    "errors), RSS %ld MiB, mock RSS %ld MiB\n",
                    us(clock_type::now() - t0) / 1e6,
                    static_cast<unsigned long long>(t.first_tokens.load()),
                    static_cast<unsigned long long>(t.terminated.load()),
                    static_cast<unsigned long long>(t.completed.load()),
                    static_cast<unsigned long long>(t.errored.load()),
                    proc_status_kib(self_pid, "VmRSS:") / 1024,
                    proc_status_kib(mock_pid, "VmRSS:") / 1024);
        std::fflush(stdout);
        next_report += every;
      }
    }
  }
  auto t1 = clock_type::now();
  auto cpu1 = cpu_seconds();
  auto mock_cpu1 = proc_cpu_seconds(mock->pid);
  auto mock_hwm = proc_status_kib(mock_pid, "VmHWM:");
  auto threads = busiest_threads(5);
  auto stats = mock_stats(mock->port);

  // Streams without a terminal event: where they stopped, then whether a
  // cancel still ends them.
  std::vector<size_t> open;
  for (size_t i = 0; i < sinks.size(); ++i)
    if (!sinks[i]->terminated())
      open.push_back(i);
  if (!open.empty()) {
    size_t no_start = 0;
    size_t no_content = 0;
    size_t partial = 0;
    size_t all_words = 0;
    for (auto i : open) {
      auto& s = *sinks[i];
      if (!s.started())
        ++no_start;
      else if (s.deltas() == 0)
        ++no_content;
      else if (s.deltas() < o.words)
        ++partial;
      else
        ++all_words;
    }
    std::printf("  NOT ENDED after %u s: %zu streams (no start %zu, started "
                "without content %zu, partial %zu, every word but no end "
                "%zu); cancelling them\n",
                o.timeout_s, open.size(), no_start, no_content, partial,
                all_words);
    for (auto i : open)
      eng ? eng->cancel(ids[i]) : tr->cancel(ids[i]);
    std::unique_lock guard{t.mtx};
    t.cv.wait_for(guard, std::chrono::seconds{10},
                  [&] { return t.terminated.load() >= o.streams; });
    size_t still = 0;
    for (auto i : open)
      if (!sinks[i]->terminated())
        ++still;
    std::printf("  after cancel + 10 s: %zu of them still without a "
                "terminal event\n",
                still);
  }
  if (eng)
    eng->shutdown(std::chrono::seconds{5});
  tr.reset();
  stop_mock(*mock);

  std::sort(t.ttft.begin(), t.ttft.end());
  std::sort(t.total.begin(), t.total.end());
  auto wall = us(t1 - t0) / 1e6;
  std::printf("  completed %llu, errored %llu, not ended %zu of %zu in %.2f s "
              "wall (ideal %.2f s)\n",
              static_cast<unsigned long long>(t.completed.load()),
              static_cast<unsigned long long>(t.errored.load()), open.size(),
              o.streams, wall, (o.words - 1) * o.chunk_delay_ms / 1000.0);
  std::printf(
      "  first token p50 %.0f ms  p99 %.0f ms | end p50 %.0f ms  p99 "
      "%.0f ms (of completed streams, from their start call)\n",
      us(quantile(t.ttft, 0.5)) / 1000, us(quantile(t.ttft, 0.99)) / 1000,
      us(quantile(t.total, 0.5)) / 1000, us(quantile(t.total, 0.99)) / 1000);
  std::printf("  retried %llu; broken promises: content before start %llu, "
              "events after the terminal %llu, short answers %llu\n",
              static_cast<unsigned long long>(t.retried.load()),
              static_cast<unsigned long long>(t.content_before_start.load()),
              static_cast<unsigned long long>(t.after_terminal.load()),
              static_cast<unsigned long long>(t.short_answers.load()));
  for (auto& [code, count] : t.errors_by_code)
    std::printf("  errors %s: %llu\n", code.c_str(),
                static_cast<unsigned long long>(count));
  for (auto& e : t.first_errors)
    std::printf("  error: %s\n", e.c_str());
  auto cpu = cpu1 - cpu0;
  std::printf("  this process: CPU %.2f s (%.2f cores, %.0f us per stream, "
              "%.1f us per word), peak RSS %.1f MiB\n",
              cpu, cpu / wall, cpu * 1e6 / static_cast<double>(o.streams),
              cpu * 1e6 / static_cast<double>(o.streams * o.words),
              static_cast<double>(max_rss_kib()) / 1024);
  std::printf("  busiest threads (CPU since start): %s\n", threads.c_str());
  std::printf("  mock: CPU %.2f s (%.2f cores), peak RSS %.1f MiB, stats %s\n",
              mock_cpu1 - mock_cpu0, (mock_cpu1 - mock_cpu0) / wall,
              static_cast<double>(mock_hwm) / 1024, stats.c_str());
  return 0;
}
