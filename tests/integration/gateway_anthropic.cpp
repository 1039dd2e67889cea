#define CAF_SUITE gateway_anthropic
// The gateway as Anthropic clients see it: /v1/messages plain and streamed
// with Anthropic's event sequence, answered in Anthropic's shape whichever
// provider served the call, and errors in Anthropic's shape.
#include "integration/support_gateway.hpp"

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

json messages_body(bool stream = false) {
  json body = {{"model", "chat"},
               {"max_tokens", 100},
               {"system", "be brief"},
               {"stop_sequences", {"zzz"}},
               {"messages", {{{"role", "user"}, {"content", "hello there"}}}}};
  if (stream)
    body["stream"] = true;
  return body;
}

http_headers anthropic_headers() {
  return {{"anthropic-version", "2023-06-01"}, {"x-api-key", "k-anthropic"}};
}

struct rig {
  mock_server openai = start_mock();
  mock_server anthropic = start_mock();
  gateway_server gw;

  /// Route `chat`: an OpenAI provider first (with `first_headers`), then an
  /// Anthropic one. Keys: k-anthropic for everything.
  explicit rig(json first_headers = json::object()) {
    auto cfg = gateway_config(
        {{"openai", &openai, "openai_chat", "gpt-4o", first_headers},
         {"anthropic", &anthropic, "anthropic_messages", "claude-x"}});
    cfg["gateway"] = {{"keys", {{{"key", "k-anthropic"}}}}};
    gw = start_gateway(cfg);
  }

  http_result messages(const json& body) const {
    return http_post(gw.url("/v1/messages"), body.dump(), anthropic_headers());
  }
};

} // namespace

CAF_TEST(a message comes back in Anthropic shape from an OpenAI provider) {
  rig r;
  auto res = r.messages(messages_body());
  CAF_REQUIRE_EQUAL(res.status, 200);
  auto doc = json_of(res);
  CAF_CHECK(doc["id"].get<std::string>().rfind("msg_", 0) == 0);
  CAF_CHECK_EQUAL(doc["type"], "message");
  CAF_CHECK_EQUAL(doc["role"], "assistant");
  CAF_CHECK_EQUAL(doc["model"], "gpt-4o");
  CAF_REQUIRE_EQUAL(doc["content"].size(), 1u);
  CAF_CHECK_EQUAL(doc["content"][0]["type"], "text");
  CAF_CHECK(!doc["content"][0]["text"].get<std::string>().empty());
  CAF_CHECK_EQUAL(doc["stop_reason"], "end_turn");
  CAF_CHECK(doc["stop_sequence"].is_null());
  CAF_CHECK_GREATER(doc["usage"]["input_tokens"].get<int>(), 0);
  CAF_CHECK_GREATER(doc["usage"]["output_tokens"].get<int>(), 0);
  CAF_CHECK_EQUAL(res.header("x-switchyard-provider").value_or(""), "openai");
  // The system prompt reached the provider (the mock counts its words).
  auto without = messages_body();
  without.erase("system");
  auto plain = json_of(r.messages(without));
  CAF_CHECK_EQUAL(plain["usage"]["input_tokens"].get<int>() + 2,
                  doc["usage"]["input_tokens"].get<int>());
}

CAF_TEST(a streamed message follows Anthropic event sequence) {
  rig r;
  auto res = r.messages(messages_body(true));
  CAF_REQUIRE_EQUAL(res.status, 200);
  CAF_CHECK_EQUAL(res.header("content-type").value_or(""), "text/event-stream");
  auto events = parse_sse(res.body);
  std::vector<std::string> names;
  std::string text;
  for (const auto& ev : events) {
    if (ev.event.empty())
      continue;
    auto data = json::parse(ev.data);
    CAF_CHECK_EQUAL(data["type"], ev.event);
    if (names.empty() || names.back() != ev.event)
      names.push_back(ev.event);
    if (ev.event == "content_block_delta")
      text += data["delta"]["text"].get<std::string>();
    if (ev.event == "message_delta") {
      CAF_CHECK_EQUAL(data["delta"]["stop_reason"], "end_turn");
      CAF_CHECK_GREATER(data["usage"]["output_tokens"].get<int>(), 0);
    }
  }
  std::vector<std::string> want{
      "message_start",       "content_block_start", "ping",
      "content_block_delta", "content_block_stop",  "message_delta",
      "message_stop"};
  CAF_CHECK_EQUAL(names, want);
  auto plain = json_of(r.messages(messages_body()));
  CAF_CHECK_EQUAL(text, plain["content"][0]["text"]);
}

CAF_TEST(an Anthropic client falling back stays in Anthropic shape) {
  rig r{json{{"x-mock-fault", "overloaded"}}};
  auto res = r.messages(messages_body());
  CAF_CHECK_EQUAL(res.status, 200);
  CAF_CHECK_EQUAL(field_of(res, "/type"), "message");
  CAF_CHECK_EQUAL(res.header("x-switchyard-provider").value_or(""),
                  "anthropic");
  CAF_CHECK_EQUAL(res.header("x-switchyard-fallback-reason").value_or(""),
                  "overloaded");
}

CAF_TEST(top k is taken from Anthropic clients on either provider) {
  // The OpenAI provider gets the call without top_k (it has none); the
  // Anthropic one, reached by a fallback, with it.
  rig r;
  auto body = messages_body();
  body["top_k"] = 40;
  body["temperature"] = 0.5;
  CAF_CHECK_EQUAL(r.messages(body).status, 200);
  rig failing{json{{"x-mock-fault", "overloaded"}}};
  auto res = failing.messages(body);
  CAF_CHECK_EQUAL(res.status, 200);
  CAF_CHECK_EQUAL(res.header("x-switchyard-provider").value_or(""),
                  "anthropic");
  body["top_k"] = 0;
  res = r.messages(body);
  CAF_CHECK_EQUAL(res.status, 400);
  CAF_CHECK_EQUAL(field_of(res, "/error/type"), "invalid_request_error");
  body = messages_body();
  body["temperature"] = 1.5; // Anthropic's range is 0 to 1
  CAF_CHECK_EQUAL(r.messages(body).status, 400);
}

CAF_TEST(serial tool use from Anthropic clients is taken) {
  rig r;
  auto body = messages_body();
  body["tools"]
      = json::array({{{"name", "get_weather"},
                      {"input_schema",
                       {{"type", "object"}, {"properties", json::object()}}}}});
  body["tool_choice"] = {{"type", "auto"}, {"disable_parallel_tool_use", true}};
  CAF_CHECK_EQUAL(r.messages(body).status, 200);
  body["tool_choice"]["disable_parallel_tool_use"] = "yes";
  auto res = r.messages(body);
  CAF_CHECK_EQUAL(res.status, 400);
  CAF_CHECK_EQUAL(field_of(res, "/error/type"), "invalid_request_error");
}

CAF_TEST(an OpenAI client served by Anthropic gets OpenAI JSON) {
  mock_server anthropic = start_mock();
  auto gw = start_gateway(gateway_config(
      {{"anthropic", &anthropic, "anthropic_messages", "claude-x"}}));
  auto res
      = http_post(gw.url("/v1/chat/completions"),
                  json{{"model", "chat"},
                       {"messages", {{{"role", "user"}, {"content", "hi"}}}}}
                      .dump());
  CAF_REQUIRE_EQUAL(res.status, 200);
  auto doc = json_of(res);
  CAF_CHECK_EQUAL(doc["object"], "chat.completion");
  CAF_CHECK_EQUAL(doc["model"], "claude-x");
  CAF_CHECK_EQUAL(doc["choices"][0]["finish_reason"], "stop");
}

CAF_TEST(Anthropic clients get errors in Anthropic shape) {
  rig r;
  auto res = http_post(r.gw.url("/v1/messages"), messages_body().dump(),
                       {{"anthropic-version", "2023-06-01"}});
  CAF_CHECK_EQUAL(res.status, 401);
  auto doc = json_of(res);
  CAF_CHECK_EQUAL(doc["type"], "error");
  CAF_CHECK_EQUAL(doc["error"]["type"], "authentication_error");
  auto body = messages_body();
  body.erase("max_tokens");
  res = r.messages(body);
  CAF_CHECK_EQUAL(res.status, 400);
  CAF_CHECK_EQUAL(field_of(res, "/error/type"), "invalid_request_error");
  body = messages_body();
  body["model"] = "nope";
  res = r.messages(body);
  CAF_CHECK_EQUAL(res.status, 404);
  CAF_CHECK_EQUAL(field_of(res, "/error/type"), "not_found_error");
}

CAF_TEST(every target overloaded is a 529 for Anthropic clients) {
  mock_server m = start_mock();
  auto cfg = gateway_config({{"only", &m, "anthropic_messages", "claude-x",
                              json{{"x-mock-fault", "overloaded"}}}});
  auto gw = start_gateway(cfg);
  auto res = http_post(gw.url("/v1/messages"), messages_body().dump(),
                       anthropic_headers());
  CAF_CHECK_EQUAL(res.status, 529);
  CAF_CHECK_EQUAL(field_of(res, "/error/type"), "overloaded_error");
  res = http_post(gw.url("/v1/chat/completions"),
                  json{{"model", "chat"},
                       {"messages", {{{"role", "user"}, {"content", "hi"}}}}}
                      .dump());
  CAF_CHECK_EQUAL(res.status, 503);
}
