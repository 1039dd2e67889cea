#define CAF_SUITE adapter_anthropic
#include "engine/support_wire.hpp"
#include "switchyard/adapter.hpp"

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using json = nlohmann::json;

namespace {

const adapter& claude() {
  return adapter_for(provider_kind::anthropic_messages);
}

endpoint claude_endpoint() {
  endpoint ep;
  ep.kind = provider_kind::anthropic_messages;
  ep.base_url = "https://api.anthropic.com";
  ep.model = "claude-sonnet-4-20250514";
  ep.api_key = "sk-ant-REDACTED";
  ep.auth = auth_style::header;
  return ep;
}

wire_sample load(std::string_view name) {
  auto sample = load_wire(name);
  CAF_REQUIRE(sample.has_value());
  return std::move(*sample);
}

} // namespace

CAF_TEST(the messages sample request is built exactly) {
  auto sample = load("anthropic-messages.http");
  CAF_REQUIRE(sample.request.has_value());
  chat_request req;
  req.messages = {msg(role::system, "Be brief."),
                  msg(role::user, "What is the capital of France?")};
  req.temperature = 0.2;
  req.max_tokens = 256;
  auto built = claude().build_request(req, claude_endpoint());
  CAF_REQUIRE(built.has_value());
  CAF_CHECK_EQUAL(diff_request(*built, *sample.request), "");
  // The struct's default (bearer) still means x-api-key for Anthropic.
  auto ep = claude_endpoint();
  ep.auth = auth_style::bearer;
  built = claude().build_request(req, ep);
  CAF_REQUIRE(built.has_value());
  CAF_CHECK_EQUAL(diff_request(*built, *sample.request), "");
  ep.auth = auth_style::none;
  built = claude().build_request(req, ep);
  CAF_REQUIRE(built.has_value());
  CAF_CHECK(!find_header(built->headers, "x-api-key"));
}

CAF_TEST(the messages sample response is parsed) {
  auto sample = load("anthropic-messages.http");
  CAF_REQUIRE_EQUAL(sample.responses.size(), 1u);
  auto resp = claude().parse_response(sample.responses[0].http());
  CAF_REQUIRE(resp.has_value());
  CAF_CHECK_EQUAL(resp->id, "msg_01XFDUDYJgAACzvnptvVoYEL");
  CAF_CHECK_EQUAL(resp->model, "claude-sonnet-4-20250514");
  CAF_CHECK_EQUAL(resp->text, "Paris.");
  CAF_CHECK(resp->finish == finish_reason::stop);
  CAF_CHECK_EQUAL(resp->finish_raw, "end_turn");
  CAF_CHECK_EQUAL(resp->usage.prompt_tokens, 21);
  CAF_CHECK_EQUAL(resp->usage.completion_tokens, 5);
  CAF_CHECK_EQUAL(resp->usage.total_tokens, 26);
  auto rl = parse_rate_limit_headers(sample.responses[0].headers, test_now());
  CAF_CHECK_EQUAL(rl.limit_requests.value_or(-1), 4000);
  CAF_CHECK_EQUAL(rl.remaining_requests.value_or(-1), 3999);
  CAF_CHECK(rl.reset_requests == timespan{1s});
}

CAF_TEST(the streaming sample request sets stream) {
  auto sample = load("anthropic-messages-stream.http");
  CAF_REQUIRE(sample.request.has_value());
  chat_request req;
  req.messages = {msg(role::user, "Say hello")};
  req.max_tokens = 256;
  req.stream = true;
  auto built = claude().build_request(req, claude_endpoint());
  CAF_REQUIRE(built.has_value());
  CAF_CHECK_EQUAL(diff_request(*built, *sample.request), "");
  CAF_CHECK_EQUAL(find_header(built->headers, "accept").value_or(""),
                  "text/event-stream");
}

CAF_TEST(the streaming sample and its error variant decode) {
  auto sample = load("anthropic-messages-stream.http");
  CAF_REQUIRE_EQUAL(sample.responses.size(), 1u);
  const auto& resp = sample.responses[0];
  CAF_REQUIRE_EQUAL(resp.notes.size(), 1u);
  CAF_REQUIRE(resp.notes[0].text.starts_with("Variant"));
  auto cut = resp.notes[0].offset;
  auto normal = decode_stream(claude(), resp.body.substr(0, cut));
  CAF_CHECK(!normal.error.has_value());
  CAF_CHECK(normal.finished);
  CAF_CHECK(normal.produced_content);
  CAF_REQUIRE_EQUAL(normal.events.size(), 4u);
  auto start = std::get_if<stream_start>(&normal.events[0]);
  CAF_REQUIRE(start != nullptr);
  CAF_CHECK_EQUAL(start->id, "msg_01ABC");
  CAF_CHECK_EQUAL(start->model, "claude-sonnet-4-20250514");
  CAF_CHECK_EQUAL(streamed_text(normal.events), "Hello!");
  auto end = std::get_if<stream_end>(&normal.events[3]);
  CAF_REQUIRE(end != nullptr);
  CAF_CHECK(end->finish == finish_reason::stop);
  CAF_CHECK_EQUAL(end->finish_raw, "end_turn");
  CAF_REQUIRE(end->usage.has_value());
  CAF_CHECK_EQUAL(end->usage->prompt_tokens, 10);
  CAF_CHECK_EQUAL(end->usage->completion_tokens, 3);
  CAF_CHECK_EQUAL(end->usage->total_tokens, 13);
  auto variant = decode_stream(claude(), resp.body.substr(cut));
  CAF_REQUIRE(variant.error.has_value());
  CAF_CHECK(variant.error->cls == error_class::overloaded);
  CAF_CHECK_EQUAL(variant.error->code, "overloaded_error");
  CAF_CHECK_EQUAL(variant.error->message, "Overloaded");
  CAF_CHECK(variant.produced_content);
  CAF_CHECK(!variant.finished);
  CAF_CHECK_EQUAL(streamed_text(variant.events), "Hel");
}

CAF_TEST(every sample error is classified) {
  auto sample = load("anthropic-errors.http");
  struct expectation {
    int status;
    error_class cls;
    std::string code;
    std::optional<timespan> retry_after;
  };
  std::vector<expectation> want{
      {429, error_class::rate_limited, "rate_limit_error", 7s},
      {529, error_class::overloaded, "overloaded_error", std::nullopt},
      {500, error_class::server_error, "api_error", std::nullopt},
      {400, error_class::context_length, "invalid_request_error", std::nullopt},
      {401, error_class::auth, "authentication_error", std::nullopt},
      {413, error_class::bad_request, "request_too_large", std::nullopt},
  };
  CAF_REQUIRE_EQUAL(sample.responses.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    CAF_MESSAGE("response " << i);
    auto f = claude().classify(sample.responses[i].http(), test_now());
    CAF_CHECK_EQUAL(f.status, want[i].status);
    CAF_CHECK_EQUAL(to_string(f.cls), to_string(want[i].cls));
    CAF_CHECK_EQUAL(f.code, want[i].code);
    CAF_CHECK(f.retry_after == want[i].retry_after);
    CAF_CHECK(!f.message.empty());
  }
  auto rl = parse_rate_limit_headers(sample.responses[0].headers, test_now());
  CAF_CHECK_EQUAL(rl.remaining_requests.value_or(-1), 0);
  CAF_CHECK(rl.reset_requests == timespan{7s});
}

CAF_TEST(a 200 with an error body is classified) {
  auto r = claude().parse_response(
      {200, {}, R"({"type":"error","error":{"type":"overloaded_error",
                  "message":"Overloaded"}})"});
  CAF_REQUIRE(!r.has_value());
  CAF_CHECK(r.error().cls == error_class::overloaded);
  CAF_CHECK_EQUAL(r.error().status, 200);
  r = claude().parse_response(
      {200, {}, R"({"type":"error","error":{"type":"rate_limit_error",
                  "message":"slow down"}})"});
  CAF_REQUIRE(!r.has_value());
  CAF_CHECK(r.error().cls == error_class::rate_limited);
}

CAF_TEST(malformed bodies and events are malformed) {
  for (auto body :
       {"{", R"({"id":"m","type":"message"})", R"({"content":"text"})"}) {
    auto r = claude().parse_response({200, {}, body});
    CAF_REQUIRE(!r.has_value());
    CAF_CHECK(r.error().cls == error_class::malformed);
  }
  auto out = decode_stream(claude(), "event: message_start\ndata: {oops\n\n");
  CAF_REQUIRE(out.error.has_value());
  CAF_CHECK(out.error->cls == error_class::malformed);
}

CAF_TEST(tools and tool results are translated) {
  chat_request req;
  req.messages = {msg(role::system, "Use tools."),
                  msg(role::user, "Weather in Paris and Rome?")};
  message call = msg(role::assistant, "Checking.");
  call.tool_calls = {{"toolu_1", "get_weather", R"({"city":"Paris"})"},
                     {"toolu_2", "get_weather", R"({"city":"Rome"})"}};
  req.messages.push_back(call);
  message r1 = msg(role::tool, "21C");
  r1.tool_call_id = "toolu_1";
  message r2 = msg(role::tool, "25C");
  r2.tool_call_id = "toolu_2";
  req.messages.push_back(r1);
  req.messages.push_back(r2);
  req.tools = json::parse(R"([{"type":"function","function":{
    "name":"get_weather","description":"Weather by city",
    "parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}])");
  req.tool_choice
      = json::parse(R"({"type":"function","function":{"name":"get_weather"}})");
  req.stop = {"###"};
  req.user = "user-7";
  auto ep = claude_endpoint();
  ep.default_max_tokens = 1000;
  auto built = claude().build_request(req, ep);
  CAF_REQUIRE(built.has_value());
  CAF_CHECK(body_of(*built) == json::parse(R"({
    "model":"claude-sonnet-4-20250514","max_tokens":1000,
    "system":"Use tools.",
    "messages":[
      {"role":"user","content":"Weather in Paris and Rome?"},
      {"role":"assistant","content":[{"type":"text","text":"Checking."},
        {"type":"tool_use","id":"toolu_1","name":"get_weather",
         "input":{"city":"Paris"}},
        {"type":"tool_use","id":"toolu_2","name":"get_weather",
         "input":{"city":"Rome"}}]},
      {"role":"user","content":[
        {"type":"tool_result","tool_use_id":"toolu_1","content":"21C"},
        {"type":"tool_result","tool_use_id":"toolu_2","content":"25C"}]}],
    "stop_sequences":["###"],
    "tools":[{"name":"get_weather","description":"Weather by city",
      "input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}],
    "tool_choice":{"type":"tool","name":"get_weather"},
    "metadata":{"user_id":"user-7"}})"));
}

CAF_TEST(tool use responses become tool calls) {
  auto r = claude().parse_response({200, {}, R"({"id":"msg_2","type":"message",
    "role":"assistant","model":"claude","content":[
      {"type":"text","text":"Let me check."},
      {"type":"tool_use","id":"toolu_9","name":"get_weather",
       "input":{"city":"Oslo"}}],
    "stop_reason":"tool_use","usage":{"input_tokens":5,"output_tokens":9,
    "cache_read_input_tokens":100}})"});
  CAF_REQUIRE(r.has_value());
  CAF_CHECK_EQUAL(r->text, "Let me check.");
  CAF_CHECK(r->finish == finish_reason::tool_calls);
  CAF_REQUIRE_EQUAL(r->tool_calls.size(), 1u);
  CAF_CHECK_EQUAL(r->tool_calls[0].id, "toolu_9");
  CAF_CHECK(json::parse(r->tool_calls[0].arguments)
            == json::parse(R"({"city":"Oslo"})"));
  CAF_CHECK_EQUAL(r->usage.prompt_tokens, 105);
  CAF_CHECK_EQUAL(r->usage.total_tokens, 114);
  r = claude().parse_response({200, {}, R"({"content":[],
    "stop_reason":"max_tokens"})"});
  CAF_REQUIRE(r.has_value());
  CAF_CHECK(r->finish == finish_reason::length);
}

CAF_TEST(tool use streams as tool call deltas) {
  auto out = decode_stream(
      claude(),
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
      "{\"id\":\"m\",\"model\":\"c\",\"usage\":{\"input_tokens\":4}}}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\","
      "\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
      "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hm.\"}}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\","
      "\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\","
      "\"name\":\"f\",\"input\":{}}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
      "\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
      "\"partial_json\":\"{\\\"a\\\":\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
      "\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
      "\"partial_json\":\"1}\"}}\n\n"
      "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":"
      "{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":7}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
  CAF_CHECK(!out.error.has_value());
  CAF_CHECK(out.finished);
  CAF_REQUIRE_EQUAL(out.events.size(), 6u);
  auto head = std::get_if<tool_call_delta>(&out.events[2]);
  CAF_REQUIRE(head != nullptr);
  CAF_CHECK_EQUAL(head->index, 0);
  CAF_CHECK_EQUAL(head->id, "toolu_1");
  CAF_CHECK_EQUAL(head->name, "f");
  std::string args;
  for (size_t i = 2; i < 5; ++i) {
    auto d = std::get_if<tool_call_delta>(&out.events[i]);
    CAF_REQUIRE(d != nullptr);
    CAF_CHECK_EQUAL(d->index, 0);
    args += d->arguments;
  }
  CAF_CHECK_EQUAL(args, R"({"a":1})");
  auto end = std::get_if<stream_end>(&out.events[5]);
  CAF_REQUIRE(end != nullptr);
  CAF_CHECK(end->finish == finish_reason::tool_calls);
  CAF_CHECK_EQUAL(end->usage->prompt_tokens, 4);
  CAF_CHECK_EQUAL(end->usage->completion_tokens, 7);
}

CAF_TEST(images map to blocks and the unexpressible is refused) {
  chat_request req;
  message m;
  m.parts.push_back({"text", "what?", nullptr});
  m.parts.push_back(
      {"image_url", "",
       json{{"type", "image_url"},
            {"image_url", {{"url", "data:image/png;base64,AAAA"}}}}});
  req.messages = {m};
  auto ep = claude_endpoint();
  ep.api_version = "2024-01-01";
  auto built = claude().build_request(req, ep);
  CAF_REQUIRE(built.has_value());
  CAF_CHECK_EQUAL(find_header(built->headers, "anthropic-version").value_or(""),
                  "2024-01-01");
  auto body = body_of(*built);
  CAF_CHECK(body["max_tokens"] == 4096);
  CAF_CHECK(body["messages"][0]["content"][1] == json::parse(R"({
    "type":"image","source":{"type":"base64","media_type":"image/png",
    "data":"AAAA"}})"));
  req.messages[0].parts.push_back(
      {"input_audio", "", json{{"type", "input_audio"}}});
  built = claude().build_request(req, ep);
  CAF_REQUIRE(!built.has_value());
  CAF_CHECK(built.error().cls == error_class::bad_request);
  CAF_CHECK(built.error().message.find("input_audio") != std::string::npos);
  req.messages = {msg(role::user, "hi")};
  req.response_format = json{{"type", "json_object"}};
  built = claude().build_request(req, ep);
  CAF_REQUIRE(!built.has_value());
  CAF_CHECK(built.error().message.find("response_format") != std::string::npos);
  req.response_format = nullptr;
  message bad_call = msg(role::assistant, "");
  bad_call.tool_calls = {{"t1", "f", "not json"}};
  req.messages.push_back(bad_call);
  built = claude().build_request(req, ep);
  CAF_REQUIRE(!built.has_value());
  CAF_CHECK(built.error().message.find("t1") != std::string::npos);
}

CAF_TEST(sampling hints Anthropic lacks are left out) {
  chat_request req;
  req.messages = {msg(role::user, "hi")};
  req.temperature = 0.2;
  req.seed = 11;
  req.presence_penalty = 0.25;
  req.frequency_penalty = -0.5;
  auto built = claude().build_request(req, claude_endpoint());
  CAF_REQUIRE(built.has_value());
  auto body = json::parse(built->body);
  CAF_CHECK(!body.contains("seed"));
  CAF_CHECK(!body.contains("presence_penalty"));
  CAF_CHECK(!body.contains("frequency_penalty"));
  CAF_CHECK_EQUAL(body["temperature"], 0.2);
}

CAF_TEST(top k is sent and a temperature above 1 is served at 1) {
  chat_request req;
  req.messages = {msg(role::user, "hi")};
  req.temperature = 1.5;
  req.top_k = 40;
  auto built = claude().build_request(req, claude_endpoint());
  CAF_REQUIRE(built.has_value());
  auto body = json::parse(built->body);
  CAF_CHECK_EQUAL(body["temperature"], 1.0);
  CAF_CHECK_EQUAL(body["top_k"], 40);
}

CAF_TEST(serial tool use becomes disable_parallel_tool_use) {
  chat_request req;
  req.messages = {msg(role::user, "hi")};
  req.tools = json::array(
      {{{"type", "function"},
        {"function", {{"name", "f"}, {"parameters", json::object()}}}}});
  req.parallel_tool_calls = false;
  auto body_with = [&](json choice) {
    req.tool_choice = std::move(choice);
    auto built = claude().build_request(req, claude_endpoint());
    CAF_REQUIRE(built.has_value());
    return json::parse(built->body);
  };
  // Without a choice: auto, made serial.
  auto body = body_with(nullptr);
  CAF_CHECK_EQUAL(
      body["tool_choice"],
      json({{"type", "auto"}, {"disable_parallel_tool_use", true}}));
  body = body_with("required");
  CAF_CHECK_EQUAL(body["tool_choice"],
                  json({{"type", "any"}, {"disable_parallel_tool_use", true}}));
  body = body_with("none");
  CAF_CHECK_EQUAL(body["tool_choice"], json({{"type", "none"}}));
  // Parallel allowed (or unset): no flag, no choice added.
  req.parallel_tool_calls = true;
  body = body_with(nullptr);
  CAF_CHECK(!body.contains("tool_choice"));
}
