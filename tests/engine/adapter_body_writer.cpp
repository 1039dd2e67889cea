#define CAF_SUITE adapter_body_writer
#include "engine/support_wire.hpp"
#include "switchyard/adapter.hpp"

#include <caf/test/unit_test.hpp>

// The OpenAI-family bodies are written straight into a string instead of
// being dumped from a nlohmann DOM. Each test builds, by hand, the DOM the
// adapters used to build and checks that the written body is that document:
// same bytes where the text is valid UTF-8, and the same parse in any case.

using namespace switchyard;
using namespace switchyard::test;
using json = nlohmann::json;

namespace {

const std::vector<std::string>& tricky() {
  static const std::vector<std::string> strings = {
      "",
      "plain",
      R"(a "quoted" word)",
      R"(back\slash \\ and \")",
      std::string{"nul\0byte", 8},
      "\x01\x02\x07\x08\t\n\x0b\x0c\r\x0e\x1b\x1f end",
      "del \x7f kept",
      "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80 \xe4\xb8\xad\xe6\x96\x87",
      "slash / and <tag> & \u2028 separator",
      "broken \xff\xfe utf-8",
      "cut \xe2\x9c",
      "\xc3",
  };
  return strings;
}

std::string dumped(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

endpoint openai_ep(std::string model = "gpt-4o-mini") {
  endpoint ep;
  ep.kind = provider_kind::openai_chat;
  ep.base_url = "http://127.0.0.1:1";
  ep.model = std::move(model);
  return ep;
}

std::string body_of(provider_kind kind, const chat_request& req,
                    const endpoint& ep) {
  auto built = adapter_for(kind).build_request(req, ep);
  CAF_REQUIRE(built.has_value());
  return built->body;
}

/// The DOM of one message, as `openai_messages` built it.
json message_dom(const message& m) {
  json msg = {{"role", std::string{to_string(m.from)}}};
  if (!m.parts.empty()) {
    json parts = json::array();
    for (const auto& p : m.parts)
      parts.push_back(
          p.type == "text" ? json{{"type", "text"}, {"text", p.text}} : p.raw);
    msg["content"] = parts;
  } else if (m.text.empty() && !m.tool_calls.empty()) {
    msg["content"] = nullptr;
  } else {
    msg["content"] = m.text;
  }
  if (!m.name.empty())
    msg["name"] = m.name;
  if (!m.tool_call_id.empty())
    msg["tool_call_id"] = m.tool_call_id;
  if (!m.tool_calls.empty()) {
    json calls = json::array();
    for (const auto& c : m.tool_calls)
      calls.push_back(
          {{"id", c.id},
           {"type", "function"},
           {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
    msg["tool_calls"] = calls;
  }
  return msg;
}

/// Every optional field set, `s` in every string the request carries.
chat_request full_request(const std::string& s) {
  chat_request req;
  req.model = "ignored: the endpoint names one";
  message sys{role::system, s, {}, s, {}, {}};
  message user;
  user.parts = {content_part{"text", s, {}},
                content_part{"image_url",
                             {},
                             {{"type", "image_url"},
                              {"image_url", {{"url", "data:x;base64,AA"}}}}}};
  message asst;
  asst.from = role::assistant;
  asst.tool_calls = {{s, s, R"({"city": ")" + s + "\"}"}, {"id2", "f", ""}};
  message tool{role::tool, s, {}, {}, s, {}};
  req.messages = {sys, user, asst, tool};
  req.temperature = 0.7;
  req.top_p = 1.0;
  req.max_tokens = 64;
  req.seed = -42;
  req.presence_penalty = 0.5;
  req.frequency_penalty = -1.0;
  req.stop = {s, "\n\n"};
  req.stream = true;
  req.tools = json::array(
      {{{"type", "function"},
        {"function", {{"name", "f"}, {"parameters", {{"type", "object"}}}}}}});
  req.tool_choice = "auto";
  req.parallel_tool_calls = false;
  req.response_format = {{"type", "json_object"}};
  req.user = s;
  req.metadata = {{s, s}, {"b", "2"}, {"a", "1"}};
  return req;
}

json full_dom(const chat_request& req, const std::string& model) {
  json body = json::object();
  body["model"] = model;
  json messages = json::array();
  for (const auto& m : req.messages)
    messages.push_back(message_dom(m));
  body["messages"] = messages;
  body["temperature"] = *req.temperature;
  body["top_p"] = *req.top_p;
  body["max_tokens"] = *req.max_tokens;
  body["seed"] = *req.seed;
  body["presence_penalty"] = *req.presence_penalty;
  body["frequency_penalty"] = *req.frequency_penalty;
  body["stop"] = req.stop;
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  body["tools"] = req.tools;
  body["tool_choice"] = req.tool_choice;
  body["parallel_tool_calls"] = false;
  body["response_format"] = req.response_format;
  if (!req.user.empty())
    body["user"] = req.user;
  body["metadata"] = req.metadata;
  return body;
}

} // namespace

CAF_TEST(every optional field with tricky strings is written as dumped) {
  for (const auto& s : tricky()) {
    CAF_MESSAGE("string of " << s.size() << " bytes");
    auto req = full_request(s);
    auto body = body_of(provider_kind::openai_chat, req, openai_ep());
    auto expected = full_dom(req, "gpt-4o-mini");
    auto expected_text = dumped(expected);
    CAF_CHECK_EQUAL(body, expected_text);
    auto parsed = json::parse(body, nullptr, false);
    CAF_REQUIRE(!parsed.is_discarded());
    CAF_CHECK_EQUAL(parsed, json::parse(expected_text));
  }
}

CAF_TEST(a minimal request has only model and messages) {
  chat_request req;
  req.messages = {message{}};
  auto body = body_of(provider_kind::openai_chat, req, openai_ep());
  CAF_CHECK_EQUAL(body, R"({"messages":[{"content":"","role":"user"}],)"
                        R"("model":"gpt-4o-mini"})");
  // Without a model (openai_compatible allows it) there is no model member.
  auto ep = openai_ep("");
  ep.kind = provider_kind::openai_compatible;
  body = body_of(provider_kind::openai_compatible, req, ep);
  CAF_CHECK_EQUAL(body, R"({"messages":[{"content":"","role":"user"}]})");
}

CAF_TEST(numbers are written as nlohmann writes them) {
  for (double t : {0.0, 1.0, 0.7, 2.0, 1e-7, 0.1 + 0.2, 123456789.125}) {
    chat_request req;
    req.messages = {message{}};
    req.temperature = t;
    auto body = body_of(provider_kind::openai_chat, req, openai_ep());
    auto parsed = json::parse(body, nullptr, false);
    CAF_REQUIRE(!parsed.is_discarded());
    CAF_CHECK(parsed["temperature"].is_number_float());
    CAF_CHECK_EQUAL(parsed["temperature"].get<double>(), t);
  }
  chat_request req;
  req.messages = {message{}};
  req.max_tokens = -9223372036854775807LL;
  auto body = body_of(provider_kind::openai_chat, req, openai_ep());
  CAF_CHECK_EQUAL(json::parse(body)["max_tokens"].get<int64_t>(),
                  -9223372036854775807LL);
}

CAF_TEST(tools without a choice and a choice without tools) {
  chat_request req;
  req.messages = {message{}};
  req.tool_choice = "required"; // dropped: OpenAI rejects it without tools
  auto body = body_of(provider_kind::openai_chat, req, openai_ep());
  CAF_CHECK(!json::parse(body).contains("tool_choice"));
  req.tools = json::array({{{"type", "function"}}});
  req.tool_choice = nullptr;
  body = body_of(provider_kind::openai_chat, req, openai_ep());
  auto parsed = json::parse(body);
  CAF_CHECK(!parsed.contains("tool_choice"));
  CAF_CHECK_EQUAL(parsed["tools"], req.tools);
}

CAF_TEST(extra members replace the written ones) {
  chat_request req;
  req.messages = {message{role::user, "hi", {}, {}, {}, {}}};
  req.max_tokens = 5;
  req.extra = {{"max_tokens", 7}, {"seed", 1}, {"model", "other"}};
  auto body = body_of(provider_kind::openai_chat, req, openai_ep());
  CAF_CHECK_EQUAL(body, R"({"max_tokens":7,"messages":[{"content":"hi",)"
                        R"("role":"user"}],"model":"other","seed":1})");
}

CAF_TEST(a content part without a body is still refused) {
  chat_request req;
  message m;
  m.parts = {content_part{"input_audio", {}, nullptr}};
  req.messages = {m};
  auto built
      = adapter_for(provider_kind::openai_chat).build_request(req, openai_ep());
  CAF_REQUIRE(!built.has_value());
  CAF_CHECK_EQUAL(built.error().message,
                  "content part of type 'input_audio' carries no body");
}

CAF_TEST(completions bodies carry the prompt in sorted order) {
  for (const auto& s : tricky()) {
    chat_request req;
    req.messages = {message{role::user, s, {}, {}, {}, {}}};
    req.max_tokens = 3;
    req.user = s;
    auto ep = openai_ep("gpt-3.5-turbo-instruct");
    ep.kind = provider_kind::openai_completions;
    auto body = body_of(provider_kind::openai_completions, req, ep);
    auto parsed = json::parse(body, nullptr, false);
    CAF_REQUIRE(!parsed.is_discarded());
    CAF_CHECK_EQUAL(body, dumped(parsed));
    CAF_CHECK_EQUAL(parsed["model"], "gpt-3.5-turbo-instruct");
    CAF_CHECK_EQUAL(parsed["max_tokens"], 3);
    if (s.empty())
      CAF_CHECK(!parsed.contains("user"));
    else
      CAF_CHECK_EQUAL(parsed["user"], json::parse(dumped(json(s))));
    CAF_CHECK(parsed["prompt"].is_string());
  }
}

CAF_TEST(sampling hints go to the DOM path too) {
  chat_request req;
  req.messages = {message{role::user, "hi", {}, {}, {}, {}}};
  req.seed = 7;
  req.presence_penalty = 1.5;
  req.frequency_penalty = 0.0;
  req.top_k = 40; // the OpenAI family has no top_k: left out
  auto written = body_of(provider_kind::openai_chat, req, openai_ep());
  CAF_CHECK_EQUAL(written, R"({"frequency_penalty":0.0,"messages":[)"
                           R"({"content":"hi","role":"user"}],)"
                           R"("model":"gpt-4o-mini","presence_penalty":1.5,)"
                           R"("seed":7})");
  // With an extra member the body is built from a DOM: same members.
  req.extra = {{"logit_bias", {{"1", 2}}}};
  auto dom = json::parse(body_of(provider_kind::openai_chat, req, openai_ep()));
  CAF_CHECK_EQUAL(dom["seed"], 7);
  CAF_CHECK_EQUAL(dom["presence_penalty"], 1.5);
  CAF_CHECK_EQUAL(dom["frequency_penalty"], 0.0);
  CAF_CHECK_EQUAL(dom["logit_bias"]["1"], 2);
  CAF_CHECK(!dom.contains("top_k"));
}

CAF_TEST(parallel tool calls is sent only with tools) {
  chat_request req;
  req.messages = {message{role::user, "hi", {}, {}, {}, {}}};
  req.parallel_tool_calls = false;
  auto body
      = json::parse(body_of(provider_kind::openai_chat, req, openai_ep()));
  CAF_CHECK(!body.contains("parallel_tool_calls"));
  req.tools
      = json::array({{{"type", "function"}, {"function", {{"name", "f"}}}}});
  body = json::parse(body_of(provider_kind::openai_chat, req, openai_ep()));
  CAF_CHECK_EQUAL(body["parallel_tool_calls"], false);
}
