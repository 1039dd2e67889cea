#define CAF_SUITE mock_faults
#include "integration/support_engine.hpp"
#include "integration/support_http.hpp"
#include "integration/support_process.hpp"
#include "switchyard/sse.hpp"

#include <thread>

#include <caf/test/unit_test.hpp>
#include <nlohmann/json.hpp>

using namespace switchyard;
using namespace switchyard::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

mock_server& mock() {
  static mock_server instance = start_mock();
  return instance;
}

std::string url(std::string_view path) {
  return mock().base_url() + std::string{path};
}

const std::string openai_path = "/v1/chat/completions";
const std::string anthropic_path = "/v1/messages";
const std::string gemini_path
    = "/v1beta/models/gemini-2.0-flash:generateContent";

std::string body_for(const std::string& path, bool stream = false) {
  if (path == gemini_path)
    return R"({"contents":[{"role":"user","parts":[{"text":"hi"}]}]})";
  json j = {{"model", "m1"},
            {"max_tokens", 16},
            {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  if (stream)
    j["stream"] = true;
  return j.dump();
}

http_result post_fault(const std::string& path, const std::string& fault,
                       bool stream = false,
                       std::chrono::milliseconds timeout = 10s) {
  return http_post(url(path), body_for(path, stream),
                   {{"x-mock-fault", fault}, {"x-mock-words", "4"}}, timeout);
}

std::vector<sse_event> events_of(const std::string& body) {
  sse_parser parser;
  std::vector<sse_event> out;
  parser.feed(body, out);
  return out;
}

// Anthropic text deltas, or OpenAI chunks carrying non-empty content.
size_t content_events(const std::vector<sse_event>& evs) {
  size_t n = 0;
  for (const auto& ev : evs) {
    if (ev.event == "content_block_delta") {
      ++n;
      continue;
    }
    auto j = json::parse(ev.data, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("choices")
        || j["choices"].empty())
      continue;
    const auto& delta = j["choices"][0]["delta"];
    if (delta.contains("content") && delta["content"].is_string()
        && !delta["content"].get<std::string>().empty())
      ++n;
  }
  return n;
}

json stats() {
  return json::parse(http_get(url("/mock/stats")).body);
}

/// One error fault and what each format answers with.
struct error_case {
  std::string fault;
  long openai_status;
  std::string openai_code; // error.code, or error.type when code is null
  long anthropic_status;
  std::string anthropic_type;
  long gemini_status;
  std::string gemini_grpc;
};

} // namespace

CAF_TEST(every error fault in every provider format) {
  std::vector<error_case> cases{
      {"rate_limit", 429, "rate_limit_exceeded", 429, "rate_limit_error", 429,
       "RESOURCE_EXHAUSTED"},
      {"quota", 429, "insufficient_quota", 429, "billing_error", 429,
       "RESOURCE_EXHAUSTED"},
      {"overloaded", 503, "server_error", 529, "overloaded_error", 503,
       "UNAVAILABLE"},
      {"server_error", 500, "server_error", 500, "api_error", 500, "INTERNAL"},
      {"auth", 401, "invalid_api_key", 401, "authentication_error", 401,
       "UNAUTHENTICATED"},
      {"context_length", 400, "context_length_exceeded", 400,
       "invalid_request_error", 400, "INVALID_ARGUMENT"},
      {"content_filter", 400, "content_filter", 400, "invalid_request_error",
       400, "INVALID_ARGUMENT"},
      {"status=502", 502, "server_error", 502, "api_error", 502, "INTERNAL"},
      {"status=404", 404, "invalid_request_error", 404, "not_found_error", 404,
       "NOT_FOUND"},
  };
  for (const auto& c : cases) {
    CAF_MESSAGE("fault " << c.fault);
    auto o = post_fault(openai_path, c.fault);
    CAF_CHECK_EQUAL(o.status, c.openai_status);
    auto oj = json::parse(o.body)["error"];
    CAF_CHECK_EQUAL(oj["code"].is_null() ? oj["type"] : oj["code"],
                    c.openai_code);
    CAF_CHECK(oj.contains("message") && oj.contains("param"));
    auto a = post_fault(anthropic_path, c.fault);
    CAF_CHECK_EQUAL(a.status, c.anthropic_status);
    auto aj = json::parse(a.body);
    CAF_CHECK_EQUAL(aj["type"], "error");
    CAF_CHECK_EQUAL(aj["error"]["type"], c.anthropic_type);
    auto g = post_fault(gemini_path, c.fault);
    CAF_CHECK_EQUAL(g.status, c.gemini_status);
    auto gj = json::parse(g.body)["error"];
    CAF_CHECK_EQUAL(gj["status"], c.gemini_grpc);
    CAF_CHECK_EQUAL(gj["code"], c.gemini_status);
  }
  // Errors also replace a stream, before any byte of it.
  auto s = post_fault(anthropic_path, "overloaded", true);
  CAF_CHECK_EQUAL(s.status, 529);
  CAF_CHECK_EQUAL(s.header("content-type").value_or(""), "application/json");
}

CAF_TEST(rate limit and retry headers) {
  auto d = post_fault(openai_path, "rate_limit");
  CAF_CHECK_EQUAL(d.header("retry-after").value_or(""), "1");
  CAF_CHECK_EQUAL(d.header("retry-after-ms").value_or(""), "1000");
  auto f = post_fault(openai_path, "rate_limit=2.5");
  CAF_CHECK_EQUAL(f.header("retry-after").value_or(""), "3");
  CAF_CHECK_EQUAL(f.header("retry-after-ms").value_or(""), "2500");
  auto h = post_fault(openai_path,
                      "overloaded; should_retry=false; retry_after_ms=700");
  CAF_CHECK_EQUAL(h.status, 503);
  CAF_CHECK_EQUAL(h.header("x-should-retry").value_or(""), "false");
  CAF_CHECK_EQUAL(h.header("retry-after-ms").value_or(""), "700");
  auto ok = post_fault(openai_path, "should_retry=true");
  CAF_CHECK_EQUAL(ok.status, 200);
  CAF_CHECK_EQUAL(ok.header("x-should-retry").value_or(""), "true");
  CAF_CHECK(!ok.header("retry-after-ms"));
}

CAF_TEST(latency and first byte delay the answer) {
  auto quick = post_fault(openai_path, "should_retry=true");
  CAF_CHECK_LESS(quick.elapsed, 250ms);
  auto slow = post_fault(openai_path, "latency=300");
  CAF_CHECK_EQUAL(slow.status, 200);
  CAF_CHECK_GREATER_OR_EQUAL(slow.elapsed, 300ms);
  auto fb = post_fault(openai_path, "first_byte=300", true);
  CAF_CHECK_EQUAL(fb.status, 200);
  CAF_CHECK_GREATER_OR_EQUAL(fb.first_byte, 300ms);
  auto fb_events = events_of(fb.body);
  CAF_REQUIRE(!fb_events.empty());
  CAF_CHECK_EQUAL(fb_events.back().data, "[DONE]");
}

CAF_TEST(hang is only detected by a client timeout and still counted) {
  http_post(url("/mock/stats/reset"), "");
  auto r = post_fault(openai_path, "hang", false, 500ms);
  CAF_CHECK(r.timed_out());
  CAF_CHECK_EQUAL(r.status, 0);
  CAF_CHECK_GREATER_OR_EQUAL(r.elapsed, 450ms);
  auto s = stats();
  CAF_CHECK_EQUAL(s["total"], 1);
  CAF_CHECK_EQUAL(s["faults"]["hang"], 1);
  CAF_CHECK_EQUAL(s["endpoints"]["openai_chat"], 1);
  CAF_CHECK_EQUAL(s["models"]["m1"], 1);
}

CAF_TEST(open_connections counts connections until the client goes away) {
  auto open = [] { return stats()["open_connections"].get<int64_t>(); };
  // Earlier tests' connections are closed by now (or soon).
  CAF_REQUIRE(eventually([&] { return open() == 0; }, 2s));
  // A hang and a stalled stream hold their connections until the clients
  // time out.
  std::thread hang{[] { post_fault(openai_path, "hang", false, 1500ms); }};
  std::thread stall{
      [] { post_fault(anthropic_path, "stall_after=1", true, 1500ms); }};
  auto both = eventually([&] { return open() == 2; }, 1200ms);
  hang.join();
  stall.join();
  CAF_CHECK(both);
  CAF_CHECK(eventually([&] { return open() == 0; }, 2s));
  CAF_CHECK_EQUAL(open(), 0);
}

CAF_TEST(close drops the connection before any response) {
  auto r = post_fault(openai_path, "close");
  CAF_CHECK(!r.ok());
  CAF_CHECK_EQUAL(r.status, 0);
  CAF_CHECK_EQUAL(r.curl_code, 52); // CURLE_GOT_NOTHING
}

CAF_TEST(drop_after cuts a stream after n chunks without a terminal marker) {
  auto r = post_fault(openai_path, "drop_after=2", true);
  CAF_CHECK_EQUAL(r.status, 200);
  CAF_CHECK(!r.ok()); // the chunked body never ended
  auto evs = events_of(r.body);
  CAF_CHECK_EQUAL(content_events(evs), 2u);
  CAF_CHECK_NOT_EQUAL(evs.back().data, "[DONE]");
  auto a = post_fault(anthropic_path, "drop_after=1", true);
  CAF_CHECK(!a.ok());
  auto aevs = events_of(a.body);
  CAF_CHECK_EQUAL(content_events(aevs), 1u);
  CAF_CHECK_EQUAL(aevs.back().event, "content_block_delta");
}

CAF_TEST(stall_after keeps the stream open and silent) {
  auto r = post_fault(anthropic_path, "stall_after=2", true, 800ms);
  CAF_CHECK(r.timed_out());
  CAF_CHECK_EQUAL(r.status, 200);
  auto evs = events_of(r.body);
  CAF_CHECK_EQUAL(content_events(evs), 2u);
  CAF_CHECK_EQUAL(evs.back().event, "content_block_delta");
}

CAF_TEST(error_event_after sends the in - stream error) {
  auto a = post_fault(anthropic_path, "error_event_after=1", true);
  CAF_CHECK_EQUAL(a.status, 200);
  auto aevs = events_of(a.body);
  CAF_REQUIRE(!aevs.empty());
  CAF_CHECK_EQUAL(content_events(aevs), 1u);
  CAF_CHECK_EQUAL(aevs.back().event, "error");
  CAF_CHECK_EQUAL(json(json::parse(aevs.back().data)["error"]["type"]),
                  "overloaded_error");
  auto o = post_fault(openai_path, "error_event_after=2", true);
  auto oevs = events_of(o.body);
  CAF_REQUIRE(!oevs.empty());
  CAF_CHECK_EQUAL(content_events(oevs), 2u);
  CAF_CHECK(json::parse(oevs.back().data).contains("error"));
}

CAF_TEST(malformed empty and no_done) {
  auto m = post_fault(openai_path, "malformed");
  CAF_CHECK_EQUAL(m.status, 200);
  CAF_CHECK(json::parse(m.body, nullptr, false).is_discarded());
  auto ms = post_fault(openai_path, "malformed", true);
  bool bad_line = false;
  for (const auto& ev : events_of(ms.body))
    bad_line = bad_line
               || (ev.data != "[DONE]"
                   && json::parse(ev.data, nullptr, false).is_discarded());
  CAF_CHECK(bad_line);
  auto e = post_fault(openai_path, "empty");
  auto ej = json::parse(e.body);
  CAF_CHECK_EQUAL(ej["choices"][0]["message"]["content"], "");
  CAF_CHECK_EQUAL(ej["usage"]["completion_tokens"], 0);
  auto nd = post_fault(openai_path, "no_done", true);
  CAF_CHECK(nd.ok()); // a clean end of the chunked body
  auto evs = events_of(nd.body);
  CAF_CHECK_EQUAL(content_events(evs), 4u);
  CAF_CHECK_NOT_EQUAL(evs.back().data, "[DONE]");
  auto na = post_fault(anthropic_path, "no_done", true);
  CAF_CHECK(na.ok());
  auto na_events = events_of(na.body);
  CAF_REQUIRE(!na_events.empty());
  CAF_CHECK_NOT_EQUAL(na_events.back().event, "message_stop");
  auto ng = http_post(url("/v1beta/models/g:streamGenerateContent?alt=sse"),
                      body_for(gemini_path), {{"x-mock-fault", "no_done"}});
  CAF_CHECK(ng.ok());
  for (const auto& ev : events_of(ng.body))
    CAF_CHECK(!json::parse(ev.data)["candidates"][0].contains("finishReason"));
}

CAF_TEST(a bad fault header is a 400 naming the fault) {
  auto r = post_fault(openai_path, "overloaded;explode=3");
  CAF_CHECK_EQUAL(r.status, 400);
  auto msg = json::parse(r.body)["error"]["message"].get<std::string>();
  CAF_CHECK_NOT_EQUAL(msg.find("explode"), std::string::npos);
  auto n = post_fault(openai_path, "drop_after=two");
  CAF_CHECK_EQUAL(n.status, 400);
}

CAF_TEST(stats count every request and every fault) {
  http_post(url("/mock/stats/reset"), "");
  post_fault(openai_path, "overloaded");
  post_fault(openai_path, "overloaded;retry_after_ms=5");
  post_fault(anthropic_path, "close");
  http_post(url(openai_path), body_for(openai_path));
  http_get(url("/nowhere"));
  auto s = stats();
  CAF_CHECK_EQUAL(s["total"], 5);
  CAF_CHECK_EQUAL(s["faults"]["overloaded"], 2);
  CAF_CHECK_EQUAL(s["faults"]["retry_after_ms"], 1);
  CAF_CHECK_EQUAL(s["faults"]["close"], 1);
  CAF_CHECK_EQUAL(s["faults"]["none"], 2);
  CAF_CHECK_EQUAL(s["endpoints"]["openai_chat"], 3);
  CAF_CHECK_EQUAL(s["endpoints"]["anthropic_messages"], 1);
  CAF_CHECK_EQUAL(s["endpoints"]["not_found"], 1);
  CAF_CHECK_EQUAL(s["models"]["m1"], 4);
}
