#define CAF_SUITE gateway_ops
// Running the gateway: config validation at start, health, readiness,
// status, operator commands, clients that hang up mid-stream, and SIGTERM
// while a stream runs.
#include "integration/support_gateway.hpp"

#include <arpa/inet.h>
#include <csignal>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

std::string chat(bool stream = false) {
  json body = {{"model", "chat"},
               {"messages", {{{"role", "user"}, {"content", "hello"}}}}};
  if (stream)
    body["stream"] = true;
  return body.dump();
}

/// True when a new connection to 127.0.0.1:`port` is accepted.
bool accepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok
      = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

/// A long slow stream: 200 words, one every 20 ms.
json slow_stream() {
  return {{"x-mock-words", "200"}, {"x-mock-chunk-delay-ms", "20"}};
}

} // namespace

CAF_TEST(bad gateway sections are refused with path and message) {
  mock_server m = start_mock();
  auto cfg = gateway_config({{"only", &m}});
  cfg["gateway"] = {{"keys", {{{"key", "k"}, {"rotues", {"chat"}}}}},
                    {"limits", {{"max_body_bytes", "big"}}}};
  auto [status, err] = run_gateway_expecting_failure(cfg);
  CAF_CHECK_EQUAL(status, 2);
  CAF_MESSAGE(err);
  CAF_CHECK_NOT_EQUAL(
      err.find(
          "gateway.keys[0].rotues: unknown key (did you mean \"routes\"?)"),
      std::string::npos);
  CAF_CHECK_NOT_EQUAL(err.find("gateway.limits.max_body_bytes: "),
                      std::string::npos);
  cfg["gateway"] = {{"keys", {{{"key", "k"}, {"routes", {"chta"}}}}}};
  std::tie(status, err) = run_gateway_expecting_failure(cfg);
  CAF_CHECK_NOT_EQUAL(err.find("gateway.keys[0].routes[0]: unknown route "
                               "\"chta\" (did you mean \"chat\"?)"),
                      std::string::npos);
  // Keys may come from the environment; an unset variable is an error.
  cfg["gateway"] = {{"keys", {{{"key", "${GW_TEST_KEY_UNSET}"}}}}};
  std::tie(status, err) = run_gateway_expecting_failure(cfg);
  CAF_CHECK_NOT_EQUAL(err.find("gateway.keys[0].key"), std::string::npos);
  CAF_CHECK_NOT_EQUAL(err.find("GW_TEST_KEY_UNSET"), std::string::npos);
}

CAF_TEST(keys from the environment are used and never printed) {
  mock_server m = start_mock();
  auto cfg = gateway_config({{"only", &m}});
  cfg["gateway"] = {{"keys", {{{"key", "${GW_TEST_KEY}"}}}}};
  auto gw = start_gateway(cfg, {}, {{"GW_TEST_KEY", "s3cret-key"}});
  auto url = gw.url("/v1/chat/completions");
  CAF_CHECK_EQUAL(
      http_post(url, chat(), {{"authorization", "Bearer s3cret-key"}}).status,
      200);
  CAF_CHECK_EQUAL(
      http_post(url, chat(), {{"authorization", "Bearer s3cret-kez"}}).status,
      401);
  CAF_CHECK_EQUAL(gw.proc.stderr_text().find("s3cret"), std::string::npos);
}

CAF_TEST(no keys on a public address is refused unless allowed) {
  mock_server m = start_mock();
  auto cfg = gateway_config({{"only", &m}});
  auto [status, err]
      = run_gateway_expecting_failure(cfg, {"--listen", "0.0.0.0:0"});
  CAF_CHECK_EQUAL(status, 2);
  CAF_CHECK_NOT_EQUAL(err.find("--allow-unauthenticated"), std::string::npos);
  auto path = "/tmp/gw-unauth-test.json";
  {
    std::FILE* f = std::fopen(path, "w");
    auto text = cfg.dump();
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }
  auto proc = child_process::start({binary_path("switchyard-gateway"),
                                    "--config", path, "--listen", "0.0.0.0:0",
                                    "--allow-unauthenticated"});
  CAF_REQUIRE(proc.has_value());
  auto line = proc->read_line(10s);
  CAF_CHECK(line && line->rfind("listening on 0.0.0.0:", 0) == 0);
  CAF_CHECK_EQUAL(proc->stop(), 0);
  std::remove(path);
}

CAF_TEST(health ready status and operator commands) {
  mock_server a = start_mock();
  mock_server b = start_mock();
  auto cfg = gateway_config({{"a", &a}, {"b", &b}});
  cfg["gateway"] = {{"keys", {{{"key", "k"}}}}, {"admin_key", "adm"}};
  auto gw = start_gateway(cfg);
  http_headers key{{"authorization", "Bearer k"}};
  http_headers admin{{"authorization", "Bearer adm"}};
  CAF_CHECK_EQUAL(http_get(gw.url("/health")).status, 200);
  auto ready = http_get(gw.url("/ready"));
  CAF_CHECK_EQUAL(ready.status, 200);
  CAF_CHECK_EQUAL(field_of(ready, "/ready"), true);
  CAF_CHECK_EQUAL(http_get(gw.url("/status")).status, 401);
  auto st = json_of(http_get(gw.url("/status"), 10s, key));
  CAF_REQUIRE_EQUAL(st["routes"].size(), 1u);
  CAF_CHECK_EQUAL(st["routes"][0]["name"], "chat");
  CAF_CHECK_EQUAL(st["routes"][0]["current"], "a");
  CAF_CHECK_EQUAL(st["deployments"].size(), 2u);
  // Operator commands need the admin key.
  auto url
      = [&](std::string cmd) { return gw.url("/admin/deployments/a/" + cmd); };
  CAF_CHECK_EQUAL(http_post(url("force-open"), "", key).status, 401);
  CAF_CHECK_EQUAL(http_post(url("explode"), "", admin).status, 404);
  CAF_CHECK_EQUAL(
      http_post(gw.url("/admin/deployments/zz/disable"), "", admin).status,
      404);
  auto res = http_post(url("force-open"), "", admin);
  CAF_REQUIRE_EQUAL(res.status, 200);
  CAF_CHECK_EQUAL(field_of(res, "/status/breaker"), "forced_open");
  st = json_of(http_get(gw.url("/status"), 10s, admin));
  CAF_CHECK_EQUAL(st["routes"][0]["current"], "b");
  auto call = http_post(gw.url("/v1/chat/completions"), chat(), key);
  CAF_CHECK_EQUAL(call.header("x-switchyard-deployment").value_or(""), "b");
  CAF_CHECK_EQUAL(http_post(url("reset"), "", admin).status, 200);
  CAF_CHECK_EQUAL(http_post(url("disable"), "", admin).status, 200);
  CAF_CHECK_EQUAL(
      http_post(gw.url("/admin/deployments/b/disable"), "", admin).status, 200);
  // Nothing usable: not ready, and calls are 503.
  CAF_CHECK_EQUAL(http_get(gw.url("/ready")).status, 503);
  CAF_CHECK_EQUAL(http_post(gw.url("/v1/chat/completions"), chat(), key).status,
                  503);
  CAF_CHECK_EQUAL(http_post(url("enable"), "", admin).status, 200);
  CAF_CHECK_EQUAL(http_get(gw.url("/ready")).status, 200);
  call = http_post(gw.url("/v1/chat/completions"), chat(), key);
  CAF_CHECK_EQUAL(call.status, 200);
  CAF_CHECK_EQUAL(call.header("x-switchyard-deployment").value_or(""), "a");
}

CAF_TEST(a client hanging up mid - stream frees the upstream at once) {
  mock_server m = start_mock();
  auto gw = start_gateway(
      gateway_config({{"only", &m, "openai_chat", "gpt-4o", slow_stream()}}));
  raw_client client{gw.port};
  CAF_REQUIRE(client.send(raw_post("/v1/chat/completions", chat(true))));
  auto got = client.read_until("\"content\":\" ", 5s);
  CAF_REQUIRE_NOT_EQUAL(got.find("200 OK"), std::string::npos);
  auto open = mock_stats(m)["open_connections"].get<int64_t>();
  CAF_CHECK_EQUAL(open, 1);
  auto t0 = std::chrono::steady_clock::now();
  client.close();
  CAF_CHECK(
      eventually([&] { return mock_stats(m)["open_connections"] == 0; }, 2s));
  auto took = std::chrono::steady_clock::now() - t0;
  CAF_MESSAGE(
      "upstream closed after "
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
      << " ms");
  CAF_CHECK_LESS(took, 100ms);
  // The gateway goes on serving.
  CAF_CHECK_EQUAL(http_post(gw.url("/v1/chat/completions"), chat()).status,
                  200);
}

CAF_TEST(a TERM signal lets a running stream finish then exits 0) {
  mock_server m = start_mock();
  json headers = {{"x-mock-words", "40"}, {"x-mock-chunk-delay-ms", "20"}};
  auto gw = start_gateway(
      gateway_config({{"only", &m, "openai_chat", "gpt-4o", headers}}));
  raw_client streaming{gw.port};
  raw_client idle{gw.port};
  CAF_REQUIRE(streaming.send(raw_post("/v1/chat/completions", chat(true))));
  streaming.read_until("\"content\":\" ", 5s);
  CAF_REQUIRE_EQUAL(::kill(gw.proc.pid(), SIGTERM), 0);
  // The gateway stops accepting once it handled the signal; a connection
  // opened before then sees it not ready.
  CAF_CHECK(eventually([&] { return !accepts(gw.port); }, 2s));
  CAF_REQUIRE(idle.send("GET /ready HTTP/1.1\r\nhost: x\r\n\r\n"));
  auto ready = idle.read_until("}", 2s);
  CAF_MESSAGE("ready on an open connection: " << ready);
  CAF_CHECK_NOT_EQUAL(ready.find("503"), std::string::npos);
  auto all = streaming.read_until("data: [DONE]", 5s);
  CAF_CHECK_NOT_EQUAL(all.find("data: [DONE]"), std::string::npos);
  auto status = gw.proc.wait(5s);
  CAF_REQUIRE(status.has_value());
  CAF_CHECK_EQUAL(*status, 0);
}

CAF_TEST(a TERM signal cancels streams still running after the grace period) {
  mock_server m = start_mock();
  auto cfg
      = gateway_config({{"only", &m, "openai_chat", "gpt-4o", slow_stream()}});
  cfg["gateway"] = {{"drain_grace_ms", 300}};
  auto gw = start_gateway(cfg);
  raw_client streaming{gw.port};
  CAF_REQUIRE(streaming.send(raw_post("/v1/chat/completions", chat(true))));
  streaming.read_until("\"content\":\" ", 5s);
  CAF_REQUIRE_EQUAL(::kill(gw.proc.pid(), SIGTERM), 0);
  auto all = streaming.read_until("\"error\"", 5s);
  CAF_CHECK_NOT_EQUAL(all.find("\"error\""), std::string::npos);
  CAF_CHECK_EQUAL(all.find("data: [DONE]"), std::string::npos);
  auto status = gw.proc.wait(5s);
  CAF_REQUIRE(status.has_value());
  CAF_CHECK_EQUAL(*status, 0);
  CAF_CHECK(
      eventually([&] { return mock_stats(m)["open_connections"] == 0; }, 2s));
}

CAF_TEST(a client reading too slowly gets its call cancelled upstream) {
  mock_server m = start_mock();
  // About 8 MB of events: more than the socket buffers can hold (a
  // loopback socket's send buffer grows up to 4 MB), and few enough for
  // the mock to make them quickly in a sanitizer build.
  json headers = {{"x-mock-words", "40000"}};
  auto cfg = gateway_config({{"only", &m, "openai_chat", "gpt-4o", headers}},
                            {{"deadline_ms", 60000}, {"ladder_ms", {60000}}});
  cfg["gateway"] = {{"limits", {{"stream_buffer_bytes", 4096}}}};
  auto gw = start_gateway(cfg);
  raw_client lazy{gw.port, 4096};
  CAF_REQUIRE(lazy.send(raw_post("/v1/chat/completions", chat(true))));
  // The client reads nothing: the socket buffers fill, then the gateway's
  // own buffer, and the call is cancelled upstream long before the mock
  // could finish its answer (the transport keeps a finished call's
  // connection open: only a cancelled one closes).
  // Bounds generous enough for a sanitizer build, whose mock needs seconds
  // to send the megabytes that fill the buffers.
  CAF_REQUIRE(eventually([&] { return mock_stats(m)["streams"] == 1; }, 30s));
  CAF_REQUIRE(
      eventually([&] { return mock_stats(m)["open_connections"] == 0; }, 30s));
  auto all = lazy.read_until("read the stream fast enough", 30s);
  CAF_CHECK_NOT_EQUAL(all.find("read the stream fast enough"),
                      std::string::npos);
  CAF_CHECK_EQUAL(all.find("data: [DONE]"), std::string::npos);
}
