#define CAF_SUITE gateway_openai
// The gateway as OpenAI clients see it: chat completions (plain and
// streamed), legacy completions, models, per-call headers, and a primary
// that fails while the client sees only normal answers.
#include "integration/support_gateway.hpp"

#include <string>
#include <utility>
#include <vector>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

json chat_body(bool stream = false) {
  json body = {{"model", "chat"},
               {"messages",
                {{{"role", "system"}, {"content", "be brief"}},
                 {{"role", "user"}, {"content", "hello there"}}}}};
  if (stream)
    body["stream"] = true;
  return body;
}

struct rig {
  mock_server primary = start_mock();
  mock_server secondary = start_mock();
  gateway_server gw;

  explicit rig(json primary_headers = json::object()) {
    gw = start_gateway(gateway_config(
        {{"primary", &primary, "openai_chat", "gpt-4o", primary_headers},
         {"secondary", &secondary, "anthropic_messages", "claude-x"}}));
  }

  http_result chat(const json& body, const http_headers& h = {}) const {
    return http_post(gw.url("/v1/chat/completions"), body.dump(), h);
  }
};

} // namespace

CAF_TEST(a chat completion comes back in OpenAI shape with the headers) {
  rig r;
  auto res = r.chat(chat_body(), {{"x-request-id", "abc-123"}});
  CAF_REQUIRE_EQUAL(res.status, 200);
  auto doc = json_of(res);
  CAF_CHECK(doc["id"].get<std::string>().rfind("chatcmpl-", 0) == 0);
  CAF_CHECK_EQUAL(doc["object"], "chat.completion");
  CAF_CHECK(doc["created"].is_number_integer());
  CAF_CHECK_EQUAL(doc["model"], "gpt-4o");
  CAF_REQUIRE_EQUAL(doc["choices"].size(), 1u);
  auto& choice = doc["choices"][0];
  CAF_CHECK_EQUAL(choice["index"], 0);
  CAF_CHECK_EQUAL(choice["message"]["role"], "assistant");
  CAF_CHECK(!choice["message"]["content"].get<std::string>().empty());
  CAF_CHECK_EQUAL(choice["finish_reason"], "stop");
  CAF_CHECK_GREATER(doc["usage"]["prompt_tokens"].get<int>(), 0);
  CAF_CHECK_EQUAL(doc["usage"]["total_tokens"].get<int>(),
                  doc["usage"]["prompt_tokens"].get<int>()
                      + doc["usage"]["completion_tokens"].get<int>());
  CAF_CHECK_EQUAL(res.header("x-request-id").value_or(""), "abc-123");
  CAF_CHECK_EQUAL(res.header("x-switchyard-provider").value_or(""), "primary");
  CAF_CHECK_EQUAL(res.header("x-switchyard-model").value_or(""), "gpt-4o");
  CAF_CHECK_EQUAL(res.header("x-switchyard-deployment").value_or(""),
                  "primary");
  CAF_CHECK_EQUAL(res.header("x-switchyard-attempts").value_or(""), "1");
  CAF_CHECK(!res.header("x-switchyard-fallback-reason"));
  // Without x-request-id the gateway makes one.
  auto again = r.chat(chat_body());
  CAF_CHECK(!again.header("x-request-id").value_or("").empty());
  CAF_CHECK_NOT_EQUAL(again.header("x-request-id").value_or("abc-123"),
                      "abc-123");
}

CAF_TEST(a streamed chat completion sends chunks then DONE) {
  rig r;
  auto body = chat_body(true);
  body["stream_options"] = {{"include_usage", true}};
  auto res = r.chat(body);
  CAF_REQUIRE_EQUAL(res.status, 200);
  CAF_CHECK_EQUAL(res.header("content-type").value_or(""), "text/event-stream");
  CAF_CHECK_EQUAL(res.header("x-switchyard-provider").value_or(""), "primary");
  CAF_CHECK_EQUAL(res.header("x-switchyard-deployment").value_or(""),
                  "primary");
  CAF_CHECK_EQUAL(res.header("x-switchyard-attempts").value_or(""), "1");
  auto events = parse_sse(res.body);
  CAF_REQUIRE_GREATER(events.size(), 3u);
  CAF_CHECK_EQUAL(events.back().data, "[DONE]");
  auto first = json::parse(events.front().data);
  CAF_CHECK_EQUAL(first["object"], "chat.completion.chunk");
  CAF_CHECK_EQUAL(first["choices"][0]["delta"]["role"], "assistant");
  std::string text;
  std::string finish;
  json usage;
  std::string id = first["id"];
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    auto chunk = json::parse(events[i].data);
    CAF_CHECK_EQUAL(chunk["id"], id);
    if (chunk["choices"].empty()) {
      usage = chunk["usage"];
      continue;
    }
    auto& c = chunk["choices"][0];
    if (c["delta"].contains("content"))
      text += c["delta"]["content"].get<std::string>();
    if (!c["finish_reason"].is_null())
      finish = c["finish_reason"];
  }
  CAF_CHECK_EQUAL(finish, "stop");
  CAF_CHECK_GREATER(usage["completion_tokens"].get<int>(), 0);
  // The streamed text is the plain answer's text.
  auto plain = json_of(r.chat(chat_body()));
  CAF_CHECK_EQUAL(text, plain["choices"][0]["message"]["content"]);
}

CAF_TEST(legacy completions and the model list) {
  rig r;
  auto res = http_post(r.gw.url("/v1/completions"),
                       json{{"model", "chat"}, {"prompt", "say hi"}}.dump());
  CAF_REQUIRE_EQUAL(res.status, 200);
  auto doc = json_of(res);
  CAF_CHECK_EQUAL(doc["object"], "text_completion");
  CAF_CHECK(!doc["choices"][0]["text"].get<std::string>().empty());
  auto models = http_get(r.gw.url("/v1/models"));
  CAF_REQUIRE_EQUAL(models.status, 200);
  auto list = json_of(models);
  CAF_CHECK_EQUAL(list["object"], "list");
  CAF_REQUIRE_EQUAL(list["data"].size(), 1u);
  CAF_CHECK_EQUAL(list["data"][0]["id"], "chat");
  CAF_CHECK_EQUAL(list["data"][0]["object"], "model");
}

CAF_TEST(requests the gateway cannot honour are 400s naming the field) {
  rig r;
  http_result res;
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, json>>{{"n", 2},
                                                 {"logit_bias", json::object()},
                                                 {"presence_penalty", 3},
                                                 {"temperature", 2.5},
                                                 {"logprobs", true}}) {
    auto body = chat_body();
    body[key] = value;
    res = r.chat(body);
    CAF_CHECK_EQUAL(res.status, 400);
    CAF_CHECK_EQUAL(field_of(res, "/error/param"), key);
  }
  res = http_post(r.gw.url("/v1/chat/completions"), "{not json");
  CAF_CHECK_EQUAL(res.status, 400);
  CAF_CHECK_EQUAL(field_of(res, "/error/type"), "invalid_request_error");
  auto body = chat_body();
  body["model"] = "nope";
  res = r.chat(body);
  CAF_CHECK_EQUAL(res.status, 404);
  CAF_CHECK_EQUAL(field_of(res, "/error/code"), "model_not_found");
  res = r.chat(chat_body(), {{"x-switchyard-deadline-ms", "soon"}});
  CAF_CHECK_EQUAL(res.status, 400);
  // Nothing of this reached an upstream.
  CAF_CHECK_EQUAL(mock_total(r.primary), 0);
}

CAF_TEST(tools and sampling fields are accepted and forwarded) {
  rig r;
  auto body = chat_body();
  json params
      = {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}};
  json fn = {{"name", "get_weather"}, {"parameters", params}};
  body["tools"] = json::array({{{"type", "function"}, {"function", fn}}});
  body["tool_choice"] = "auto";
  body["temperature"] = 0.5;
  body["max_completion_tokens"] = 50;
  body["seed"] = 7;
  body["user"] = "u1";
  body["response_format"] = {{"type", "text"}};
  body["parallel_tool_calls"] = false;
  auto res = r.chat(body);
  CAF_CHECK_EQUAL(res.status, 200);
  // The same through a fallback to Anthropic, which takes serial tool use
  // as its own tool_choice flag.
  rig failing{json{{"x-mock-fault", "status=500"}}};
  res = failing.chat(body);
  CAF_CHECK_EQUAL(res.status, 200);
  CAF_CHECK_EQUAL(res.header("x-switchyard-deployment").value_or(""),
                  "secondary");
  body["parallel_tool_calls"] = "no";
  res = r.chat(body);
  CAF_CHECK_EQUAL(res.status, 400);
  CAF_CHECK_EQUAL(field_of(res, "/error/param"), "parallel_tool_calls");
}

CAF_TEST(sampling hints do not break a fallback to Anthropic) {
  // The Anthropic mock, like Anthropic, refuses members it does not know.
  rig r{json{{"x-mock-fault", "status=500"}}};
  auto body = chat_body();
  body["seed"] = 7;
  body["presence_penalty"] = 0.5;
  body["frequency_penalty"] = -0.5;
  body["logprobs"] = false;
  body["parallel_tool_calls"] = true;
  body["temperature"] = 1.5; // above Anthropic's 1

  // A null optional field counts as not given, as OpenAI takes it.
  for (bool stream : {false, true}) {
    body["stream"] = stream;
    auto res = r.chat(body);
    CAF_CHECK_EQUAL(res.status, 200);
    CAF_CHECK_EQUAL(res.header("x-switchyard-deployment").value_or(""),
                    "secondary");
  }
  // A null optional field counts as not given, as OpenAI takes it.
  body = chat_body();
  for (const char* key : {"temperature", "top_p", "max_tokens", "user", "n",
                          "stop", "stream_options", "tool_choice", "seed"})
    body[key] = nullptr;
  CAF_CHECK_EQUAL(r.chat(body).status, 200);
}

CAF_TEST(a failing primary is invisible to the client) {
  rig r;
  for (int i = 0; i < 3; ++i)
    CAF_CHECK_EQUAL(r.chat(chat_body()).status, 200);
  // The primary starts failing mid-test.
  load_scenario(r.primary,
                {{"rules", {{{"faults", {{{"fault", "status=500"}}}}}}}});
  for (int i = 0; i < 5; ++i) {
    auto res = r.chat(chat_body());
    CAF_CHECK_EQUAL(res.status, 200);
    CAF_CHECK_EQUAL(field_of(res, "/object"), "chat.completion");
    CAF_CHECK_EQUAL(res.header("x-switchyard-provider").value_or(""),
                    "secondary");
    CAF_CHECK_EQUAL(res.header("x-switchyard-model").value_or(""), "claude-x");
  }
  auto res = r.chat(chat_body(true));
  CAF_CHECK_EQUAL(res.status, 200);
  auto events = parse_sse(res.body);
  CAF_REQUIRE(!events.empty());
  CAF_CHECK_EQUAL(events.back().data, "[DONE]");
  CAF_CHECK_EQUAL(res.header("x-switchyard-provider").value_or(""),
                  "secondary");
  CAF_CHECK_GREATER(mock_total(r.secondary), 5);
}

CAF_TEST(a fallback is named in the headers) {
  rig r{json{{"x-mock-fault", "status=500"}}};
  auto res = r.chat(chat_body());
  CAF_CHECK_EQUAL(res.status, 200);
  CAF_CHECK_EQUAL(res.header("x-switchyard-deployment").value_or(""),
                  "secondary");
  CAF_CHECK_EQUAL(res.header("x-switchyard-attempts").value_or(""), "2");
  CAF_CHECK_EQUAL(res.header("x-switchyard-fallback-reason").value_or(""),
                  "server_error");
  auto streamed = r.chat(chat_body(true));
  CAF_CHECK_EQUAL(streamed.status, 200);
  CAF_CHECK_EQUAL(streamed.header("x-switchyard-deployment").value_or(""),
                  "secondary");
  CAF_CHECK_EQUAL(streamed.header("x-switchyard-attempts").value_or(""), "2");
  CAF_CHECK_EQUAL(streamed.header("x-switchyard-fallback-reason").value_or(""),
                  "server_error");
}

CAF_TEST(a pinned call does not fall back) {
  rig r{json{{"x-mock-fault", "status=500"}}};
  auto res = r.chat(chat_body(), {{"x-switchyard-pin", "primary"}});
  CAF_CHECK_EQUAL(res.status, 502);
  CAF_CHECK_EQUAL(mock_total(r.secondary), 0);
  res = r.chat(chat_body(), {{"x-switchyard-pin", "nope"}});
  CAF_CHECK_EQUAL(res.status, 400);
  CAF_CHECK_EQUAL(field_of(res, "/error/param"), "x-switchyard-pin");
}
