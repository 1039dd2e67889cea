#define CAF_SUITE adapter_azure
#include "engine/support_wire.hpp"
#include "switchyard/adapter.hpp"

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using json = nlohmann::json;

namespace {

const adapter& azure() {
  return adapter_for(provider_kind::azure_openai);
}

endpoint azure_endpoint() {
  endpoint ep;
  ep.kind = provider_kind::azure_openai;
  ep.base_url = "https://myresource.openai.azure.com";
  ep.model = "gpt-4o"; // ignored: the deployment names the model
  ep.deployment = "my-gpt4o";
  ep.api_version = "2024-10-21";
  ep.api_key = "REDACTED";
  ep.auth = auth_style::header;
  return ep;
}

chat_request hi() {
  chat_request req;
  message m;
  m.text = "hi";
  req.messages = {m};
  req.max_tokens = 16;
  return req;
}

wire_sample load() {
  auto sample = load_wire("azure-openai-chat.http");
  CAF_REQUIRE(sample.has_value());
  return std::move(*sample);
}

} // namespace

CAF_TEST(the deployment sample request is built exactly) {
  auto sample = load();
  CAF_REQUIRE(sample.request.has_value());
  auto built = azure().build_request(hi(), azure_endpoint());
  CAF_REQUIRE(built.has_value());
  CAF_CHECK_EQUAL(diff_request(*built, *sample.request), "");
  CAF_CHECK_EQUAL(built->url, "https://myresource.openai.azure.com/openai/"
                              "deployments/my-gpt4o/chat/completions"
                              "?api-version=2024-10-21");
  auto ep = azure_endpoint();
  ep.auth = auth_style::bearer; // the struct default still means api-key
  ep.base_url += "/";
  built = azure().build_request(hi(), ep);
  CAF_REQUIRE(built.has_value());
  CAF_CHECK_EQUAL(diff_request(*built, *sample.request), "");
}

CAF_TEST(the deployment sample response is parsed) {
  auto sample = load();
  CAF_REQUIRE_EQUAL(sample.responses.size(), 1u);
  auto r = azure().parse_response(sample.responses[0].http());
  CAF_REQUIRE(r.has_value());
  CAF_CHECK_EQUAL(r->id, "chatcmpl-A1");
  CAF_CHECK_EQUAL(r->model, "gpt-4o-2024-08-06");
  CAF_CHECK_EQUAL(r->text, "Hello!");
  CAF_CHECK(r->finish == finish_reason::stop);
  CAF_CHECK_EQUAL(r->usage.prompt_tokens, 8);
  CAF_CHECK_EQUAL(r->usage.completion_tokens, 2);
  CAF_CHECK_EQUAL(r->usage.total_tokens, 10);
}

CAF_TEST(throttling as the sample note describes it is rate limited) {
  auto sample = load();
  const auto& notes = sample.responses[0].notes;
  CAF_REQUIRE_EQUAL(notes.size(), 1u);
  CAF_REQUIRE(notes[0].text.starts_with("Azure throttling: 429 with "
                                        "retry-after and retry-after-ms"));
  http_response resp{
      429,
      {{"retry-after", "2"}, {"retry-after-ms", "1500"}},
      R"({"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after 2 seconds."}})"};
  auto f = azure().classify(resp, test_now());
  CAF_CHECK(f.cls == error_class::rate_limited);
  CAF_CHECK_EQUAL(f.status, 429);
  CAF_CHECK_EQUAL(f.code, "429");
  CAF_CHECK(f.retry_after == timespan{1500ms});
  resp.headers = {{"x-ms-retry-after-ms", "700"}, {"retry-after", "1"}};
  f = azure().classify(resp, test_now());
  CAF_CHECK(f.retry_after == timespan{700ms});
}

CAF_TEST(content filter refusals are content filters) {
  http_response resp{
      400,
      {},
      R"({"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":null,"status":400,"innererror":{"code":"ResponsibleAIPolicyViolation"}}})"};
  auto f = azure().classify(resp, test_now());
  CAF_CHECK(f.cls == error_class::content_filter);
  resp.body = R"({"error":{"message":"filtered","type":null,"param":"prompt",
    "code":"content_filter","status":400}})";
  f = azure().classify(resp, test_now());
  CAF_CHECK(f.cls == error_class::content_filter);
  CAF_CHECK_EQUAL(f.code, "content_filter");
  auto r = azure().parse_response({200, {}, R"({"id":"x","choices":[{
    "index":0,"message":{"role":"assistant","content":null},
    "finish_reason":"content_filter"}]})"});
  CAF_REQUIRE(r.has_value());
  CAF_CHECK(r->finish == finish_reason::content_filter);
}

CAF_TEST(prompt filter chunks do not open the stream) {
  auto out = decode_stream(
      azure(),
      "data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\","
      "\"object\":\"\",\"prompt_filter_results\":[{\"prompt_index\":0}]}\n\n"
      "data: {\"id\":\"chatcmpl-A2\",\"model\":\"gpt-4o\",\"choices\":[{"
      "\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null,"
      "\"content_filter_results\":{}}]}\n\n"
      "data: {\"id\":\"chatcmpl-A2\",\"model\":\"gpt-4o\",\"choices\":[{"
      "\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
      "data: [DONE]\n\n");
  CAF_CHECK(!out.error.has_value());
  CAF_CHECK(out.finished);
  CAF_REQUIRE_EQUAL(out.events.size(), 3u);
  auto start = std::get_if<stream_start>(&out.events[0]);
  CAF_REQUIRE(start != nullptr);
  CAF_CHECK_EQUAL(start->id, "chatcmpl-A2");
  CAF_CHECK_EQUAL(streamed_text(out.events), "Hi");
}

CAF_TEST(a deployment without its coordinates is refused) {
  auto ep = azure_endpoint();
  ep.deployment.clear();
  auto built = azure().build_request(hi(), ep);
  CAF_REQUIRE(!built.has_value());
  CAF_CHECK(built.error().cls == error_class::bad_request);
  CAF_CHECK(built.error().message.find("deployment") != std::string::npos);
  ep = azure_endpoint();
  ep.api_version.clear();
  CAF_CHECK(!azure().build_request(hi(), ep).has_value());
}
