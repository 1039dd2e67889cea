#define CAF_SUITE adapter_compatible
#include "engine/support_wire.hpp"
#include "switchyard/adapter.hpp"

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using json = nlohmann::json;

namespace {

const adapter& compatible() {
  return adapter_for(provider_kind::openai_compatible);
}

endpoint local(std::string base_url) {
  endpoint ep;
  ep.kind = provider_kind::openai_compatible;
  ep.base_url = std::move(base_url);
  ep.model = "llama-3.1-8b";
  ep.api_key = "local-key";
  return ep;
}

chat_request hello() {
  chat_request req;
  message m;
  m.text = "hello";
  req.messages = {m};
  return req;
}

} // namespace

CAF_TEST(base urls with and without the version segment agree) {
  for (auto base : {"http://h:8000", "http://h:8000/", "http://h:8000/v1",
                    "http://h:8000/v1/"}) {
    CAF_MESSAGE("base " << base);
    auto built = compatible().build_request(hello(), local(base));
    CAF_REQUIRE(built.has_value());
    CAF_CHECK_EQUAL(built->url, "http://h:8000/v1/chat/completions");
  }
  auto built = compatible().build_request(hello(), local("http://gw/openai"));
  CAF_REQUIRE(built.has_value());
  CAF_CHECK_EQUAL(built->url, "http://gw/openai/v1/chat/completions");
  CAF_CHECK(!compatible().build_request(hello(), local("")).has_value());
}

CAF_TEST(the three auth styles and extra headers) {
  auto ep = local("http://h:8000/v1");
  auto built = compatible().build_request(hello(), ep);
  CAF_REQUIRE(built.has_value());
  CAF_CHECK_EQUAL(find_header(built->headers, "Authorization").value_or(""),
                  "Bearer local-key");
  ep.auth = auth_style::header;
  ep.auth_header = "X-Key";
  built = compatible().build_request(hello(), ep);
  CAF_REQUIRE(built.has_value());
  CAF_CHECK_EQUAL(find_header(built->headers, "x-key").value_or(""),
                  "local-key");
  CAF_CHECK(!find_header(built->headers, "Authorization"));
  ep.auth_header.clear();
  built = compatible().build_request(hello(), ep);
  CAF_REQUIRE(built.has_value());
  CAF_CHECK_EQUAL(find_header(built->headers, "x-api-key").value_or(""),
                  "local-key");
  ep.auth = auth_style::none;
  ep.extra_headers = {{"X-Tenant", "blue"}, {"HTTP-Referer", "switchyard"}};
  built = compatible().build_request(hello(), ep);
  CAF_REQUIRE(built.has_value());
  CAF_CHECK(!find_header(built->headers, "Authorization"));
  CAF_CHECK(!find_header(built->headers, "x-api-key"));
  CAF_CHECK_EQUAL(find_header(built->headers, "x-tenant").value_or(""), "blue");
  CAF_CHECK_EQUAL(find_header(built->headers, "http-referer").value_or(""),
                  "switchyard");
  CAF_CHECK_EQUAL(find_header(built->headers, "content-type").value_or(""),
                  "application/json");
  ep.auth = auth_style::bearer;
  ep.api_key.clear();
  built = compatible().build_request(hello(), ep);
  CAF_REQUIRE(built.has_value());
  CAF_CHECK(!find_header(built->headers, "Authorization"));
}

CAF_TEST(the model is optional for compatible servers) {
  auto ep = local("http://h:8000");
  ep.model.clear();
  auto built = compatible().build_request(hello(), ep);
  CAF_REQUIRE(built.has_value());
  CAF_CHECK(!json::parse(built->body).contains("model"));
  auto req = hello();
  req.model = "qwen";
  built = compatible().build_request(req, ep);
  CAF_REQUIRE(built.has_value());
  CAF_CHECK(json::parse(built->body)["model"] == "qwen");
}

CAF_TEST(the openai samples parse through the compatible adapter) {
  auto chat = load_wire("openai-chat.http");
  CAF_REQUIRE(chat.has_value());
  auto r = compatible().parse_response(chat->responses[0].http());
  CAF_REQUIRE(r.has_value());
  CAF_CHECK_EQUAL(r->text, "Paris.");
  auto stream = load_wire("openai-chat-stream.http");
  CAF_REQUIRE(stream.has_value());
  auto out = decode_stream(compatible(), stream->responses[0].body);
  CAF_CHECK(out.finished);
  CAF_CHECK_EQUAL(streamed_text(out.events), "Hello!");
  auto errors = load_wire("openai-errors.http");
  CAF_REQUIRE(errors.has_value());
  auto f = compatible().classify(errors->responses[0].http(), test_now());
  CAF_CHECK(f.cls == error_class::rate_limited);
  CAF_CHECK(f.retry_after == timespan{1850ms});
}

CAF_TEST(content arrays in responses are joined) {
  auto r = compatible().parse_response({200, {}, R"({"choices":[{"message":{
    "role":"assistant","content":[{"type":"text","text":"a"},
    {"type":"text","text":"b"}]},"finish_reason":"eos"}]})"});
  CAF_REQUIRE(r.has_value());
  CAF_CHECK_EQUAL(r->text, "ab");
  CAF_CHECK(r->finish == finish_reason::unknown);
  CAF_CHECK_EQUAL(r->finish_raw, "eos");
  CAF_CHECK_EQUAL(r->usage.total_tokens, 0);
}
