#define CAF_SUITE gateway_cache
// The response cache through the gateway: the `x-switchyard-cache` answer
// header, the bypass request headers, streams replayed as SSE, and identical
// requests in flight sharing one upstream request.
#include "integration/support_gateway.hpp"

#include <future>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

json chat_body(bool stream = false) {
  json body = {{"model", "chat"},
               {"temperature", 0},
               {"messages",
                {{{"role", "system"}, {"content", "be brief"}},
                 {{"role", "user"}, {"content", "hello there"}}}}};
  if (stream)
    body["stream"] = true;
  return body;
}

struct rig {
  mock_server upstream = start_mock();
  gateway_server gw;

  rig() {
    // 700 ms per answer, so that requests sent together overlap.
    gw = start_gateway(
        gateway_config({{"primary",
                         &upstream,
                         "openai_chat",
                         "gpt-4o",
                         {{"x-mock-fault", "latency=700"}}}},
                       {{"cache", {{"enabled", true}, {"ttl_ms", 60000}}}}));
  }

  http_result chat(const json& body, const http_headers& h = {}) const {
    return http_post(gw.url("/v1/chat/completions"), body.dump(), h);
  }

  int64_t total() const {
    return mock_total(upstream);
  }
};

std::string cache_header(const http_result& res) {
  return res.header("x-switchyard-cache").value_or("<none>");
}

std::string content_of(const http_result& res) {
  return field_of(res, "/choices/0/message/content").get<std::string>();
}

/// The text of an OpenAI SSE body.
std::string sse_text(const http_result& res) {
  std::string out;
  for (auto& ev : parse_sse(res.body)) {
    if (ev.data.empty() || ev.data == "[DONE]")
      continue;
    auto doc = json::parse(ev.data);
    auto& delta = doc["choices"][0]["delta"];
    if (delta.contains("content") && delta["content"].is_string())
      out += delta["content"].get<std::string>();
  }
  return out;
}

} // namespace

CAF_TEST(the gateway says miss then hit and honours both bypass headers) {
  rig r;
  auto first = r.chat(chat_body());
  CAF_REQUIRE_EQUAL(first.status, 200);
  CAF_CHECK_EQUAL(cache_header(first), "miss");
  auto hit = r.chat(chat_body());
  CAF_REQUIRE_EQUAL(hit.status, 200);
  CAF_CHECK_EQUAL(cache_header(hit), "hit");
  CAF_CHECK_EQUAL(content_of(hit), content_of(first));
  CAF_CHECK_EQUAL(hit.header("x-switchyard-model").value_or(""), "gpt-4o");
  CAF_CHECK_EQUAL(r.total(), 1);
  auto no_cache
      = r.chat(chat_body(), {{"cache-control", "max-age=0, No-Cache"}});
  CAF_REQUIRE_EQUAL(no_cache.status, 200);
  CAF_CHECK_EQUAL(cache_header(no_cache), "bypass");
  CAF_CHECK_EQUAL(r.total(), 2);
  auto bypass = r.chat(chat_body(), {{"x-switchyard-cache", "bypass"}});
  CAF_REQUIRE_EQUAL(bypass.status, 200);
  CAF_CHECK_EQUAL(cache_header(bypass), "bypass");
  CAF_CHECK_EQUAL(r.total(), 3);
  auto bad = r.chat(chat_body(), {{"x-switchyard-cache", "sometimes"}});
  CAF_CHECK_EQUAL(bad.status, 400);
  CAF_CHECK_EQUAL(field_of(bad, "/error/param"), "x-switchyard-cache");
  CAF_CHECK_EQUAL(r.total(), 3);
}

CAF_TEST(a cached stream is replayed as SSE) {
  rig r;
  auto first = r.chat(chat_body(true));
  CAF_REQUIRE_EQUAL(first.status, 200);
  CAF_CHECK_EQUAL(cache_header(first), "miss");
  auto replay = r.chat(chat_body(true));
  CAF_REQUIRE_EQUAL(replay.status, 200);
  CAF_CHECK_EQUAL(cache_header(replay), "hit");
  CAF_CHECK_EQUAL(replay.header("content-type").value_or(""),
                  "text/event-stream");
  CAF_CHECK(!sse_text(first).empty());
  CAF_CHECK_EQUAL(sse_text(replay), sse_text(first));
  CAF_CHECK(replay.body.find("data: [DONE]") != std::string::npos);
  CAF_CHECK_EQUAL(r.total(), 1);
}

CAF_TEST(identical requests in flight share one upstream request) {
  rig r;
  constexpr int n = 6;
  std::vector<std::future<http_result>> fs;
  for (int i = 0; i < n; ++i)
    fs.push_back(std::async(std::launch::async,
                            [&r, i] { return r.chat(chat_body(i % 2 == 1)); }));
  int coalesced = 0;
  for (auto& f : fs) {
    auto res = f.get();
    CAF_CHECK_EQUAL(res.status, 200);
    coalesced += cache_header(res) == "coalesced" ? 1 : 0;
  }
  // One plain and one streamed upstream request: the rest joined them.
  CAF_CHECK_EQUAL(r.total(), 2);
  CAF_CHECK_EQUAL(coalesced, n - 2);
}
