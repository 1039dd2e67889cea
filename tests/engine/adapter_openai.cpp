#define CAF_SUITE adapter_openai
#include "engine/support_wire.hpp"
#include "switchyard/adapter.hpp"

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using json = nlohmann::json;

namespace {

const adapter& openai() {
  return adapter_for(provider_kind::openai_chat);
}

endpoint openai_endpoint(std::string model) {
  endpoint ep;
  ep.kind = provider_kind::openai_chat;
  ep.base_url = "https://api.openai.com";
  ep.model = std::move(model);
  ep.api_key = "sk-REDACTED";
  return ep;
}

wire_sample load(std::string_view name) {
  auto sample = load_wire(name);
  CAF_REQUIRE(sample.has_value());
  return std::move(*sample);
}

} // namespace

CAF_TEST(the chat sample request is built exactly) {
  auto sample = load("openai-chat.http");
  CAF_REQUIRE(sample.request.has_value());
  chat_request req;
  req.messages = {msg(role::system, "Be brief."),
                  msg(role::user, "What is the capital of France?")};
  req.temperature = 0.2;
  req.max_tokens = 64;
  auto built = openai().build_request(req, openai_endpoint("gpt-4o-mini"));
  CAF_REQUIRE(built.has_value());
  CAF_CHECK_EQUAL(diff_request(*built, *sample.request), "");
  CAF_CHECK(!find_header(built->headers, "Accept"));
}

CAF_TEST(the chat sample response is parsed) {
  auto sample = load("openai-chat.http");
  CAF_REQUIRE_EQUAL(sample.responses.size(), 1u);
  auto resp = openai().parse_response(sample.responses[0].http());
  CAF_REQUIRE(resp.has_value());
  CAF_CHECK_EQUAL(resp->id, "chatcmpl-9x2Yb3");
  CAF_CHECK_EQUAL(resp->model, "gpt-4o-mini-2024-07-18");
  CAF_CHECK_EQUAL(resp->text, "Paris.");
  CAF_CHECK(resp->finish == finish_reason::stop);
  CAF_CHECK_EQUAL(resp->finish_raw, "stop");
  CAF_CHECK(resp->tool_calls.empty());
  CAF_CHECK_EQUAL(resp->usage.prompt_tokens, 24);
  CAF_CHECK_EQUAL(resp->usage.completion_tokens, 2);
  CAF_CHECK_EQUAL(resp->usage.total_tokens, 26);
  auto rl = parse_rate_limit_headers(sample.responses[0].headers, test_now());
  CAF_CHECK_EQUAL(rl.limit_requests.value_or(-1), 10000);
  CAF_CHECK_EQUAL(rl.remaining_requests.value_or(-1), 9999);
  CAF_CHECK_EQUAL(rl.limit_tokens.value_or(-1), 200000);
  CAF_CHECK_EQUAL(rl.remaining_tokens.value_or(-1), 199970);
  CAF_CHECK(rl.reset_requests == timespan{6ms});
  CAF_CHECK(rl.reset_tokens == timespan{9ms});
}

CAF_TEST(the streaming sample request asks for usage and event streams) {
  auto sample = load("openai-chat-stream.http");
  CAF_REQUIRE(sample.request.has_value());
  chat_request req;
  req.messages = {msg(role::user, "Say hello")};
  req.stream = true;
  auto built = openai().build_request(req, openai_endpoint("gpt-4o-mini"));
  CAF_REQUIRE(built.has_value());
  CAF_CHECK_EQUAL(diff_request(*built, *sample.request), "");
  CAF_CHECK_EQUAL(find_header(built->headers, "accept").value_or(""),
                  "text/event-stream");
}

CAF_TEST(the streaming sample decodes to start deltas and one end) {
  auto sample = load("openai-chat-stream.http");
  CAF_REQUIRE_EQUAL(sample.responses.size(), 1u);
  auto out = decode_stream(openai(), sample.responses[0].body);
  CAF_CHECK(!out.error.has_value());
  CAF_CHECK(out.finished);
  CAF_CHECK(out.produced_content);
  CAF_REQUIRE_EQUAL(out.events.size(), 4u);
  auto start = std::get_if<stream_start>(&out.events[0]);
  CAF_REQUIRE(start != nullptr);
  CAF_CHECK_EQUAL(start->id, "chatcmpl-9x2Yc4");
  CAF_CHECK_EQUAL(start->model, "gpt-4o-mini-2024-07-18");
  auto d1 = std::get_if<text_delta>(&out.events[1]);
  auto d2 = std::get_if<text_delta>(&out.events[2]);
  CAF_REQUIRE(d1 != nullptr && d2 != nullptr);
  CAF_CHECK_EQUAL(d1->text, "Hel");
  CAF_CHECK_EQUAL(d2->text, "lo!");
  auto end = std::get_if<stream_end>(&out.events[3]);
  CAF_REQUIRE(end != nullptr);
  CAF_CHECK(end->finish == finish_reason::stop);
  CAF_CHECK_EQUAL(end->finish_raw, "stop");
  CAF_REQUIRE(end->usage.has_value());
  CAF_CHECK_EQUAL(end->usage->prompt_tokens, 9);
  CAF_CHECK_EQUAL(end->usage->completion_tokens, 3);
  CAF_CHECK_EQUAL(end->usage->total_tokens, 12);
}

CAF_TEST(a decoder is finished only at DONE and ignores what follows) {
  auto dec = openai().make_stream_decoder();
  std::vector<stream_event> out;
  sse_event ev;
  ev.data = R"({"id":"c1","model":"m","choices":[{"index":0,"delta":)"
            R"({"role":"assistant","content":""},"finish_reason":null}]})";
  CAF_CHECK(!dec->on_event(ev, out));
  CAF_CHECK_EQUAL(out.size(), 1u);
  CAF_CHECK(!dec->produced_content());
  ev.data = R"({"id":"c1","choices":[{"index":0,"delta":{},)"
            R"("finish_reason":"length"}]})";
  CAF_CHECK(!dec->on_event(ev, out));
  CAF_CHECK(!dec->finished());
  ev.data = "[DONE]";
  CAF_CHECK(!dec->on_event(ev, out));
  CAF_CHECK(dec->finished());
  CAF_REQUIRE_EQUAL(out.size(), 2u);
  auto end = std::get_if<stream_end>(&out[1]);
  CAF_REQUIRE(end != nullptr);
  CAF_CHECK(end->finish == finish_reason::length);
  CAF_CHECK(!end->usage.has_value());
  ev.data = "[DONE]";
  CAF_CHECK(!dec->on_event(ev, out));
  CAF_CHECK_EQUAL(out.size(), 2u);
}

CAF_TEST(the error sample request is minimal) {
  auto sample = load("openai-errors.http");
  CAF_REQUIRE(sample.request.has_value());
  chat_request req;
  req.messages = {msg(role::user, "hi")};
  auto built = openai().build_request(req, openai_endpoint("gpt-4o"));
  CAF_REQUIRE(built.has_value());
  CAF_CHECK_EQUAL(diff_request(*built, *sample.request), "");
}

CAF_TEST(every sample error is classified) {
  auto sample = load("openai-errors.http");
  struct expectation {
    int status;
    error_class cls;
    std::string code;
    std::optional<timespan> retry_after;
  };
  std::vector<expectation> want{
      {429, error_class::rate_limited, "rate_limit_exceeded", 1850ms},
      {429, error_class::quota_exhausted, "insufficient_quota", std::nullopt},
      {400, error_class::context_length, "context_length_exceeded",
       std::nullopt},
      {400, error_class::content_filter, "content_filter", std::nullopt},
      {401, error_class::auth, "invalid_api_key", std::nullopt},
      {404, error_class::bad_request, "model_not_found", std::nullopt},
      {500, error_class::server_error, "server_error", std::nullopt},
      {503, error_class::overloaded, "server_error", std::nullopt},
  };
  CAF_REQUIRE_EQUAL(sample.responses.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    CAF_MESSAGE("response " << i);
    auto f = openai().classify(sample.responses[i].http(), test_now());
    CAF_CHECK_EQUAL(f.status, want[i].status);
    CAF_CHECK_EQUAL(to_string(f.cls), to_string(want[i].cls));
    CAF_CHECK_EQUAL(f.code, want[i].code);
    CAF_CHECK(f.retry_after == want[i].retry_after);
    CAF_CHECK(!f.should_retry.has_value());
    CAF_CHECK(!f.message.empty());
  }
  auto first = openai().classify(sample.responses[0].http(), test_now());
  CAF_CHECK(first.message.starts_with("Rate limit reached for gpt-4o"));
  auto rl = parse_rate_limit_headers(sample.responses[0].headers, test_now());
  CAF_CHECK_EQUAL(rl.remaining_requests.value_or(-1), 0);
  CAF_CHECK_EQUAL(rl.limit_requests.value_or(-1), 500);
  CAF_CHECK(rl.reset_requests == timespan{1850ms});
  CAF_CHECK(rl.reset_tokens == timespan{20ms});
  CAF_CHECK(sample.responses[1].lead_notes.size() == 1
            && sample.responses[1].lead_notes[0].starts_with("Quota"));
}

CAF_TEST(x - should - retry travels with the class it overrides) {
  http_response resp{500,
                     {{"x-should-retry", "false"}},
                     R"({"error":{"message":"boom","type":"server_error"}})"};
  auto f = openai().classify(resp, test_now());
  CAF_CHECK(f.cls == error_class::server_error);
  CAF_CHECK(f.should_retry == std::optional<bool>{false});
  resp.status = 409;
  resp.headers = {{"X-Should-Retry", "true"}};
  f = openai().classify(resp, test_now());
  CAF_CHECK(f.cls == error_class::bad_request);
  CAF_CHECK(f.should_retry == std::optional<bool>{true});
}

CAF_TEST(unknown statuses and bodies fall back by status range) {
  auto f = openai().classify({418, {}, "I'm a teapot"}, test_now());
  CAF_CHECK(f.cls == error_class::bad_request);
  CAF_CHECK_EQUAL(f.message, "I'm a teapot");
  f = openai().classify({502, {}, "<html>Bad Gateway</html>"}, test_now());
  CAF_CHECK(f.cls == error_class::server_error);
  f = openai().classify({504, {}, ""}, test_now());
  CAF_CHECK(f.cls == error_class::server_error);
  f = openai().classify({408, {}, ""}, test_now());
  CAF_CHECK(f.cls == error_class::timeout);
  f = openai().classify({403, {}, ""}, test_now());
  CAF_CHECK(f.cls == error_class::auth);
  f = openai().classify({422, {}, R"({"detail":"bad field"})"}, test_now());
  CAF_CHECK(f.cls == error_class::bad_request);
  CAF_CHECK_EQUAL(f.message, "bad field");
}

CAF_TEST(unknown fields are ignored) {
  http_response resp{200, {}, R"({
    "id":"x1","object":"chat.completion","model":"m","future":{"a":[1,2]},
    "choices":[{"index":0,"message":{"role":"assistant","content":"ok",
      "annotations":[],"audio":null,"new_thing":7},"finish_reason":"stop",
      "logprobs":{"content":[]}}],
    "usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3,
      "prompt_tokens_details":{"cached_tokens":0}},"service_tier":"default"})"};
  auto r = openai().parse_response(resp);
  CAF_REQUIRE(r.has_value());
  CAF_CHECK_EQUAL(r->text, "ok");
  CAF_CHECK_EQUAL(r->usage.total_tokens, 3);
}

CAF_TEST(bodies that do not parse are malformed) {
  for (auto body : {R"({"id":"x","choices":[)", R"({"id":"x"})",
                    R"({"choices":[]})", R"({"choices":["text"]})",
                    R"({"choices":[{"index":0}]})", "", "[1,2]"}) {
    CAF_MESSAGE("body " << body);
    auto r = openai().parse_response({200, {}, body});
    CAF_REQUIRE(!r.has_value());
    CAF_CHECK(r.error().cls == error_class::malformed);
    CAF_CHECK_EQUAL(r.error().status, 200);
  }
}

CAF_TEST(a 2xx carrying an error object is classified) {
  auto r = openai().parse_response(
      {200, {}, R"({"error":{"message":"overloaded","type":"server_error"}})"});
  CAF_REQUIRE(!r.has_value());
  CAF_CHECK(r.error().cls == error_class::server_error);
  CAF_CHECK_EQUAL(r.error().status, 200);
  CAF_CHECK_EQUAL(r.error().code, "server_error");
}

CAF_TEST(tool calls make the round trip) {
  chat_request req;
  req.messages = {msg(role::user, "weather in Paris?")};
  message call = msg(role::assistant, "");
  call.tool_calls = {{"call_1", "get_weather", R"({"city":"Paris"})"}};
  req.messages.push_back(call);
  message result = msg(role::tool, R"({"temp":21})");
  result.tool_call_id = "call_1";
  req.messages.push_back(result);
  req.tools = json::parse(R"([{"type":"function","function":{
    "name":"get_weather","parameters":{"type":"object"}}}])");
  req.tool_choice = "auto";
  auto built = openai().build_request(req, openai_endpoint("gpt-4o"));
  CAF_REQUIRE(built.has_value());
  auto body = body_of(*built);
  CAF_CHECK(body["tools"] == req.tools);
  CAF_CHECK(body["tool_choice"] == "auto");
  auto& m = body["messages"];
  CAF_CHECK(m[1]["content"].is_null());
  CAF_CHECK(m[1]["tool_calls"] == json::parse(R"([{"id":"call_1",
    "type":"function","function":{"name":"get_weather",
    "arguments":"{\"city\":\"Paris\"}"}}])"));
  CAF_CHECK(m[2] == json::parse(R"({"role":"tool","tool_call_id":"call_1",
    "content":"{\"temp\":21}"})"));
  auto resp = openai().parse_response({200, {}, R"({"id":"c","choices":[{
    "index":0,"message":{"role":"assistant","content":null,"tool_calls":[
    {"id":"call_9","type":"function","function":{"name":"get_weather",
    "arguments":"{\"city\":\"Rome\"}"}}]},"finish_reason":"tool_calls"}]})"});
  CAF_REQUIRE(resp.has_value());
  CAF_CHECK(resp->finish == finish_reason::tool_calls);
  CAF_CHECK_EQUAL(resp->text, "");
  CAF_REQUIRE_EQUAL(resp->tool_calls.size(), 1u);
  CAF_CHECK_EQUAL(resp->tool_calls[0].id, "call_9");
  CAF_CHECK_EQUAL(resp->tool_calls[0].name, "get_weather");
  CAF_CHECK_EQUAL(resp->tool_calls[0].arguments, R"({"city":"Rome"})");
}

CAF_TEST(tool call deltas stream with their index) {
  auto out = decode_stream(
      openai(),
      "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
      "\"assistant\",\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":"
      "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]}}]}\n\n"
      "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":"
      "[{\"index\":0,\"function\":{\"arguments\":\"{\\\"a\\\":1}\"}}]}}]}\n\n"
      "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},"
      "\"finish_reason\":\"tool_calls\"}]}\n\n"
      "data: [DONE]\n\n");
  CAF_CHECK(!out.error.has_value());
  CAF_CHECK(out.produced_content);
  CAF_REQUIRE_EQUAL(out.events.size(), 4u);
  auto first = std::get_if<tool_call_delta>(&out.events[1]);
  auto second = std::get_if<tool_call_delta>(&out.events[2]);
  CAF_REQUIRE(first != nullptr && second != nullptr);
  CAF_CHECK_EQUAL(first->id, "call_1");
  CAF_CHECK_EQUAL(first->name, "f");
  CAF_CHECK_EQUAL(second->index, 0);
  CAF_CHECK_EQUAL(second->arguments, R"({"a":1})");
  auto end = std::get_if<stream_end>(&out.events[3]);
  CAF_REQUIRE(end != nullptr);
  CAF_CHECK(end->finish == finish_reason::tool_calls);
}

CAF_TEST(stream chunks that do not parse or carry errors fail the stream) {
  auto out = decode_stream(openai(), "data: {\"choices\":[\n\n");
  CAF_REQUIRE(out.error.has_value());
  CAF_CHECK(out.error->cls == error_class::malformed);
  out = decode_stream(openai(),
                      "data: {\"error\":{\"message\":\"The server is "
                      "overloaded\",\"type\":\"overloaded_error\"}}\n\n");
  CAF_REQUIRE(out.error.has_value());
  CAF_CHECK(out.error->cls == error_class::overloaded);
  CAF_CHECK(!out.finished);
}

CAF_TEST(content parts pass through and options are mapped) {
  chat_request req;
  message m;
  m.parts.push_back({"text", "what is this?", nullptr});
  m.parts.push_back(
      {"image_url", "", json::parse(R"({"type":"image_url","image_url":{
                       "url":"https://x/cat.png","detail":"low"}})")});
  req.messages = {m};
  req.top_p = 0.5;
  req.stop = {"END"};
  req.user = "u-1";
  req.metadata = {{"team", "search"}};
  req.response_format = json{{"type", "json_object"}};
  req.tool_choice = "auto"; // dropped: no tools
  req.extra = json{{"seed", 7}, {"top_p", 0.9}};
  auto built = openai().build_request(req, openai_endpoint("gpt-4o"));
  CAF_REQUIRE(built.has_value());
  CAF_CHECK(body_of(*built) == json::parse(R"({"model":"gpt-4o","messages":[
    {"role":"user","content":[{"type":"text","text":"what is this?"},
     {"type":"image_url","image_url":{"url":"https://x/cat.png",
      "detail":"low"}}]}],
    "top_p":0.9,"stop":["END"],"user":"u-1","metadata":{"team":"search"},
    "response_format":{"type":"json_object"},"seed":7})"));
}

CAF_TEST(requests that cannot be expressed name what is missing) {
  chat_request req;
  req.messages = {msg(role::user, "hi")};
  auto built = openai().build_request(req, openai_endpoint(""));
  CAF_REQUIRE(!built.has_value());
  CAF_CHECK(built.error().cls == error_class::bad_request);
  CAF_CHECK(built.error().message.find("model") != std::string::npos);
  req.model = "gpt-4o";
  built = openai().build_request(req, openai_endpoint(""));
  CAF_REQUIRE(built.has_value());
  CAF_CHECK(body_of(*built)["model"] == "gpt-4o");
  built = openai().build_request(req, openai_endpoint("gpt-4o-mini"));
  CAF_REQUIRE(built.has_value());
  CAF_CHECK(body_of(*built)["model"] == "gpt-4o-mini");
  req.messages.clear();
  built = openai().build_request(req, openai_endpoint("gpt-4o"));
  CAF_REQUIRE(!built.has_value());
  CAF_CHECK(built.error().message.find("messages") != std::string::npos);
}

CAF_TEST(unusual but valid answers are read and broken ones are named) {
  // Content as a list of parts; tool arguments sent as an object (some
  // compatible servers do); escapes and non-ASCII text.
  auto resp = openai().parse_response({200, {}, R"({"id":"c","model":"m",
    "choices":[{"index":0,"message":{"role":"assistant","content":[
    {"type":"text","text":"caf\u00e9 "},{"type":"text","text":"\"ok\"\n"}],
    "tool_calls":[{"id":"t","function":{"name":"f",
    "arguments":{"city":"Z\u00fcrich","n":[1,2.5,null]}}}]},
    "finish_reason":"length"}],"usage":{"prompt_tokens":3,
    "completion_tokens":2}})"});
  CAF_REQUIRE(resp.has_value());
  CAF_CHECK_EQUAL(resp->text, "caf\xc3\xa9 \"ok\"\n");
  CAF_CHECK(resp->finish == finish_reason::length);
  CAF_REQUIRE_EQUAL(resp->tool_calls.size(), 1u);
  CAF_CHECK(json::parse(resp->tool_calls[0].arguments)
            == json::parse(R"({"city":"Z\u00fcrich","n":[1,2.5,null]})"));
  // total_tokens is missing: it is the sum.
  CAF_CHECK_EQUAL(resp->usage.total_tokens, 5);
  // A legacy completions answer: `text` instead of a message.
  resp = openai().parse_response(
      {200, {}, R"({"choices":[{"text":"hi","finish_reason":"stop"}]})"});
  CAF_REQUIRE(resp.has_value());
  CAF_CHECK_EQUAL(resp->text, "hi");
  // What cannot be an answer says why.
  auto broken = [](std::string body) {
    auto r = openai().parse_response({200, {}, std::move(body)});
    CAF_REQUIRE(!r.has_value());
    return r.error();
  };
  auto f = broken("<html>bad gateway</html>");
  CAF_CHECK(f.cls == error_class::malformed);
  CAF_CHECK_EQUAL(f.message, "response body is not valid JSON");
  CAF_CHECK_EQUAL(f.status, 200);
  f = broken(R"({"id":"c","choices":[]})");
  CAF_CHECK_EQUAL(f.message, "response has no choices");
  f = broken(R"({"choices":[{"index":0}]})");
  CAF_CHECK_EQUAL(f.message, "choices[0] has neither a message nor a text");
  f = broken(R"({"choices":["x"]})");
  CAF_CHECK_EQUAL(f.message, "response has no choices");
  f = broken("{\"choices\":[{\"text\":\"\xff\"}]}");
  CAF_CHECK_EQUAL(f.message, "response body is not valid JSON");
  // A 200 that carries an error document is classified as that error.
  f = broken(R"({"error":{"message":"slow down","type":"rate_limit_error",
    "code":"rate_limit_exceeded"}})");
  CAF_CHECK(f.cls == error_class::rate_limited);
  CAF_CHECK_EQUAL(f.message, "slow down");
}
