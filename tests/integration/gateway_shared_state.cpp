#define CAF_SUITE gateway_shared_state
#include "integration/support_engine.hpp"
#include "integration/support_gateway.hpp"
#include "integration/support_http.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

/// A port the OS had free a moment ago (redis-server cannot take port 0).
uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0
      || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    CAF_FAIL("cannot find a free port");
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// A redis-server of the test's own on 127.0.0.1 without persistence,
/// stopped by PID.
struct redis_server {
  child_process proc;
  uint16_t port = 0;

  std::string url() const {
    return "redis://127.0.0.1:" + std::to_string(port);
  }

  void start() {
    auto p = child_process::start({"/usr/bin/redis-server", "--port",
                                   std::to_string(port), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no"});
    if (!p)
      CAF_FAIL("cannot start redis-server: " << p.error());
    proc = std::move(*p);
    for (;;) {
      auto line = proc.read_line(10s);
      if (!line)
        CAF_FAIL("redis-server did not start: " << proc.stderr_text());
      if (line->find("Ready to accept connections") != std::string::npos)
        return;
    }
  }
};

redis_server start_redis() {
  redis_server r;
  r.port = free_port();
  r.start();
  return r;
}

/// A failing primary (breaker: 3 failures, `open_ms` open) and a healthy
/// secondary behind gateways that share state through `redis`.
json shared_config(const mock_server& primary, const mock_server& secondary,
                   const redis_server& redis, int64_t open_ms) {
  auto cfg = gateway_config(
      {{"primary", &primary}, {"secondary", &secondary}},
      {{"retry", {{"max_retries", {{"overloaded", 0}, {"server_error", 0}}}}}});
  cfg["deployments"]["primary"]["breaker"]
      = {{"consecutive_failures", 3},   {"failure_rate", 0},
         {"open_duration_ms", open_ms}, {"max_open_duration_ms", open_ms},
         {"half_open_probes", 1},       {"half_open_successes", 1}};
  cfg["state"] = {{"redis",
                   {{"url", redis.url()},
                    {"command_timeout_ms", 100},
                    {"connect_timeout_ms", 100},
                    {"poll_interval_ms", 100}}}};
  return cfg;
}

const std::string chat_body
    = R"({"model":"chat","messages":[{"role":"user","content":"hi"}]})";

long chat(const gateway_server& gw) {
  return http_post(gw.url("/v1/chat/completions"), chat_body).status;
}

/// The breaker of deployment `name` as gateway `gw` reports it.
std::string breaker_of(const gateway_server& gw, const std::string& name) {
  auto st = json_of(http_get(gw.url("/status")));
  for (auto& d : st["deployments"])
    if (d["name"] == name)
      return d["breaker"];
  return "";
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto i = text.find(needle); i != std::string::npos;
       i = text.find(needle, i + 1))
    ++n;
  return n;
}

} // namespace

CAF_TEST(an outage is detected once and probed once per open period) {
  auto redis = start_redis();
  auto primary = start_mock();
  auto secondary = start_mock();
  load_scenario(primary,
                {{"rules", {{{"faults", {{{"fault", "overloaded"}}}}}}}});
  constexpr int64_t open_ms = 1500;
  auto cfg = shared_config(primary, secondary, redis, open_ms);
  std::vector<gateway_server> gws;
  for (int i = 0; i < 3; ++i)
    gws.push_back(start_gateway(cfg));
  // Three failures on the first replica open its breaker.
  for (int i = 0; i < 3; ++i)
    CAF_REQUIRE_EQUAL(chat(gws[0]), 200);
  CAF_REQUIRE_EQUAL(mock_total(primary), 3);
  auto opened = std::chrono::steady_clock::now();
  // Every other replica learns it within a second...
  CAF_CHECK(eventually(
      [&] {
        return breaker_of(gws[1], "primary") == "open"
               && breaker_of(gws[2], "primary") == "open";
      },
      1s));
  CAF_MESSAGE("seen by all after "
              << std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - opened)
                     .count()
              << " ms");
  // ... and fails fast: answers from the secondary, nothing to the primary.
  for (auto& gw : gws)
    for (int i = 0; i < 5; ++i)
      CAF_CHECK_EQUAL(chat(gw), 200);
  CAF_CHECK_EQUAL(mock_total(primary), 3);
  // Over two more open periods with traffic on every replica, the primary
  // sees one probe per period (each fails and reopens the breaker).
  auto until = std::chrono::steady_clock::now() + 2ms * open_ms + 500ms;
  size_t calls = 0;
  while (std::chrono::steady_clock::now() < until) {
    for (auto& gw : gws)
      CAF_CHECK_EQUAL(chat(gw), 200);
    ++calls;
    std::this_thread::sleep_for(20ms); // pacing the load, not a wait
  }
  CAF_MESSAGE(calls * 3 << " calls over two open periods");
  auto probes = mock_total(primary) - 3;
  CAF_CHECK_GREATER_OR_EQUAL(probes, 1);
  CAF_CHECK_LESS_OR_EQUAL(probes, 2);
}

CAF_TEST(combined traffic stays within the shared rate limit) {
  auto redis = start_redis();
  auto upstream = start_mock();
  auto cfg = gateway_config({{"only", &upstream}});
  cfg["deployments"]["only"]["limits"] = {{"requests_per_minute", 30}};
  // Generous timeouts: on a loaded machine a slow round trip would count as
  // an outage, and replicas then admit on their local limits alone.
  cfg["state"] = {{"redis",
                   {{"url", redis.url()},
                    {"limit_slices", 10},
                    {"command_timeout_ms", 1000},
                    {"connect_timeout_ms", 1000},
                    {"poll_interval_ms", 1000}}}};
  // Not across a minute boundary: the limit counts per minute.
  CAF_REQUIRE(eventually(
      [] {
        auto s = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count()
                 % 60;
        return s < 40;
      },
      30s));
  std::vector<gateway_server> gws;
  for (int i = 0; i < 3; ++i)
    gws.push_back(start_gateway(cfg));
  int ok = 0;
  int limited = 0;
  for (int round = 0; round < 20; ++round)
    for (auto& gw : gws) {
      auto status = chat(gw);
      ok += status == 200 ? 1 : 0;
      limited += status == 429 ? 1 : 0;
    }
  CAF_MESSAGE(ok << " answered, " << limited << " limited");
  for (auto& gw : gws)
    if (auto err = gw.proc.stderr_text(); !err.empty())
      CAF_MESSAGE("gateway stderr: " << err);
  // Each replica alone would admit 30; together they admit 30 at most.
  CAF_CHECK_LESS_OR_EQUAL(mock_total(upstream), 30);
  CAF_CHECK_EQUAL(mock_total(upstream), ok);
  CAF_CHECK_GREATER_OR_EQUAL(ok, 20);
  CAF_CHECK_EQUAL(ok + limited, 60);
}

CAF_TEST(without redis replicas go on locally and resync when it returns) {
  auto redis = start_redis();
  auto primary = start_mock();
  auto secondary = start_mock();
  auto cfg = shared_config(primary, secondary, redis, 60000);
  std::vector<gateway_server> gws;
  for (int i = 0; i < 2; ++i)
    gws.push_back(start_gateway(cfg));
  for (auto& gw : gws)
    CAF_REQUIRE_EQUAL(chat(gw), 200);
  // Redis goes away mid-run: no call fails.
  redis.proc.stop();
  for (int i = 0; i < 20; ++i)
    for (auto& gw : gws)
      CAF_CHECK_EQUAL(chat(gw), 200);
  // The primary fails while Redis is away: only the first replica sees it.
  load_scenario(primary,
                {{"rules", {{{"faults", {{{"fault", "overloaded"}}}}}}}});
  for (int i = 0; i < 3; ++i)
    CAF_CHECK_EQUAL(chat(gws[0]), 200);
  CAF_CHECK_EQUAL(breaker_of(gws[0], "primary"), "open");
  CAF_CHECK_EQUAL(breaker_of(gws[1], "primary"), "closed");
  // Redis returns (empty): the first replica republishes what it learned
  // and the second adopts it.
  redis.start();
  CAF_CHECK(
      eventually([&] { return breaker_of(gws[1], "primary") == "open"; }, 10s));
  auto before = mock_total(primary);
  for (int i = 0; i < 5; ++i)
    CAF_CHECK_EQUAL(chat(gws[1]), 200);
  CAF_CHECK_EQUAL(mock_total(primary), before);
  // Each replica logged the outage and the return, once per outage (a
  // loaded machine may add a short outage of its own: a round trip slower
  // than the command timeout counts as one).
  for (auto& gw : gws) {
    auto err = gw.proc.stderr_text();
    CAF_CHECK_GREATER_OR_EQUAL(count_of(err, "lost ("), 1u);
    CAF_CHECK_EQUAL(count_of(err, "lost ("), count_of(err, "available again"));
  }
}
