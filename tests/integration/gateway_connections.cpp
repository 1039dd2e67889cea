#define CAF_SUITE gateway_connections
// Keep-alive connections around answers written by the thread that has them
// (not the connection's I/O thread): the next request on the connection, a
// pipelined one, an answer larger than the socket takes at once, and the
// idle timeout after an answer. Also `Expect: 100-continue` (curl's way to
// send a large body).
#include "integration/support_gateway.hpp"

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

std::string chat_request(std::string_view request_id) {
  json body = {{"model", "chat"},
               {"messages", {{{"role", "user"}, {"content", "hello"}}}}};
  return raw_post("/v1/chat/completions", body.dump(),
                  {{"x-request-id", std::string{request_id}}});
}

/// One answer read off a raw connection.
struct raw_answer {
  int status = 0;
  std::string head;
  std::string body;
};

/// Reads the answer starting at `offset` of what `c` received (waiting for
/// it at most `timeout`); its head and content-length body.
std::optional<raw_answer> read_answer(raw_client& c, size_t offset,
                                      std::chrono::milliseconds timeout) {
  auto all = c.read_until("\r\n\r\n", timeout, offset);
  auto end = all.find("\r\n\r\n", offset);
  if (end == std::string::npos)
    return std::nullopt;
  raw_answer a;
  a.head = all.substr(offset, end + 4 - offset);
  a.status = std::atoi(a.head.c_str() + 9);
  auto cl = a.head.find("content-length: ");
  if (cl == std::string::npos)
    return std::nullopt;
  auto length = std::stoul(a.head.substr(cl + 16));
  if (!c.read_total(end + 4 + length, timeout))
    return std::nullopt;
  a.body = c.received().substr(end + 4, length);
  return a;
}

bool has_header(const raw_answer& a, std::string_view line) {
  return a.head.find(std::string{line} + "\r\n") != std::string::npos;
}

} // namespace

CAF_TEST(answers on one keep - alive connection come in order) {
  mock_server m = start_mock();
  auto gw = start_gateway(gateway_config({{"only", &m}}));
  raw_client c{gw.port};
  size_t offset = 0;
  for (int i = 0; i < 20; ++i) {
    auto id = "seq-" + std::to_string(i);
    CAF_REQUIRE(c.send(chat_request(id)));
    auto a = read_answer(c, offset, 5s);
    CAF_REQUIRE(a.has_value());
    CAF_CHECK_EQUAL(a->status, 200);
    CAF_CHECK(has_header(*a, "x-request-id: " + id));
    CAF_CHECK(json::parse(a->body).contains("choices"));
    offset = c.received().size();
  }
}

CAF_TEST(pipelined requests are answered in order) {
  mock_server m = start_mock();
  // Slow answers, so that the next requests arrive while the first runs.
  json headers = {{"x-mock-fault", "latency=150"}};
  auto gw = start_gateway(
      gateway_config({{"only", &m, "openai_chat", "gpt-4o", headers}}));
  raw_client c{gw.port};
  size_t offset = 0;
  auto expect = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      auto a = read_answer(c, offset, 5s);
      CAF_REQUIRE(a.has_value());
      CAF_CHECK_EQUAL(a->status, 200);
      CAF_CHECK(has_header(*a, "x-request-id: p-" + std::to_string(i)));
      offset = c.received().size();
    }
  };
  // Two in one write: the gateway reads both before it answers the first.
  CAF_REQUIRE(c.send(chat_request("p-0") + chat_request("p-1")));
  expect(0, 2);
  // The next one arrives while the one before runs.
  CAF_REQUIRE(c.send(chat_request("p-2")));
  std::this_thread::sleep_for(20ms);
  CAF_REQUIRE(c.send(chat_request("p-3")));
  expect(2, 4);
  // And the connection goes on.
  CAF_REQUIRE(c.send(chat_request("p-4")));
  expect(4, 5);
}

CAF_TEST(an answer larger than the socket takes at once arrives whole) {
  mock_server m = start_mock();
  // About 13 MB: more than a loopback socket's largest send buffer (4 MB).
  json headers = {{"x-mock-words", "2000000"}};
  auto gw = start_gateway(
      gateway_config({{"only", &m, "openai_chat", "gpt-4o", headers}}));
  // A small receive buffer, read only after the answer is due.
  raw_client c{gw.port, 4096};
  CAF_REQUIRE(c.send(chat_request("big-0")));
  std::this_thread::sleep_for(500ms);
  auto a = read_answer(c, 0, 10s);
  CAF_REQUIRE(a.has_value());
  CAF_CHECK_EQUAL(a->status, 200);
  CAF_CHECK_GREATER(a->body.size(), size_t{10000000});
  auto doc = json::parse(a->body);
  auto text = doc["choices"][0]["message"]["content"].get<std::string>();
  CAF_CHECK_EQUAL(std::count(text.begin(), text.end(), ' '), 1999999);
  // The connection stays usable.
  auto offset = c.received().size();
  CAF_REQUIRE(c.send(chat_request("big-1")));
  auto b = read_answer(c, offset, 10s);
  CAF_REQUIRE(b.has_value());
  CAF_CHECK(has_header(*b, "x-request-id: big-1"));
}

CAF_TEST(a connection idle after its answer is closed after idle_timeout) {
  mock_server m = start_mock();
  auto cfg = gateway_config({{"only", &m}});
  cfg["gateway"] = {{"limits", {{"idle_timeout_ms", 400}}}};
  auto gw = start_gateway(cfg);
  raw_client c{gw.port};
  CAF_REQUIRE(c.send(chat_request("idle-0")));
  auto a = read_answer(c, 0, 5s);
  CAF_REQUIRE(a.has_value());
  CAF_CHECK_EQUAL(a->status, 200);
  auto t0 = std::chrono::steady_clock::now();
  CAF_CHECK(c.wait_closed(5s));
  auto took = std::chrono::steady_clock::now() - t0;
  CAF_MESSAGE(
      "closed after "
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
      << " ms idle");
  CAF_CHECK_GREATER(took, 300ms);
  CAF_CHECK_LESS(took, 2s);
  // Nothing else was sent on it.
  CAF_CHECK_EQUAL(c.received().size(), a->head.size() + a->body.size());
}

CAF_TEST(a client that expects 100 continue gets it before sending its body) {
  mock_server m = start_mock();
  auto cfg = gateway_config({{"only", &m}});
  cfg["gateway"] = {{"limits", {{"max_body_bytes", 100000}}}};
  auto gw = start_gateway(cfg);
  auto request
      = raw_post("/v1/chat/completions",
                 json{{"model", "chat"},
                      {"messages", {{{"role", "user"}, {"content", "hello"}}}}}
                     .dump(),
                 {{"expect", "100-continue"}});
  auto split = request.find("\r\n\r\n") + 4;
  raw_client c{gw.port};
  CAF_REQUIRE(c.send(request.substr(0, split)));
  // Without it a client waits (curl: 1 s) before sending the body anyway.
  auto got = c.read_until("\r\n\r\n", 500ms);
  CAF_REQUIRE_EQUAL(got, "HTTP/1.1 100 Continue\r\n\r\n");
  CAF_REQUIRE(c.send(request.substr(split)));
  auto a = read_answer(c, got.size(), 5s);
  CAF_REQUIRE(a.has_value());
  CAF_CHECK_EQUAL(a->status, 200);
  CAF_CHECK(json::parse(a->body).contains("choices"));
  // A body over the limit is refused at once, without 100 Continue.
  raw_client big{gw.port};
  CAF_REQUIRE(big.send("POST /v1/chat/completions HTTP/1.1\r\n"
                       "host: 127.0.0.1\r\n"
                       "content-type: application/json\r\n"
                       "content-length: 200000\r\n"
                       "expect: 100-continue\r\n\r\n"));
  auto refused = read_answer(big, 0, 5s);
  CAF_REQUIRE(refused.has_value());
  CAF_CHECK_EQUAL(refused->status, 413);
}
