#define CAF_SUITE adapter_completions
#include "engine/support_wire.hpp"
#include "switchyard/adapter.hpp"

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using json = nlohmann::json;

namespace {

const adapter& completions() {
  return adapter_for(provider_kind::openai_completions);
}

endpoint instruct() {
  endpoint ep;
  ep.kind = provider_kind::openai_completions;
  ep.base_url = "https://api.openai.com";
  ep.model = "gpt-3.5-turbo-instruct";
  ep.api_key = "sk-REDACTED";
  return ep;
}

wire_sample load() {
  auto sample = load_wire("openai-completions-legacy.http");
  CAF_REQUIRE(sample.has_value());
  return std::move(*sample);
}

} // namespace

CAF_TEST(the legacy sample request is built exactly) {
  auto sample = load();
  CAF_REQUIRE(sample.request.has_value());
  chat_request req;
  req.messages = {msg(role::user, "Explain quantum computing like I'm 5.")};
  req.max_tokens = 64;
  auto built = completions().build_request(req, instruct());
  CAF_REQUIRE(built.has_value());
  CAF_CHECK_EQUAL(diff_request(*built, *sample.request), "");
}

CAF_TEST(the legacy sample response is parsed) {
  auto sample = load();
  CAF_REQUIRE_EQUAL(sample.responses.size(), 1u);
  auto r = completions().parse_response(sample.responses[0].http());
  CAF_REQUIRE(r.has_value());
  CAF_CHECK_EQUAL(r->id, "cmpl-8x1");
  CAF_CHECK_EQUAL(r->model, "gpt-3.5-turbo-instruct");
  CAF_CHECK_EQUAL(r->text, "Tiny things can be in two places at once...");
  CAF_CHECK(r->finish == finish_reason::length);
  CAF_CHECK_EQUAL(r->finish_raw, "length");
  CAF_CHECK_EQUAL(r->usage.prompt_tokens, 9);
  CAF_CHECK_EQUAL(r->usage.completion_tokens, 64);
  CAF_CHECK_EQUAL(r->usage.total_tokens, 73);
}

CAF_TEST(conversations render as role lines ending with assistant) {
  chat_request req;
  req.messages = {msg(role::system, "Be brief."), msg(role::user, "Hi"),
                  msg(role::assistant, "Hello."), msg(role::user, "Bye")};
  req.stop = {"\nuser:"};
  req.stream = true;
  auto ep = instruct();
  ep.base_url = "http://localhost:8080/v1";
  auto built = completions().build_request(req, ep);
  CAF_REQUIRE(built.has_value());
  CAF_CHECK_EQUAL(built->url, "http://localhost:8080/v1/completions");
  CAF_CHECK(json::parse(built->body) == json::parse(R"({
    "model":"gpt-3.5-turbo-instruct",
    "prompt":"system: Be brief.\nuser: Hi\nassistant: Hello.\nuser: Bye\nassistant:",
    "stop":["\nuser:"],"stream":true,"stream_options":{"include_usage":true}})"));
  // A lone system message is a conversation too.
  req.messages = {msg(role::system, "x")};
  built = completions().build_request(req, ep);
  CAF_REQUIRE(built.has_value());
  CAF_CHECK(json::parse(built->body)["prompt"] == "system: x\nassistant:");
}

CAF_TEST(what a prompt cannot carry is refused) {
  chat_request req;
  req.messages = {msg(role::user, "hi")};
  req.tools = json::parse(R"([{"type":"function","function":{"name":"f"}}])");
  auto built = completions().build_request(req, instruct());
  CAF_REQUIRE(!built.has_value());
  CAF_CHECK(built.error().cls == error_class::bad_request);
  CAF_CHECK(built.error().message.find("tools") != std::string::npos);
  req.tools = nullptr;
  req.messages[0].parts.push_back(
      {"image_url", "", json{{"type", "image_url"}}});
  built = completions().build_request(req, instruct());
  CAF_REQUIRE(!built.has_value());
  CAF_CHECK(built.error().message.find("image_url") != std::string::npos);
}

CAF_TEST(legacy stream chunks decode by their text) {
  auto out = decode_stream(
      completions(),
      "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"model\":\"m\","
      "\"choices\":[{\"text\":\"Tiny\",\"index\":0,\"finish_reason\":null}]}"
      "\n\n"
      "data: {\"id\":\"cmpl-1\",\"choices\":[{\"text\":\" things\","
      "\"index\":0,\"finish_reason\":\"length\"}]}\n\n"
      "data: {\"id\":\"cmpl-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":2,"
      "\"completion_tokens\":2,\"total_tokens\":4}}\n\n"
      "data: [DONE]\n\n");
  CAF_CHECK(!out.error.has_value());
  CAF_CHECK(out.finished);
  CAF_CHECK_EQUAL(streamed_text(out.events), "Tiny things");
  auto end = std::get_if<stream_end>(&out.events.back());
  CAF_REQUIRE(end != nullptr);
  CAF_CHECK(end->finish == finish_reason::length);
  CAF_REQUIRE(end->usage.has_value());
  CAF_CHECK_EQUAL(end->usage->total_tokens, 4);
}
