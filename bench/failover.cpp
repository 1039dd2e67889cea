// bench-failover: what a dead primary costs once its breaker is open. The
// route is [dead, live]: `dead` points at a port nobody listens on, `live`
// at a real switchyard-mock (and, in a second run, at an in-process instant
// upstream, which isolates the engine from loopback noise). A few calls
// open the dead primary's breaker (connection refused counts hard); then
// calls through the route, which skip the open primary and fall back, are
// compared with calls pinned to the fallback. One call at a time, in
// alternating blocks, so both see the same machine. Prints the latency of
// both and the difference (target: at most 50 µs added per call).
//
// Usage: bench-failover [--calls 4000] [--block 200]
#include "measure.hpp"
#include "mock_process.hpp"
#include "switchyard/engine.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <sys/socket.h>
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

// -- the mock process and the dead port ---------------------------------------

/// Returns a loopback port that was free a moment ago (bound, then closed).
int unused_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0
      || getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0)
      close(fd);
    return 0;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

// -- the in-process upstream
// ---------------------------------------------------

/// Refuses connections to `dead_port` and answers everything else at once,
/// from the submitting thread.
class instant_client final : public http_client {
public:
  explicit instant_client(int dead_port)
      : dead_(":" + std::to_string(dead_port) + "/") {
    // nop
  }

  uint64_t submit(http_job job, std::shared_ptr<transfer_sink> sink) override {
    transfer_result r;
    if (job.request.url.find(dead_) != std::string::npos) {
      r.error = transport_error::connect_failed;
      r.detail = "Connection refused";
    } else {
      r.response.status = 200;
      r.response.headers = {{"content-type", "application/json"}};
      r.response.body = canned_body;
    }
    sink->on_complete(std::move(r));
    return ++next_id_;
  }

  void cancel(uint64_t) override {
    // nop
  }

private:
  std::string dead_;
  std::atomic<uint64_t> next_id_{0};
};

// -- measuring ----------------------------------------------------------------

std::string config_json(int dead_port, int live_port) {
  auto url
      = [](int port) { return "http://127.0.0.1:" + std::to_string(port); };
  return R"({
    "providers": {
      "dead": {"kind": "openai_chat", "base_url": ")"
         + url(dead_port) + R"("},
      "live": {"kind": "openai_chat", "base_url": ")"
         + url(live_port) + R"("}
    },
    "deployments": {
      "dead-gpt": {"provider": "dead", "model": "gpt-4o-mini"},
      "live-gpt": {"provider": "live", "model": "gpt-4o-mini"}
    },
    "routes": {"chat": {"targets": ["dead-gpt", "live-gpt"]}},
    "defaults": {"breaker": {"consecutive_failures": 3,
                             "open_duration_ms": 3600000,
                             "max_open_duration_ms": 3600000}},
    "engine": {"threads": 2}
  })";
}

/// Makes one call and returns its latency, or nullopt when it failed or was
/// not answered by `expect`.
std::optional<timespan> timed_call(engine& eng, const call_options& opts,
                                   const std::string& expect) {
  auto begun = clock_type::now();
  auto r = eng.complete(make_request(), opts).get();
  auto took = clock_type::now() - begun;
  if (!r || r->attempts.empty() || r->attempts.back().deployment != expect)
    return std::nullopt;
  return took;
}

std::string breaker_of(const engine& eng, const std::string& name) {
  for (const auto& s : eng.status().deployments)
    if (s.name == name)
      return std::string{to_string(s.breaker)};
  return "unknown";
}

/// Opens the dead primary's breaker, then times pinned and routed calls.
bool measure(const char* label, int dead_port, int live_port,
             std::shared_ptr<http_client> client, size_t calls, size_t block) {
  engine_options opts;
  opts.client = std::move(client);
  opts.seed = 1;
  auto created
      = engine::from_json(config_json(dead_port, live_port), std::move(opts));
  if (!created) {
    std::fprintf(stderr, "engine: %s\n", created.error().c_str());
    return false;
  }
  auto& eng = **created;
  call_options routed;
  call_options pinned;
  pinned.pin = "live-gpt";
  for (int i = 0; i < 5; ++i)
    timed_call(eng, routed, "live-gpt");
  auto state = breaker_of(eng, "dead-gpt");
  std::printf("%s: dead-gpt breaker after 5 calls: %s\n", label, state.c_str());
  if (state != "open")
    return false;
  // Warm up both paths (connections, allocator, caches).
  for (size_t i = 0; i < std::min<size_t>(calls / 4, 500); ++i) {
    timed_call(eng, routed, "live-gpt");
    timed_call(eng, pinned, "live-gpt");
  }
  std::vector<timespan> pin_lat;
  std::vector<timespan> route_lat;
  size_t failed = 0;
  for (size_t done = 0; done < calls; done += block) {
    for (size_t i = 0; i < block; ++i) {
      if (auto t = timed_call(eng, pinned, "live-gpt"))
        pin_lat.push_back(*t);
      else
        ++failed;
    }
    for (size_t i = 0; i < block; ++i) {
      if (auto t = timed_call(eng, routed, "live-gpt"))
        route_lat.push_back(*t);
      else
        ++failed;
    }
  }
  std::sort(pin_lat.begin(), pin_lat.end());
  std::sort(route_lat.begin(), route_lat.end());
  auto line = [](const char* name, const std::vector<timespan>& v) {
    std::printf("  %-28s p50 %7.1f us  p90 %7.1f us  p99 %7.1f us  (%zu)\n",
                name, us(quantile(v, 0.5)), us(quantile(v, 0.9)),
                us(quantile(v, 0.99)), v.size());
  };
  line("pinned to live-gpt", pin_lat);
  line("route, dead-gpt open", route_lat);
  std::printf("  added by the open primary:   p50 %+.1f us  p90 %+.1f us  "
              "(failed or misrouted calls: %zu; breaker at the end: %s)\n",
              us(quantile(route_lat, 0.5)) - us(quantile(pin_lat, 0.5)),
              us(quantile(route_lat, 0.9)) - us(quantile(pin_lat, 0.9)), failed,
              breaker_of(eng, "dead-gpt").c_str());
  eng.shutdown(std::chrono::seconds{5});
  return true;
}

} // namespace

int main(int argc, char** argv) {
  size_t calls = 4000;
  size_t block = 200;
  CLI::App app{"bench-failover: cost of skipping an open primary"};
  app.add_option("--calls", calls, "timed calls per variant")
      ->check(CLI::Range(1, 10000000));
  app.add_option("--block", block, "calls per alternating block")
      ->check(CLI::Range(1, 100000));
  CLI11_PARSE(app, argc, argv);
  curl_global_init(CURL_GLOBAL_DEFAULT);

  auto dead_port = unused_port();
  auto mock = start_mock();
  if (!mock || dead_port == 0)
    return 1;
  std::printf("failover: dead port %d, mock pid %d on port %d, %zu calls per "
              "variant, one at a time\n",
              dead_port, static_cast<int>(mock->pid), mock->port, calls);
  bool ok = measure("mock over loopback", dead_port, mock->port, nullptr, calls,
                    block);
  stop_mock(*mock);
  ok = measure("in-process upstream", dead_port, mock->port,
               std::make_shared<instant_client>(dead_port), calls, block)
       && ok;
  return ok ? 0 : 1;
}
