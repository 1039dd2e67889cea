// bench-stream_ttft: the time to first token that the engine adds to a
// streamed call, over what the bare transport (switchyard::transport) takes
// for the same request bytes against the same switchyard-mock over loopback.
//
// A stream's time to first token runs from the call (`transport::submit`,
// resp. `engine::stream`) to the first non-empty text delta: for the
// transport, right after `stream_attempt` decoded it on the transport thread
// (what the engine's forwarder does); for the engine, when the `text_delta`
// reaches the caller's `stream_sink`. Transport and engine run in
// alternating blocks (A B A B ...) so that drift of the shared machine
// cancels out; each keeps `--concurrency` streams running (each finished
// stream starts the next). Prints, for both, time to first token and to the
// stream's end (p50 / p90 / p99), CPU µs per stream of this process during
// that side's blocks, and the difference. The engine exists during the
// transport's blocks too, and its idle CAF workers poll for a while after
// each engine block: that CPU counts on both sides, so compare latencies,
// and take CPU per stream as an upper bound.
//
// Usage: bench-stream_ttft [--streams 2000] [--concurrency 1] [--block 100]
//                          [--words 8] [--threads 2]
// The mock is started from the directory of this binary and stopped by PID.
#include "measure.hpp"
#include "mock_process.hpp"
#include "switchyard/adapter.hpp"
#include "switchyard/config.hpp"
#include "switchyard/engine.hpp"
#include "switchyard/stream.hpp"
#include "switchyard/transport.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <CLI/CLI.hpp>
#include <curl/curl.h>

using namespace switchyard;
using namespace switchyard::bench;

namespace {

// -- measuring ----------------------------------------------------------------

/// One stream under measurement: when it began and when its first token
/// arrived. Written by one thread at a time (the stream's events are
/// sequential).
struct probe {
  time_point begun;
  std::optional<time_point> first;
  std::function<void(probe&, bool, std::string)> on_done;

  void first_content() {
    if (!first)
      first = clock_type::now();
  }

  void done(bool ok, std::string error = {}) {
    on_done(*this, ok, std::move(error));
  }
};

/// What one side measured, over all its blocks.
struct side_result {
  std::vector<timespan> ttft;
  std::vector<timespan> total;
  uint64_t errors = 0;
  std::string first_error;
  double cpu_s = 0;
  size_t streams = 0;

  void sort() {
    std::sort(ttft.begin(), ttft.end());
    std::sort(total.begin(), total.end());
  }
};

/// Starts one stream that reports to the probe.
using launcher = std::function<void(std::shared_ptr<probe>)>;

/// Runs `n` streams, `concurrency` at a time, each finished one starting the
/// next. Owned by shared pointers, so a completion that runs late on
/// another thread never touches freed memory.
class block : public std::enable_shared_from_this<block> {
public:
  block(launcher launch, size_t n, side_result* out, bool record)
      : launch_(std::move(launch)), n_(n), out_(out), record_(record) {
    // nop
  }

  void run(size_t concurrency) {
    auto first = std::min(concurrency, n_);
    {
      std::lock_guard guard{mtx_};
      launched_ = first;
    }
    auto cpu0 = cpu_seconds();
    for (size_t i = 0; i < first; ++i)
      launch_one();
    std::unique_lock guard{mtx_};
    cv_.wait(guard, [this] { return finished_ == n_; });
    if (record_) {
      out_->cpu_s += cpu_seconds() - cpu0;
      out_->streams += n_;
    }
  }

private:
  void launch_one() {
    auto p = std::make_shared<probe>();
    p->on_done
        = [self = shared_from_this()](probe& pr, bool ok, std::string error) {
            self->complete(pr, ok, std::move(error));
          };
    p->begun = clock_type::now();
    launch_(std::move(p));
  }

  void complete(probe& p, bool ok, std::string error) {
    auto now = clock_type::now();
    bool more = false;
    {
      std::lock_guard guard{mtx_};
      if (record_) {
        if (ok && p.first) {
          out_->ttft.push_back(*p.first - p.begun);
          out_->total.push_back(now - p.begun);
        } else {
          ++out_->errors;
          if (out_->first_error.empty())
            out_->first_error = error.empty() ? "no content" : error;
        }
      }
      if (launched_ < n_) {
        ++launched_;
        more = true;
      }
      if (++finished_ == n_)
        cv_.notify_all();
    }
    if (more)
      launch_one();
  }

  launcher launch_;
  size_t n_;
  side_result* out_;
  bool record_;
  std::mutex mtx_;
  std::condition_variable cv_;
  size_t launched_ = 0;
  size_t finished_ = 0;
};

// -- the two sides ------------------------------------------------------------

/// Decodes a bare transfer as the engine's forwarder does and marks the
/// first non-empty text delta.
class transport_probe_sink final : public transfer_sink {
public:
  transport_probe_sink(std::shared_ptr<probe> p, const adapter& codec)
      : probe_(std::move(p)), attempt_(codec) {
    // nop
  }

  void on_head(int, const header_list&) override {
    // nop
  }

  void on_chunk(std::string_view chunk) override {
    out_.clear();
    attempt_.feed(chunk, out_);
    for (auto& ev : out_)
      if (auto* d = std::get_if<text_delta>(&ev); d && !d->text.empty())
        probe_->first_content();
  }

  void on_complete(transfer_result r) override {
    std::optional<failure> tf;
    if (r.error != transport_error::none)
      tf = classify_transport_error(r.error, std::move(r.detail));
    auto v = attempt_.finish(std::move(tf), r.response,
                             std::chrono::system_clock::now());
    if (v.failure)
      probe_->done(false, to_string(*v.failure));
    else
      probe_->done(true);
  }

private:
  std::shared_ptr<probe> probe_;
  stream_attempt attempt_;
  std::vector<stream_event> out_;
};

/// Marks the first non-empty `text_delta` the engine delivers.
class engine_probe_sink final : public stream_sink {
public:
  explicit engine_probe_sink(std::shared_ptr<probe> p) : probe_(std::move(p)) {
    // nop
  }

  bool on_event(stream_event ev) override {
    if (auto* d = std::get_if<text_delta>(&ev); d && !d->text.empty())
      probe_->first_content();
    else if (std::holds_alternative<stream_end>(ev))
      probe_->done(true);
    else if (auto* e = std::get_if<stream_error>(&ev))
      probe_->done(false, to_string(e->failure));
    return true;
  }

private:
  std::shared_ptr<probe> probe_;
};

std::string config_json(int port, uint32_t threads, uint32_t words) {
  return R"({
    "providers": {"mock": {"kind": "openai_chat",
                           "base_url": "http://127.0.0.1:)"
         + std::to_string(port) + R"(",
                           "headers": {"x-mock-words": ")"
         + std::to_string(words) + R"("}}},
    "deployments": {"mock-gpt": {"provider": "mock", "model": "gpt-4o-mini"}},
    "routes": {"chat": {"targets": ["mock-gpt"]}},
    "engine": {"threads": )"
         + std::to_string(threads) + "}}";
}

void print(const char* name, const side_result& r) {
  std::printf("  %-10s first token p50 %6.0f us  p90 %6.0f us  p99 %6.0f us"
              " | end p50 %6.0f us  p99 %6.0f us | %6.1f us proc CPU/stream"
              " | %zu streams, errors %llu\n",
              name, us(quantile(r.ttft, 0.5)), us(quantile(r.ttft, 0.9)),
              us(quantile(r.ttft, 0.99)), us(quantile(r.total, 0.5)),
              us(quantile(r.total, 0.99)),
              r.streams > 0 ? r.cpu_s * 1e6 / static_cast<double>(r.streams)
                            : 0.0,
              r.streams, static_cast<unsigned long long>(r.errors));
  if (!r.first_error.empty())
    std::printf("  %-10s first error: %s\n", name, r.first_error.c_str());
}

} // namespace

int main(int argc, char** argv) {
  size_t streams = 2000;
  size_t concurrency = 1;
  size_t block_size = 100;
  uint32_t words = 8;
  uint32_t threads = 2;
  CLI::App app{"bench-stream_ttft: time to first token, engine vs transport"};
  app.add_option("--streams", streams, "measured streams per side")
      ->check(CLI::Range(1, 10'000'000));
  app.add_option("--concurrency", concurrency, "streams running at once")
      ->check(CLI::Range(1, 10000));
  app.add_option("--block", block_size, "streams per alternating block")
      ->check(CLI::Range(1, 1'000'000));
  app.add_option("--words", words, "words per answer (one chunk each)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--threads", threads, "engine worker threads")
      ->check(CLI::Range(1, 256));
  CLI11_PARSE(app, argc, argv);
  curl_global_init(CURL_GLOBAL_DEFAULT);

  auto mock = start_mock();
  if (!mock)
    return 1;
  std::printf("stream_ttft: mock pid %d on port %d, %zu streams per side in "
              "blocks of %zu, concurrency %zu, %u words, %u engine threads, "
              "%u cores\n",
              static_cast<int>(mock->pid), mock->port, streams, block_size,
              concurrency, words, threads, std::thread::hardware_concurrency());
  auto cfg = parse_config(config_json(mock->port, threads, words));
  if (!cfg) {
    std::fprintf(stderr, "config: %s\n", to_string(cfg.error()).c_str());
    stop_mock(*mock);
    return 1;
  }
  // The same bytes the engine sends (its provider actor builds them the same
  // way, from the same endpoint), built once.
  const auto& dep = cfg->deployments.begin()->second;
  const auto& codec = adapter_for(dep.ep.kind);
  auto req = make_request();
  req.stream = true;
  auto built = codec.build_request(req, dep.ep);
  if (!built) {
    std::fprintf(stderr, "build_request: %s\n",
                 to_string(built.error()).c_str());
    stop_mock(*mock);
    return 1;
  }
  http_job job;
  job.request = std::move(*built);
  job.stream = true;
  job.timeouts.first_byte = std::chrono::seconds{15};
  job.timeouts.idle = std::chrono::seconds{30};

  auto created = engine::create(std::move(*cfg));
  if (!created) {
    std::fprintf(stderr, "engine: %s\n", created.error().c_str());
    stop_mock(*mock);
    return 1;
  }
  auto& eng = **created;
  transport tr;
  launcher bare = [&](std::shared_ptr<probe> p) {
    tr.submit(job, std::make_shared<transport_probe_sink>(std::move(p), codec));
  };
  launcher engined = [&](std::shared_ptr<probe> p) {
    eng.stream(make_request(), call_options{},
               std::make_shared<engine_probe_sink>(std::move(p)));
  };

  side_result bare_r;
  side_result eng_r;
  auto run = [&](const launcher& l, size_t n, side_result* out, bool record) {
    std::make_shared<block>(l, n, out, record)->run(concurrency);
  };
  // Warm up connections, allocators and caches on both sides.
  auto warmup = std::min<size_t>(block_size, 200);
  run(bare, warmup, &bare_r, false);
  run(engined, warmup, &eng_r, false);
  for (size_t done = 0; done < streams; done += block_size) {
    auto n = std::min(block_size, streams - done);
    run(bare, n, &bare_r, true);
    run(engined, n, &eng_r, true);
  }
  eng.shutdown(std::chrono::seconds{5});
  stop_mock(*mock);

  bare_r.sort();
  eng_r.sort();
  print("transport", bare_r);
  print("engine", eng_r);
  auto d = [](const side_result& a, const side_result& b, double q) {
    return us(quantile(a.ttft, q)) - us(quantile(b.ttft, q));
  };
  auto per_stream = [](const side_result& r) {
    return r.streams > 0 ? r.cpu_s / static_cast<double>(r.streams) : 0.0;
  };
  std::printf("  engine adds to the first token: p50 %+.0f us, p90 %+.0f us, "
              "p99 %+.0f us (issue 12's target: p50 <= 30 us)\n",
              d(eng_r, bare_r, 0.5), d(eng_r, bare_r, 0.9),
              d(eng_r, bare_r, 0.99));
  std::printf(
      "  engine CPU per stream / transport's: x%.2f (issue 12's target: "
      "<= 1.2)\n",
      per_stream(bare_r) > 0 ? per_stream(eng_r) / per_stream(bare_r) : 0.0);
  return 0;
}
