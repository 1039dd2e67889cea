#define CAF_SUITE adapter_gemini
#include "engine/support_wire.hpp"
#include "switchyard/adapter.hpp"

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using json = nlohmann::json;

namespace {

const adapter& gemini() {
  return adapter_for(provider_kind::gemini);
}

endpoint gemini_endpoint() {
  endpoint ep;
  ep.kind = provider_kind::gemini;
  ep.base_url = "https://generativelanguage.googleapis.com";
  ep.model = "gemini-2.0-flash";
  ep.api_key = "REDACTED";
  ep.auth = auth_style::header;
  return ep;
}

wire_sample load() {
  auto sample = load_wire("gemini-generate.http");
  CAF_REQUIRE(sample.has_value());
  CAF_REQUIRE_EQUAL(sample->responses.size(), 4u);
  return std::move(*sample);
}

chat_request sample_request() {
  chat_request req;
  req.messages = {msg(role::system, "Be brief."),
                  msg(role::user, "What is the capital of France?")};
  req.temperature = 0.2;
  req.max_tokens = 64;
  return req;
}

failure classify(std::string body, int status = 429) {
  return gemini().classify({status, {}, std::move(body)}, test_now());
}

} // namespace

CAF_TEST(the generate sample request is built exactly) {
  auto sample = load();
  CAF_REQUIRE(sample.request.has_value());
  auto built = gemini().build_request(sample_request(), gemini_endpoint());
  CAF_REQUIRE(built.has_value());
  CAF_CHECK_EQUAL(diff_request(*built, *sample.request), "");
  auto ep = gemini_endpoint();
  ep.auth = auth_style::bearer; // the struct default still means the key header
  built = gemini().build_request(sample_request(), ep);
  CAF_REQUIRE(built.has_value());
  CAF_CHECK_EQUAL(diff_request(*built, *sample.request), "");
}

CAF_TEST(the streaming request uses the sse endpoint of the note) {
  auto sample = load();
  const auto& notes = sample.responses[1].lead_notes;
  CAF_REQUIRE_EQUAL(notes.size(), 1u);
  std::string_view prefix = "Streaming: POST ";
  CAF_REQUIRE(notes[0].starts_with(prefix));
  auto req = sample_request();
  req.stream = true;
  auto built = gemini().build_request(req, gemini_endpoint());
  CAF_REQUIRE(built.has_value());
  CAF_CHECK_EQUAL(built->url, "https://generativelanguage.googleapis.com"
                                  + notes[0].substr(prefix.size()));
  CAF_CHECK_EQUAL(find_header(built->headers, "accept").value_or(""),
                  "text/event-stream");
  CAF_CHECK(body_of(*built) == json::parse(sample.request->body));
}

CAF_TEST(the generate sample response is parsed) {
  auto sample = load();
  auto r = gemini().parse_response(sample.responses[0].http());
  CAF_REQUIRE(r.has_value());
  CAF_CHECK_EQUAL(r->text, "Paris.\n");
  CAF_CHECK(r->finish == finish_reason::stop);
  CAF_CHECK_EQUAL(r->finish_raw, "STOP");
  CAF_CHECK_EQUAL(r->model, "gemini-2.0-flash");
  CAF_CHECK_EQUAL(r->usage.prompt_tokens, 11);
  CAF_CHECK_EQUAL(r->usage.completion_tokens, 3);
  CAF_CHECK_EQUAL(r->usage.total_tokens, 14);
}

CAF_TEST(the stream sample decodes to text and an end after the finish) {
  auto sample = load();
  const auto& body = sample.responses[1].body;
  auto events = sse_events(body);
  CAF_REQUIRE_EQUAL(events.size(), 2u);
  auto dec = gemini().make_stream_decoder();
  std::vector<stream_event> out;
  CAF_CHECK(!dec->on_event(events[0], out));
  CAF_CHECK(!dec->finished());
  CAF_CHECK(dec->produced_content());
  CAF_CHECK(!dec->on_event(events[1], out));
  CAF_CHECK(dec->finished());
  CAF_REQUIRE_EQUAL(out.size(), 4u);
  auto start = std::get_if<stream_start>(&out[0]);
  CAF_REQUIRE(start != nullptr);
  CAF_CHECK_EQUAL(start->model, "gemini-2.0-flash");
  CAF_CHECK_EQUAL(std::get<text_delta>(out[1]).text, "Par");
  CAF_CHECK_EQUAL(std::get<text_delta>(out[2]).text, "is.\n");
  auto end = std::get_if<stream_end>(&out[3]);
  CAF_REQUIRE(end != nullptr);
  CAF_CHECK(end->finish == finish_reason::stop);
  CAF_CHECK_EQUAL(end->finish_raw, "STOP");
  CAF_REQUIRE(end->usage.has_value());
  CAF_CHECK_EQUAL(end->usage->completion_tokens, 3);
  CAF_CHECK_EQUAL(end->usage->total_tokens, 14);
}

CAF_TEST(the sample errors are classified) {
  auto sample = load();
  auto f = gemini().classify(sample.responses[2].http(), test_now());
  // Gemini's generic per-minute exhaustion passes with time: rate_limited.
  CAF_CHECK(f.cls == error_class::rate_limited);
  CAF_CHECK_EQUAL(f.status, 429);
  CAF_CHECK_EQUAL(f.code, "RESOURCE_EXHAUSTED");
  CAF_CHECK(!f.retry_after.has_value());
  CAF_CHECK(!f.message.empty());
  f = gemini().classify(sample.responses[3].http(), test_now());
  CAF_CHECK(f.cls == error_class::overloaded);
  CAF_CHECK_EQUAL(f.status, 503);
  CAF_CHECK_EQUAL(f.code, "UNAVAILABLE");
  CAF_CHECK_EQUAL(f.message,
                  "The model is overloaded. Please try again later.");
}

CAF_TEST(daily and billing quotas are exhausted and retry info is read) {
  auto f = classify(R"({"error":{"code":429,"message":"Quota exceeded.",
    "status":"RESOURCE_EXHAUSTED","details":[
    {"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[
      {"quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]}]}})");
  CAF_CHECK(f.cls == error_class::quota_exhausted);
  f = classify(R"({"error":{"code":429,"status":"RESOURCE_EXHAUSTED",
    "message":"You exceeded your current quota, please check billing."}})");
  CAF_CHECK(f.cls == error_class::quota_exhausted);
  f = classify(R"({"error":{"code":429,"message":"Quota exceeded.",
    "status":"RESOURCE_EXHAUSTED","details":[
    {"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[
      {"quotaId":"GenerateRequestsPerMinutePerProjectPerModel"}]},
    {"@type":"type.googleapis.com/google.rpc.RetryInfo",
     "retryDelay":"37s"}]}})");
  CAF_CHECK(f.cls == error_class::rate_limited);
  CAF_CHECK(f.retry_after == timespan{37s});
  f = classify(R"({"error":{"code":400,"status":"INVALID_ARGUMENT",
    "message":"The input token count exceeds the maximum number of tokens"}})",
               400);
  CAF_CHECK(f.cls == error_class::context_length);
  f = classify(R"({"error":{"code":403,"message":"denied",
    "status":"PERMISSION_DENIED"}})",
               403);
  CAF_CHECK(f.cls == error_class::auth);
}

CAF_TEST(safety finishes and blocked prompts are content filters) {
  auto r = gemini().parse_response({200, {}, R"({"candidates":[{"content":{
    "parts":[{"text":"I can"}],"role":"model"},"finishReason":"SAFETY",
    "safetyRatings":[]}]})"});
  CAF_REQUIRE(r.has_value());
  CAF_CHECK(r->finish == finish_reason::content_filter);
  CAF_CHECK_EQUAL(r->finish_raw, "SAFETY");
  r = gemini().parse_response({200, {}, R"({"candidates":[{"content":{
    "parts":[{"text":"..."}]},"finishReason":"MAX_TOKENS"}]})"});
  CAF_REQUIRE(r.has_value());
  CAF_CHECK(r->finish == finish_reason::length);
  r = gemini().parse_response(
      {200, {}, R"({"promptFeedback":{"blockReason":"SAFETY"}})"});
  CAF_REQUIRE(!r.has_value());
  CAF_CHECK(r.error().cls == error_class::content_filter);
  CAF_CHECK_EQUAL(r.error().code, "SAFETY");
  auto out = decode_stream(
      gemini(), "data: {\"promptFeedback\":{\"blockReason\":\"OTHER\"}}\n\n");
  CAF_REQUIRE(out.error.has_value());
  CAF_CHECK(out.error->cls == error_class::content_filter);
}

CAF_TEST(malformed bodies and chunks are malformed) {
  for (auto body : {"{]", R"({"candidates":[]})", R"({"usageMetadata":{}})"}) {
    auto r = gemini().parse_response({200, {}, body});
    CAF_REQUIRE(!r.has_value());
    CAF_CHECK(r.error().cls == error_class::malformed);
  }
  auto out = decode_stream(gemini(), "data: not json\n\n");
  CAF_REQUIRE(out.error.has_value());
  CAF_CHECK(out.error->cls == error_class::malformed);
  auto r = gemini().parse_response({200, {}, R"({"error":{"code":500,
    "message":"Internal error","status":"INTERNAL"}})"});
  CAF_REQUIRE(!r.has_value());
  CAF_CHECK(r.error().cls == error_class::server_error);
}

CAF_TEST(tools calls and results are translated) {
  chat_request req;
  req.messages = {msg(role::user, "Weather in Paris?")};
  message call = msg(role::assistant, "");
  call.tool_calls = {{"call_1", "get_weather", R"({"city":"Paris"})"}};
  req.messages.push_back(call);
  message result = msg(role::tool, R"({"temp":21})");
  result.tool_call_id = "call_1";
  req.messages.push_back(result);
  message text_result = msg(role::tool, "sunny");
  text_result.tool_call_id = "call_1";
  req.messages.push_back(text_result);
  req.tools = json::parse(R"([{"type":"function","function":{
    "name":"get_weather","description":"Weather","parameters":{
    "type":"object"}}}])");
  req.tool_choice = "required";
  req.top_p = 0.9;
  req.stop = {"END"};
  req.response_format = json{{"type", "json_object"}};
  auto built = gemini().build_request(req, gemini_endpoint());
  CAF_REQUIRE(built.has_value());
  CAF_CHECK(body_of(*built) == json::parse(R"({
    "contents":[
      {"role":"user","parts":[{"text":"Weather in Paris?"}]},
      {"role":"model","parts":[{"functionCall":{"name":"get_weather",
        "args":{"city":"Paris"}}}]},
      {"role":"user","parts":[
        {"functionResponse":{"name":"get_weather","response":{"temp":21}}},
        {"functionResponse":{"name":"get_weather",
          "response":{"content":"sunny"}}}]}],
    "generationConfig":{"topP":0.9,"stopSequences":["END"],
      "responseMimeType":"application/json"},
    "tools":[{"functionDeclarations":[{"name":"get_weather",
      "description":"Weather","parameters":{"type":"object"}}]}],
    "toolConfig":{"functionCallingConfig":{"mode":"ANY"}}})"));
  auto r = gemini().parse_response({200, {}, R"({"candidates":[{"content":{
    "parts":[{"functionCall":{"name":"get_weather","args":{"city":"Rome"}}}],
    "role":"model"},"finishReason":"STOP"}]})"});
  CAF_REQUIRE(r.has_value());
  CAF_CHECK(r->finish == finish_reason::tool_calls);
  CAF_REQUIRE_EQUAL(r->tool_calls.size(), 1u);
  CAF_CHECK_EQUAL(r->tool_calls[0].name, "get_weather");
  CAF_CHECK(!r->tool_calls[0].id.empty());
  CAF_CHECK(json::parse(r->tool_calls[0].arguments)
            == json::parse(R"({"city":"Rome"})"));
}

CAF_TEST(unexpressible requests are refused) {
  chat_request req;
  message m;
  m.parts.push_back({"image_url", "",
                     json{{"type", "image_url"},
                          {"image_url", {{"url", "https://x/a.png"}}}}});
  req.messages = {m};
  auto built = gemini().build_request(req, gemini_endpoint());
  CAF_REQUIRE(!built.has_value());
  CAF_CHECK(built.error().cls == error_class::bad_request);
  CAF_CHECK(built.error().message.find("image_url") != std::string::npos);
  req.messages[0].parts[0].raw["image_url"]["url"]
      = "data:image/jpeg;base64,QUJD";
  built = gemini().build_request(req, gemini_endpoint());
  CAF_REQUIRE(built.has_value());
  CAF_CHECK(body_of(*built)["contents"][0]["parts"][0] == json::parse(R"({
    "inlineData":{"mimeType":"image/jpeg","data":"QUJD"}})"));
  message orphan = msg(role::tool, "42");
  orphan.tool_call_id = "nowhere";
  req.messages.push_back(orphan);
  built = gemini().build_request(req, gemini_endpoint());
  CAF_REQUIRE(!built.has_value());
  CAF_CHECK(built.error().message.find("nowhere") != std::string::npos);
  auto ep = gemini_endpoint();
  ep.model.clear();
  built = gemini().build_request(sample_request(), ep);
  CAF_REQUIRE(!built.has_value());
  CAF_CHECK(built.error().message.find("model") != std::string::npos);
}

CAF_TEST(sampling hints go into the generation config) {
  auto req = sample_request();
  req.seed = 11;
  req.presence_penalty = 0.25;
  req.frequency_penalty = -0.5;
  req.top_k = 40;
  req.parallel_tool_calls = false; // Gemini has no such switch
  auto built = gemini().build_request(req, gemini_endpoint());
  CAF_REQUIRE(built.has_value());
  auto body = json::parse(built->body);
  const auto& cfg = body["generationConfig"];
  CAF_CHECK_EQUAL(cfg["seed"], 11);
  CAF_CHECK_EQUAL(cfg["presencePenalty"], 0.25);
  CAF_CHECK_EQUAL(cfg["frequencyPenalty"], -0.5);
  CAF_CHECK_EQUAL(cfg["topK"], 40);
  CAF_CHECK(!body.contains("seed"));
  CAF_CHECK(!body.contains("parallel_tool_calls"));
}
