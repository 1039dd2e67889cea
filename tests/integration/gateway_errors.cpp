#define CAF_SUITE gateway_errors
// What clients are told when things go wrong: keys, limits, upstream
// failures (as statuses an SDK maps correctly), deadlines, and streams that
// fail before or after their first token.
#include "integration/support_gateway.hpp"

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

/// A gateway over one mock with `headers` (faults) on every upstream call.
struct rig {
  mock_server m = start_mock();
  gateway_server gw;

  explicit rig(json headers = json::object(), json gateway = nullptr,
               json route = json::object()) {
    auto cfg = gateway_config({{"only", &m, "openai_chat", "gpt-4o", headers}},
                              route);
    if (!gateway.is_null())
      cfg["gateway"] = gateway;
    gw = start_gateway(cfg);
  }

  http_result post(const std::string& body, const http_headers& h = {}) const {
    return http_post(gw.url("/v1/chat/completions"), body, h);
  }
};

void check_openai_error(const http_result& res, long status) {
  CAF_CHECK_EQUAL(res.status, status);
  auto doc = json_of(res);
  CAF_REQUIRE(doc.contains("error"));
  CAF_CHECK(doc["error"]["message"].is_string());
  CAF_CHECK(doc["error"].contains("type"));
  CAF_CHECK(doc["error"].contains("param"));
  CAF_CHECK(doc["error"].contains("code"));
  // Never an upstream address in a message.
  CAF_CHECK_EQUAL(res.body.find("127.0.0.1"), std::string::npos);
}

} // namespace

CAF_TEST(keys : missing or wrong is 401 a route not allowed is 403) {
  json gw = {{"keys",
              {{{"key", "k-all"}},
               {{"key", "k-none"}, {"routes", json::array({"other"})}}}}};
  mock_server m = start_mock();
  auto cfg = gateway_config({{"only", &m}});
  cfg["routes"]["other"] = cfg["routes"]["chat"];
  cfg["gateway"] = gw;
  auto g = start_gateway(cfg);
  auto url = g.url("/v1/chat/completions");
  check_openai_error(http_post(url, chat()), 401);
  check_openai_error(http_post(url, chat(), {{"authorization", "Bearer nope"}}),
                     401);
  check_openai_error(
      http_post(url, chat(), {{"authorization", "Bearer k-none"}}), 403);
  CAF_CHECK_EQUAL(
      http_post(url, chat(), {{"authorization", "Bearer k-all"}}).status, 200);
  CAF_CHECK_EQUAL(http_post(url, chat(), {{"x-api-key", "k-all"}}).status, 200);
  // The model list shows what the key may use.
  auto models = json_of(
      http_get(g.url("/v1/models"), 10s, {{"authorization", "Bearer k-none"}}));
  CAF_REQUIRE_EQUAL(models["data"].size(), 1u);
  CAF_CHECK_EQUAL(models["data"][0]["id"], "other");
  CAF_CHECK_EQUAL(http_get(g.url("/v1/models")).status, 401);
}

CAF_TEST(a key over its request limit gets 429 with retry - after) {
  rig r{json::object(),
        {{"keys", {{{"key", "k1"}, {"requests_per_minute", 2}}}}}};
  http_headers h{{"authorization", "Bearer k1"}};
  CAF_CHECK_EQUAL(r.post(chat(), h).status, 200);
  CAF_CHECK_EQUAL(r.post(chat(), h).status, 200);
  auto res = r.post(chat(), h);
  check_openai_error(res, 429);
  auto after = std::stoi(res.header("retry-after").value_or("0"));
  CAF_CHECK_GREATER_OR_EQUAL(after, 1);
  CAF_CHECK_LESS_OR_EQUAL(after, 30);
  CAF_CHECK_EQUAL(mock_total(r.m), 2);
}

CAF_TEST(a known path with the wrong method is a 405 naming the right one) {
  rig r;
  auto res = http_get(r.gw.url("/v1/chat/completions"));
  check_openai_error(res, 405);
  auto doc = json_of(res);
  CAF_CHECK_EQUAL(doc["error"]["type"], "invalid_request_error");
  CAF_CHECK_EQUAL(res.header("allow").value_or(""), "POST");
  CAF_CHECK_NOT_EQUAL(doc["error"]["message"].get<std::string>().find("GET"),
                      std::string::npos);
  // Anthropic's endpoint answers in Anthropic's shape.
  res = http_get(r.gw.url("/v1/messages"));
  CAF_CHECK_EQUAL(res.status, 405);
  doc = json_of(res);
  CAF_CHECK_EQUAL(doc["type"], "error");
  CAF_CHECK_EQUAL(doc["error"]["type"], "invalid_request_error");
  res = http_post(r.gw.url("/health"), "{}");
  check_openai_error(res, 405);
  CAF_CHECK_EQUAL(res.header("allow").value_or(""), "GET, HEAD");
}

CAF_TEST(too large bodies are 413 and too large headers 431) {
  rig r{json::object(),
        {{"limits", {{"max_body_bytes", 2048}, {"max_header_bytes", 2048}}}}};
  json big = {
      {"model", "chat"},
      {"messages", {{{"role", "user"}, {"content", std::string(4096, 'a')}}}}};
  check_openai_error(r.post(big.dump()), 413);
  auto res = r.post(chat(), {{"x-filler", std::string(4096, 'b')}});
  CAF_CHECK_EQUAL(res.status, 431);
  CAF_CHECK_EQUAL(r.post(chat()).status, 200);
}

CAF_TEST(upstream rate limits are a 429 with the upstream hint) {
  rig r{json{{"x-mock-fault", "rate_limit=7"}}};
  auto res = r.post(chat());
  check_openai_error(res, 429);
  CAF_CHECK_EQUAL(res.header("retry-after").value_or(""), "7");
}

CAF_TEST(upstream failures and upstream auth failures are 502) {
  {
    rig r{json{{"x-mock-fault", "status=500"}}};
    check_openai_error(r.post(chat()), 502);
  }
  {
    rig r{json{{"x-mock-fault", "auth"}}};
    auto res = r.post(chat());
    check_openai_error(res, 502);
    CAF_CHECK_NOT_EQUAL(field_of(res, "/error/type"), "authentication_error");
  }
}

CAF_TEST(context too long is a 400 with context_length_exceeded) {
  rig r{json{{"x-mock-fault", "context_length"}}};
  auto res = r.post(chat());
  check_openai_error(res, 400);
  CAF_CHECK_EQUAL(field_of(res, "/error/code"), "context_length_exceeded");
}

CAF_TEST(a passed deadline is a 504) {
  rig r{json{{"x-mock-fault", "latency=3000"}}};
  auto res = r.post(chat(), {{"x-switchyard-deadline-ms", "300"}});
  check_openai_error(res, 504);
  CAF_CHECK_LESS(res.elapsed, 2000ms);
}

CAF_TEST(a stream failing before its first token is a normal error answer) {
  rig r{json{{"x-mock-fault", "status=500"}}};
  auto res = r.post(chat(true));
  check_openai_error(res, 502);
  CAF_CHECK_NOT_EQUAL(res.header("content-type").value_or(""),
                      "text/event-stream");
}

CAF_TEST(a stream breaking after content ends with an error event) {
  rig r{json{{"x-mock-fault", "drop_after=3"}, {"x-mock-words", "20"}}};
  auto res = r.post(chat(true));
  CAF_REQUIRE_EQUAL(res.status, 200);
  auto events = parse_sse(res.body);
  CAF_REQUIRE(!events.empty());
  size_t content = 0;
  for (const auto& ev : events)
    if (ev.data.find("\"content\"") != std::string::npos)
      ++content;
  CAF_CHECK_GREATER_OR_EQUAL(content, 3u);
  auto last = json::parse(events.back().data);
  CAF_REQUIRE(last.contains("error"));
  CAF_CHECK(last["error"]["message"].is_string());
  for (const auto& ev : events)
    CAF_CHECK_NOT_EQUAL(ev.data, "[DONE]");
  // Anthropic clients get `event: error`.
  auto cfg_res
      = http_post(r.gw.url("/v1/messages"),
                  json{{"model", "chat"},
                       {"max_tokens", 50},
                       {"stream", true},
                       {"messages", {{{"role", "user"}, {"content", "hello"}}}}}
                      .dump());
  CAF_REQUIRE_EQUAL(cfg_res.status, 200);
  auto aevents = parse_sse(cfg_res.body);
  CAF_REQUIRE(!aevents.empty());
  CAF_CHECK_EQUAL(aevents.back().event, "error");
  auto last_event = json::parse(aevents.back().data);
  CAF_CHECK_EQUAL(last_event["type"], "error");
}

CAF_TEST(every breaker open is a 503) {
  rig r{json::object(), {{"admin_key", "adm"}}};
  auto res = http_post(r.gw.url("/admin/deployments/only/force-open"), "",
                       {{"authorization", "Bearer adm"}});
  CAF_REQUIRE_EQUAL(res.status, 200);
  res = r.post(chat());
  check_openai_error(res, 503);
  CAF_CHECK_EQUAL(mock_total(r.m), 0);
}
