// bench-shared_state: what sharing state through Redis (state.redis) adds
// to a call. One deployment with a requests-per-minute limit behind an
// in-process instant upstream (so that only the engine and Redis are
// measured), one call at a time, in alternating blocks: local state only,
// then Redis-shared state with the given slices of the limit. Prints the
// latency p50/p99 of both, the Redis commands per call (from the server's
// own count, polls included) and the redis-server CPU per call, which says
// how many calls per second one Redis core carries for the whole fleet.
//
// Usage: bench-shared_state [--calls 20000] [--block 500] [--rpm 100000]
//                           [--slices 20]
#include "measure.hpp"
#include "switchyard/engine.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <future>
#include <netinet/in.h>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <CLI/CLI.hpp>

using namespace switchyard;
using namespace switchyard::bench;

namespace {

int unused_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0
      || getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return 0;
  close(fd);
  return ntohs(addr.sin_port);
}

/// Answers every request at once from the submitting thread.
class instant_client final : public http_client {
public:
  uint64_t submit(http_job, std::shared_ptr<transfer_sink> sink) override {
    transfer_result r;
    r.response.status = 200;
    r.response.headers = {{"content-type", "application/json"}};
    r.response.body = canned_body;
    sink->on_complete(std::move(r));
    return ++next_id_;
  }

  void cancel(uint64_t) override {
    // nop
  }

private:
  std::atomic<uint64_t> next_id_{0};
};

/// Output of a shell command (redis-cli).
std::string run(const std::string& cmd) {
  std::string out;
  if (auto* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n = 0;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
      out.append(buf, n);
    pclose(p);
  }
  return out;
}

/// The server's count of commands processed so far.
long long redis_commands(int port) {
  auto info = run("redis-cli -p " + std::to_string(port) + " info stats");
  auto i = info.find("total_commands_processed:");
  return i == std::string::npos ? -1 : std::stoll(info.substr(i + 25));
}

/// User + system CPU seconds of process `pid`.
double cpu_of(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text((std::istreambuf_iterator<char>(in)), {});
  std::istringstream fields{text.substr(text.rfind(')') + 2)};
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i)
    if (i == 14 || i == 15)
      ticks += std::stod(f);
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string config_json(double rpm, int redis_port, int slices) {
  std::string state;
  if (redis_port != 0)
    state = R"(, "state": {"redis": {"url": "redis://127.0.0.1:)"
            + std::to_string(redis_port) + R"(", "limit_slices": )"
            + std::to_string(slices) + "}}";
  return R"({
    "providers": {"up": {"kind": "openai_chat", "base_url": "http://127.0.0.1:9"}},
    "deployments": {"up-gpt": {"provider": "up", "model": "gpt-4o-mini",
                               "limits": {"requests_per_minute": )"
         + std::to_string(rpm) + R"(}}},
    "routes": {"chat": {"targets": ["up-gpt"]}},
    "engine": {"threads": 2})"
         + state + "}";
}

std::unique_ptr<engine> make(const std::string& cfg) {
  engine_options opts;
  opts.client = std::make_shared<instant_client>();
  auto eng = engine::from_json(cfg, opts);
  if (!eng) {
    std::fprintf(stderr, "bench-shared_state: %s\n", eng.error().c_str());
    std::exit(1);
  }
  return std::move(*eng);
}

/// One call; its latency, or nullopt when it failed.
std::optional<timespan> one_call(engine& eng) {
  auto t0 = clock_type::now();
  auto r = eng.complete(make_request()).get();
  auto t1 = clock_type::now();
  if (!r)
    return std::nullopt;
  return t1 - t0;
}

void report(const char* name, std::vector<timespan>& xs, size_t failed) {
  std::sort(xs.begin(), xs.end());
  std::printf("%-22s calls %6zu  failed %4zu  p50 %7.1f us  p99 %7.1f us\n",
              name, xs.size(), failed, us(quantile(xs, 0.5)),
              us(quantile(xs, 0.99)));
}

} // namespace

int main(int argc, char** argv) {
  size_t calls = 20000;
  size_t block = 500;
  double rpm = 100000;
  int slices = 20;
  CLI::App app{"bench-shared_state: latency added by Redis-shared state"};
  app.add_option("--calls", calls, "calls per variant");
  app.add_option("--block", block, "calls per alternating block");
  app.add_option("--rpm", rpm, "requests_per_minute of the deployment");
  app.add_option("--slices", slices, "state.redis.limit_slices");
  CLI11_PARSE(app, argc, argv);
  int port = unused_port();
  pid_t redis = fork();
  if (redis == 0) {
    execlp("redis-server", "redis-server", "--port",
           std::to_string(port).c_str(), "--bind", "127.0.0.1", "--save", "",
           "--appendonly", "no", "--loglevel", "warning", nullptr);
    _exit(127);
  }
  while (redis_commands(port) < 0)
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  auto local = make(config_json(rpm, 0, slices));
  auto shared = make(config_json(rpm, port, slices));
  // Warm-up; then alternate blocks so that both see the same machine.
  for (int i = 0; i < 200; ++i) {
    one_call(*local);
    one_call(*shared);
  }
  std::vector<timespan> lat_local, lat_shared;
  size_t fail_local = 0, fail_shared = 0;
  double redis_cpu = 0;
  long long redis_ops = 0;
  while (lat_local.size() + fail_local < calls) {
    for (size_t i = 0; i < block; ++i)
      if (auto d = one_call(*local))
        lat_local.push_back(*d);
      else
        ++fail_local;
    auto ops0 = redis_commands(port);
    auto cpu0 = cpu_of(redis);
    for (size_t i = 0; i < block; ++i)
      if (auto d = one_call(*shared))
        lat_shared.push_back(*d);
      else
        ++fail_shared;
    redis_cpu += cpu_of(redis) - cpu0;
    redis_ops += redis_commands(port) - ops0 - 1; // minus the INFO itself
  }
  std::printf("rpm %.0f, limit_slices %d (slice %lld requests)\n", rpm, slices,
              std::max<long long>(1, static_cast<long long>(rpm) / slices));
  report("local state", lat_local, fail_local);
  report("redis-shared state", lat_shared, fail_shared);
  auto n = static_cast<double>(lat_shared.size() + fail_shared);
  std::sort(lat_local.begin(), lat_local.end());
  std::printf("added p50 %+.1f us, p99 %+.1f us\n",
              us(quantile(lat_shared, 0.5)) - us(quantile(lat_local, 0.5)),
              us(quantile(lat_shared, 0.99)) - us(quantile(lat_local, 0.99)));
  std::printf("redis commands per call %.4f (polls included), redis-server "
              "CPU %.2f us per call\n",
              static_cast<double>(redis_ops) / n, redis_cpu * 1e6 / n);
  local->shutdown();
  shared->shutdown();
  kill(redis, SIGTERM);
  waitpid(redis, nullptr, 0);
  return 0;
}
