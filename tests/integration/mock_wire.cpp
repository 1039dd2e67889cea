#define CAF_SUITE mock_wire
#include "integration/support_gateway.hpp"
#include "integration/support_http.hpp"
#include "integration/support_process.hpp"
#include "switchyard/sse.hpp"

#include <sstream>

#include <caf/test/unit_test.hpp>
#include <nlohmann/json.hpp>

using namespace switchyard;
using namespace switchyard::test;
using json = nlohmann::json;

namespace {

mock_server& mock() {
  static mock_server instance = start_mock({"--seed", "7"});
  return instance;
}

std::string url(std::string_view path) {
  return mock().base_url() + std::string{path};
}

std::vector<switchyard::sse_event> events_of(const std::string& body) {
  sse_parser parser;
  std::vector<switchyard::sse_event> out;
  parser.feed(body, out);
  return out;
}

std::string chat_body(std::string_view user, bool stream = false) {
  json j = {{"model", "gpt-4o-mini"},
            {"messages",
             {{{"role", "system"}, {"content", "Be brief."}},
              {{"role", "user"}, {"content", user}}}}};
  if (stream) {
    j["stream"] = true;
    j["stream_options"] = {{"include_usage", true}};
  }
  return j.dump();
}

std::string chat_text(const http_result& r) {
  return json::parse(r.body)["choices"][0]["message"]["content"];
}

size_t word_count(const std::string& s) {
  std::istringstream in{s};
  size_t n = 0;
  for (std::string w; in >> w;)
    ++n;
  return n;
}

} // namespace

CAF_TEST(openai chat answers with the wire shape and word counts) {
  auto r = http_post(url("/v1/chat/completions"),
                     chat_body("What is the capital of France?"));
  CAF_REQUIRE_EQUAL(r.status, 200);
  CAF_CHECK_EQUAL(r.header("content-type").value_or(""), "application/json");
  auto j = json::parse(r.body);
  CAF_CHECK_EQUAL(j["object"], "chat.completion");
  CAF_CHECK_EQUAL(j["model"], "gpt-4o-mini");
  CAF_CHECK_EQUAL(j["choices"][0]["message"]["role"], "assistant");
  CAF_CHECK_EQUAL(j["choices"][0]["finish_reason"], "stop");
  auto text = chat_text(r);
  CAF_CHECK_EQUAL(word_count(text), 12u);          // the default length
  CAF_CHECK_EQUAL(j["usage"]["prompt_tokens"], 8); // 2 + 6 words
  CAF_CHECK_EQUAL(j["usage"]["completion_tokens"], 12);
  CAF_CHECK_EQUAL(j["usage"]["total_tokens"], 20);
}

CAF_TEST(answers are deterministic functions of model and messages) {
  auto a = chat_text(http_post(url("/v1/chat/completions"), chat_body("x y")));
  auto b = chat_text(http_post(url("/v1/chat/completions"), chat_body("x y")));
  auto c = chat_text(http_post(url("/v1/chat/completions"), chat_body("x z")));
  CAF_CHECK_EQUAL(a, b);
  CAF_CHECK_NOT_EQUAL(a, c);
  auto five = chat_text(http_post(url("/v1/chat/completions"), chat_body("x y"),
                                  {{"x-mock-words", "5"}}));
  CAF_CHECK_EQUAL(word_count(five), 5u);
  CAF_CHECK_EQUAL(a.rfind(five, 0), 0u); // a longer answer extends it
}

CAF_TEST(openai stream sends role then one word per chunk then usage and DONE) {
  auto full
      = chat_text(http_post(url("/v1/chat/completions"), chat_body("Say hello"),
                            {{"x-mock-words", "4"}}));
  auto r = http_post(url("/v1/chat/completions"), chat_body("Say hello", true),
                     {{"x-mock-words", "4"}});
  CAF_REQUIRE_EQUAL(r.status, 200);
  CAF_CHECK_EQUAL(
      r.header("content-type").value_or("").rfind("text/event-stream", 0), 0u);
  CAF_CHECK_EQUAL(r.header("transfer-encoding").value_or(""), "chunked");
  auto evs = events_of(r.body);
  CAF_REQUIRE_EQUAL(evs.size(), 8u); // role, 4 words, finish, usage, DONE
  CAF_CHECK_EQUAL(json(json::parse(evs[0].data)["choices"][0]["delta"]["role"]),
                  "assistant");
  std::string text;
  for (size_t i = 1; i <= 4; ++i) {
    std::string piece
        = json::parse(evs[i].data)["choices"][0]["delta"]["content"];
    CAF_CHECK_EQUAL(piece.front() == ' ', i > 1);
    text += piece;
  }
  CAF_CHECK_EQUAL(text, full);
  CAF_CHECK_EQUAL(json(json::parse(evs[5].data)["choices"][0]["finish_reason"]),
                  "stop");
  auto usage = json::parse(evs[6].data);
  CAF_CHECK(usage["choices"].empty());
  CAF_CHECK_EQUAL(usage["usage"]["completion_tokens"], 4);
  CAF_CHECK_EQUAL(usage["usage"]["prompt_tokens"], 4);
  CAF_CHECK_EQUAL(evs[7].data, "[DONE]");
}

CAF_TEST(anthropic messages and its full stream event sequence) {
  json req = {{"model", "claude-sonnet-4-20250514"},
              {"max_tokens", 64},
              {"system", "Be brief."},
              {"messages", {{{"role", "user"}, {"content", "Say hello"}}}}};
  auto r = http_post(url("/v1/messages"), req.dump(), {{"x-mock-words", "3"}});
  CAF_REQUIRE_EQUAL(r.status, 200);
  auto j = json::parse(r.body);
  CAF_CHECK_EQUAL(j["type"], "message");
  CAF_CHECK_EQUAL(j["stop_reason"], "end_turn");
  CAF_CHECK_EQUAL(j["usage"]["input_tokens"], 4);
  CAF_CHECK_EQUAL(j["usage"]["output_tokens"], 3);
  std::string full = j["content"][0]["text"];
  req["stream"] = true;
  auto s = http_post(url("/v1/messages"), req.dump(), {{"x-mock-words", "3"}});
  auto evs = events_of(s.body);
  std::vector<std::string> names;
  std::string text;
  for (const auto& ev : evs) {
    names.push_back(ev.event);
    auto d = json::parse(ev.data);
    CAF_CHECK_EQUAL(d["type"], ev.event);
    if (ev.event == "content_block_delta")
      text += d["delta"]["text"].get<std::string>();
  }
  std::vector<std::string> expected{
      "message_start",       "content_block_start", "ping",
      "content_block_delta", "content_block_delta", "content_block_delta",
      "content_block_stop",  "message_delta",       "message_stop"};
  CAF_CHECK_EQUAL(names, expected);
  CAF_CHECK_EQUAL(text, full);
}

CAF_TEST(gemini generate and stream end with finishReason) {
  json req = {
      {"contents", {{{"role", "user"}, {"parts", {{{"text", "Say hello"}}}}}}}};
  auto r = http_post(url("/v1beta/models/gemini-2.0-flash:generateContent"),
                     req.dump(), {{"x-mock-words", "3"}});
  CAF_REQUIRE_EQUAL(r.status, 200);
  auto j = json::parse(r.body);
  std::string full = j["candidates"][0]["content"]["parts"][0]["text"];
  CAF_CHECK_EQUAL(j["candidates"][0]["finishReason"], "STOP");
  CAF_CHECK_EQUAL(j["usageMetadata"]["candidatesTokenCount"], 3);
  CAF_CHECK_EQUAL(j["modelVersion"], "gemini-2.0-flash");
  auto s = http_post(
      url("/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"),
      req.dump(), {{"x-mock-words", "3"}});
  auto evs = events_of(s.body);
  CAF_REQUIRE_EQUAL(evs.size(), 3u);
  std::string text;
  for (size_t i = 0; i < evs.size(); ++i) {
    auto d = json::parse(evs[i].data);
    text
        += d["candidates"][0]["content"]["parts"][0]["text"].get<std::string>();
    CAF_CHECK_EQUAL(d["candidates"][0].contains("finishReason"), i == 2);
  }
  CAF_CHECK_EQUAL(text, full);
}

CAF_TEST(azure answers as openai chat with the deployment as model) {
  json req = {{"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  auto r = http_post(url("/openai/deployments/my-gpt4o/chat/"
                         "completions?api-version=2024-10-21"),
                     req.dump());
  CAF_REQUIRE_EQUAL(r.status, 200);
  auto j = json::parse(r.body);
  CAF_CHECK_EQUAL(j["model"], "my-gpt4o");
  CAF_CHECK(j["choices"][0].contains("content_filter_results"));
  req["model"] = "my-gpt4o";
  auto o = http_post(url("/v1/chat/completions"), req.dump());
  CAF_CHECK_EQUAL(j["choices"][0]["message"]["content"], chat_text(o));
}

CAF_TEST(legacy completions and the model list) {
  json req = {{"model", "gpt-3.5-turbo-instruct"},
              {"prompt", "Explain quantum computing like I'm 5."}};
  auto r = http_post(url("/v1/completions"), req.dump());
  CAF_REQUIRE_EQUAL(r.status, 200);
  auto j = json::parse(r.body);
  CAF_CHECK_EQUAL(j["object"], "text_completion");
  CAF_CHECK_EQUAL(word_count(j["choices"][0]["text"]), 12u);
  CAF_CHECK_EQUAL(j["usage"]["prompt_tokens"], 6);
  auto m = http_get(url("/v1/models"));
  CAF_REQUIRE_EQUAL(m.status, 200);
  auto list = json::parse(m.body);
  CAF_CHECK_EQUAL(list["object"], "list");
  CAF_CHECK(!list["data"].empty());
}

CAF_TEST(a prefill continues with exactly the rest of the answer) {
  json conv = {{"model", "gpt-4o-mini"},
               {"messages", {{{"role", "user"}, {"content", "Tell a story"}}}}};
  auto full = chat_text(http_post(url("/v1/chat/completions"), conv.dump(),
                                  {{"x-mock-words", "8"}}));
  auto cut = full.find(' ', full.find(' ') + 1) + 3; // mid third word
  auto prefill = full.substr(0, cut);
  conv["messages"].push_back({{"role", "assistant"}, {"content", prefill}});
  auto rest = chat_text(http_post(url("/v1/chat/completions"), conv.dump(),
                                  {{"x-mock-words", "8"}}));
  CAF_CHECK_EQUAL(rest, full.substr(cut));
  CAF_CHECK_EQUAL(prefill + rest, full);
  // Anthropic streams the same continuation.
  conv["stream"] = true;
  auto s = http_post(url("/v1/messages"), conv.dump(), {{"x-mock-words", "8"}});
  std::string streamed;
  for (const auto& ev : events_of(s.body))
    if (ev.event == "content_block_delta")
      streamed += json::parse(ev.data)["delta"]["text"].get<std::string>();
  auto anthropic_full = chat_text(http_post(
      url("/v1/chat/completions"),
      json{{"model", "gpt-4o-mini"},
           {"messages", {{{"role", "user"}, {"content", "Tell a story"}}}}}
          .dump(),
      {{"x-mock-words", "8"}}));
  CAF_CHECK_EQUAL(streamed, anthropic_full.substr(cut));
  // A prefill that is not a prefix gets the full answer.
  conv["stream"] = false;
  conv["messages"][1]["content"] = "something else";
  CAF_CHECK_EQUAL(chat_text(http_post(url("/v1/chat/completions"), conv.dump(),
                                      {{"x-mock-words", "8"}})),
                  full);
}

CAF_TEST(unknown paths and invalid JSON get the provider error shapes) {
  auto nf = http_get(url("/v2/nothing"));
  CAF_CHECK_EQUAL(nf.status, 404);
  CAF_CHECK_EQUAL(json(json::parse(nf.body)["error"]["code"]), "unknown_url");
  auto o = http_post(url("/v1/chat/completions"), "{not json");
  CAF_CHECK_EQUAL(o.status, 400);
  CAF_CHECK_EQUAL(json(json::parse(o.body)["error"]["type"]),
                  "invalid_request_error");
  auto a = http_post(url("/v1/messages"), "{not json");
  CAF_CHECK_EQUAL(a.status, 400);
  CAF_CHECK_EQUAL(json(json::parse(a.body)["type"]), "error");
  CAF_CHECK_EQUAL(json(json::parse(a.body)["error"]["type"]),
                  "invalid_request_error");
  auto g = http_post(url("/v1beta/models/g:generateContent"), "[1,2]");
  CAF_CHECK_EQUAL(g.status, 400);
  CAF_CHECK_EQUAL(json(json::parse(g.body)["error"]["status"]),
                  "INVALID_ARGUMENT");
  CAF_CHECK_EQUAL(json(json::parse(g.body)["error"]["code"]), 400);
}

CAF_TEST(anthropic and gemini refuse members they do not know) {
  json a = {{"model", "claude-x"},
            {"max_tokens", 16},
            {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  CAF_CHECK_EQUAL(http_post(url("/v1/messages"), a.dump()).status, 200);
  a["temperature"] = 1.5;
  auto hot = http_post(url("/v1/messages"), a.dump());
  CAF_CHECK_EQUAL(hot.status, 400);
  a.erase("temperature");
  a["seed"] = 7;
  auto ra = http_post(url("/v1/messages"), a.dump());
  CAF_CHECK_EQUAL(ra.status, 400);
  CAF_CHECK_EQUAL(json(json::parse(ra.body)["error"]["message"]),
                  "seed: Extra inputs are not permitted");
  json g = {{"contents", {{{"role", "user"}, {"parts", {{{"text", "hi"}}}}}}},
            {"generationConfig", {{"seed", 7}}}};
  auto gpath = "/v1beta/models/g:generateContent";
  CAF_CHECK_EQUAL(http_post(url(gpath), g.dump()).status, 200);
  g["presence_penalty"] = 0.5;
  auto rg = http_post(url(gpath), g.dump());
  CAF_CHECK_EQUAL(rg.status, 400);
  auto gmsg = json(json::parse(rg.body)["error"]["message"]).get<std::string>();
  CAF_CHECK(gmsg.find("\"presence_penalty\"") != std::string::npos);
  // OpenAI's shape stays lenient.
  auto o = json::parse(chat_body("hi"));
  o["seed"] = 7;
  CAF_CHECK_EQUAL(http_post(url("/v1/chat/completions"), o.dump()).status, 200);
}

CAF_TEST(overlap makes a continuation repeat the end of the prefill) {
  json conv = {{"model", "gpt-4o-mini"},
               {"messages", {{{"role", "user"}, {"content", "Tell a story"}}}}};
  auto full = chat_text(http_post(url("/v1/chat/completions"), conv.dump(),
                                  {{"x-mock-words", "8"}}));
  auto cut = full.find(' ', full.find(' ') + 1) + 3; // mid third word
  conv["messages"].push_back(
      {{"role", "assistant"}, {"content", full.substr(0, cut)}});
  auto rest = chat_text(
      http_post(url("/v1/chat/completions"), conv.dump(),
                {{"x-mock-words", "8"}, {"x-mock-fault", "overlap=5"}}));
  CAF_CHECK_EQUAL(rest, full.substr(cut - 5));
  // More than the prefill: the whole answer again.
  rest = chat_text(
      http_post(url("/v1/chat/completions"), conv.dump(),
                {{"x-mock-words", "8"}, {"x-mock-fault", "overlap=1000"}}));
  CAF_CHECK_EQUAL(rest, full);
  // Without a prefill it changes nothing.
  conv["messages"].erase(1);
  CAF_CHECK_EQUAL(chat_text(http_post(
                      url("/v1/chat/completions"), conv.dump(),
                      {{"x-mock-words", "8"}, {"x-mock-fault", "overlap=5"}})),
                  full);
}

CAF_TEST(a client that expects 100 continue gets it before sending its body) {
  auto request = raw_post("/v1/chat/completions", chat_body("hello"),
                          {{"expect", "100-continue"}});
  auto split = request.find("\r\n\r\n") + 4;
  raw_client c{mock().port};
  CAF_REQUIRE(c.send(request.substr(0, split)));
  auto got = c.read_until("\r\n\r\n", std::chrono::milliseconds{500});
  CAF_REQUIRE_EQUAL(got, "HTTP/1.1 100 Continue\r\n\r\n");
  CAF_REQUIRE(c.send(request.substr(split)));
  auto rest = c.read_until("\"usage\"", std::chrono::seconds{5}, got.size());
  CAF_CHECK(rest.find("HTTP/1.1 200 OK", got.size()) != std::string::npos);
}
