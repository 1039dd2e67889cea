#define CAF_SUITE config_stream

#include "switchyard/config.hpp"

#include <map>
#include <string>
#include <vector>

#include <caf/test/unit_test.hpp>
#include <nlohmann/json.hpp>

using namespace switchyard;
using namespace std::chrono_literals;
using json = nlohmann::json;
using strings = std::vector<std::string>;

namespace {

env_lookup no_env() {
  return [](const std::string&) -> std::optional<std::string> {
    return std::nullopt;
  };
}

/// A valid config that each test extends or breaks in one place.
json good() {
  return json::parse(R"({
    "providers": {
      "openai": { "kind": "openai_chat" },
      "anthropic": { "kind": "anthropic_messages" }
    },
    "deployments": {
      "gpt": { "provider": "openai", "model": "gpt-4o" },
      "claude": { "provider": "anthropic", "model": "claude" }
    },
    "routes": { "chat": { "targets": ["gpt", "claude"] } }
  })");
}

engine_config parse_ok(const json& cfg) {
  auto result = parse_config(cfg.dump(), no_env());
  if (!result)
    CAF_FAIL("unexpected errors: " << to_string(result.error()));
  return std::move(result).value();
}

/// Every error of parsing `cfg`, rendered; empty when it parses.
strings errors_of(const json& cfg) {
  auto result = parse_config(cfg.dump(), no_env());
  strings out;
  if (!result)
    for (auto& e : result.error())
      out.push_back(to_string(e));
  return out;
}

} // namespace

// -- route stream settings ----------------------------------------------------

CAF_TEST(without a stream section the built - in values apply) {
  auto c = parse_ok(good());
  auto& s = c.find_route("chat")->policy.stream;
  CAF_CHECK(s.first_token.empty());
  CAF_CHECK(s.idle == 30s);
  CAF_CHECK(!s.max_duration);
  CAF_CHECK_EQUAL(s.buffer_events, 4096u);
}

CAF_TEST(a route stream section lands in the policy) {
  auto cfg = good();
  cfg["routes"]["chat"]["stream"] = {{"first_token_ms", {2000, 5000}},
                                     {"idle_ms", 20000},
                                     {"max_duration_ms", 600000},
                                     {"buffer_events", 128}};
  auto c = parse_ok(cfg);
  auto& s = c.find_route("chat")->policy.stream;
  CAF_CHECK(s.first_token == (std::vector<timespan>{2s, 5s}));
  CAF_CHECK(s.idle == 20s);
  CAF_CHECK(s.max_duration == std::optional<timespan>{600s});
  CAF_CHECK_EQUAL(s.buffer_events, 128u);
}

CAF_TEST(the limits of the stream keys are accepted) {
  auto cfg = good();
  std::vector<int> sixteen(16, 1);
  cfg["routes"]["chat"]["stream"] = {{"first_token_ms", sixteen},
                                     {"idle_ms", 1},
                                     {"max_duration_ms", 86400000},
                                     {"buffer_events", 1000000}};
  auto c = parse_ok(cfg);
  auto& s = c.find_route("chat")->policy.stream;
  CAF_CHECK_EQUAL(s.first_token.size(), 16u);
  CAF_CHECK(s.idle == 1ms);
  CAF_CHECK(s.max_duration == std::optional<timespan>{24h});
  CAF_CHECK_EQUAL(s.buffer_events, 1000000u);
}

CAF_TEST(routes inherit the stream section of defaults key by key) {
  auto cfg = good();
  cfg["defaults"]["stream"] = {{"first_token_ms", {1000, 3000}},
                               {"idle_ms", 10000},
                               {"max_duration_ms", 120000},
                               {"buffer_events", 64}};
  cfg["routes"]["batch"]
      = {{"targets", {"gpt"}},
         {"stream", {{"idle_ms", 45000}, {"max_duration_ms", nullptr}}}};
  cfg["routes"]["fast"]
      = {{"targets", {"claude"}}, {"stream", {{"first_token_ms", {500}}}}};
  auto c = parse_ok(cfg);
  auto& chat = c.find_route("chat")->policy.stream;
  CAF_CHECK(chat.first_token == (std::vector<timespan>{1s, 3s}));
  CAF_CHECK(chat.idle == 10s);
  CAF_CHECK(chat.max_duration == std::optional<timespan>{120s});
  CAF_CHECK_EQUAL(chat.buffer_events, 64u);
  auto& batch = c.find_route("batch")->policy.stream;
  CAF_CHECK(batch.first_token == (std::vector<timespan>{1s, 3s}));
  CAF_CHECK(batch.idle == 45s);
  // null lifts the inherited limit.
  CAF_CHECK(!batch.max_duration);
  CAF_CHECK_EQUAL(batch.buffer_events, 64u);
  auto& fast = c.find_route("fast")->policy.stream;
  // A list replaces the inherited list as a whole.
  CAF_CHECK(fast.first_token == (std::vector<timespan>{500ms}));
  CAF_CHECK(fast.idle == 10s);
  CAF_CHECK(c.defaults.route.stream.first_token
            == (std::vector<timespan>{1s, 3s}));
}

CAF_TEST(unknown stream keys are errors with a hint) {
  auto cfg = good();
  cfg["routes"]["chat"]["stream"] = {{"idel_ms", 100}, {"buffer", 10}};
  cfg["defaults"]["stream"] = {{"first_token", {1000}}};
  CAF_CHECK_EQUAL(
      errors_of(cfg),
      (strings{"defaults.stream.first_token: unknown key (did you mean "
               "\"first_token_ms\"?)",
               "routes.chat.stream.buffer: unknown key (expected one of: "
               "first_token_ms, idle_ms, max_duration_ms, buffer_events)",
               "routes.chat.stream.idel_ms: unknown key (did you mean "
               "\"idle_ms\"?)"}));
  cfg = good();
  cfg["routes"]["chat"]["steam"] = json::object();
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"routes.chat.steam: unknown key (did you mean "
                          "\"stream\"?)"});
}

CAF_TEST(the stream section must be an object) {
  auto cfg = good();
  cfg["routes"]["chat"]["stream"] = 5;
  cfg["defaults"]["stream"] = {1000};
  CAF_CHECK_EQUAL(errors_of(cfg),
                  (strings{"defaults.stream: expected an object, got an array",
                           "routes.chat.stream: expected an object, got 5"}));
}

CAF_TEST(first token timeouts are a list of 1 to 16 positive durations) {
  auto cfg = good();
  auto& s = cfg["routes"]["chat"]["stream"];
  s = {{"first_token_ms", json::array()}};
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"routes.chat.stream.first_token_ms: expected 1 to 16 "
                          "first-token timeouts, got 0"});
  s["first_token_ms"] = std::vector<int>(17, 1000);
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"routes.chat.stream.first_token_ms: expected 1 to 16 "
                          "first-token timeouts, got 17"});
  s["first_token_ms"] = {2000, 0, "3s"};
  CAF_CHECK_EQUAL(errors_of(cfg),
                  (strings{"routes.chat.stream.first_token_ms[1]: expected a "
                           "positive integer, got 0",
                           "routes.chat.stream.first_token_ms[2]: expected a "
                           "positive integer, got \"3s\""}));
  s["first_token_ms"] = 2000;
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"routes.chat.stream.first_token_ms: expected an "
                          "array, got 2000"});
}

CAF_TEST(a first token timeout may not exceed the deadline) {
  auto cfg = good();
  cfg["routes"]["chat"]["deadline_ms"] = 10000;
  cfg["routes"]["chat"]["ladder_ms"] = {5000};
  cfg["routes"]["chat"]["stream"] = {{"first_token_ms", {2000, 15000}}};
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"routes.chat.stream.first_token_ms[1]: 15000 exceeds "
                          "deadline_ms (10000)"});
  // Against the inherited deadline too (60000 built in).
  cfg = good();
  cfg["defaults"]["stream"] = {{"first_token_ms", {70000}}};
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"defaults.stream.first_token_ms[0]: 70000 exceeds "
                          "deadline_ms (60000)"});
  // An entry equal to the deadline is fine.
  cfg["defaults"]["stream"] = {{"first_token_ms", {60000}}};
  CAF_CHECK_EQUAL(errors_of(cfg), strings{});
}

CAF_TEST(an invalid first token list is not also compared to the deadline) {
  auto cfg = good();
  cfg["routes"]["chat"]["deadline_ms"] = 10000;
  cfg["routes"]["chat"]["ladder_ms"] = {5000};
  cfg["routes"]["chat"]["stream"] = {{"first_token_ms", {0, 20000}}};
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"routes.chat.stream.first_token_ms[0]: expected a "
                          "positive integer, got 0"});
}

CAF_TEST(a short route deadline clashes with inherited first token timeouts) {
  auto cfg = good();
  cfg["defaults"]["ladder_ms"] = {1000};
  cfg["defaults"]["stream"] = {{"first_token_ms", {2000, 5000}}};
  cfg["routes"]["chat"]["deadline_ms"] = 3000;
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"routes.chat.deadline_ms: 3000 is shorter than the "
                          "inherited stream.first_token_ms[1] (5000); set "
                          "stream.first_token_ms here too"});
  // Setting the list on the route resolves it.
  cfg["routes"]["chat"]["stream"] = {{"first_token_ms", {2000, 3000}}};
  auto c = parse_ok(cfg);
  CAF_CHECK(c.find_route("chat")->policy.stream.first_token
            == (std::vector<timespan>{2s, 3s}));
}

CAF_TEST(idle and max duration are positive durations) {
  auto cfg = good();
  cfg["routes"]["chat"]["stream"]
      = {{"idle_ms", 0}, {"max_duration_ms", "long"}};
  CAF_CHECK_EQUAL(
      errors_of(cfg),
      (strings{"routes.chat.stream.idle_ms: expected a positive integer, got 0",
               "routes.chat.stream.max_duration_ms: expected a positive "
               "integer or null, got \"long\""}));
  cfg["routes"]["chat"]["stream"]
      = {{"idle_ms", 90000000}, {"max_duration_ms", 0}};
  CAF_CHECK_EQUAL(
      errors_of(cfg),
      (strings{"routes.chat.stream.idle_ms: expected at most 86400000 (one "
               "day in milliseconds), got 90000000",
               "routes.chat.stream.max_duration_ms: expected a positive "
               "integer, got 0"}));
  cfg["routes"]["chat"]["stream"] = {{"idle_ms", nullptr}};
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"routes.chat.stream.idle_ms: expected a positive "
                          "integer, got null"});
}

CAF_TEST(buffer_events lies between 1 and 1000000) {
  auto cfg = good();
  for (auto bad : {json(0), json(1000001), json(2.5), json("many")}) {
    cfg["defaults"]["stream"] = {{"buffer_events", bad}};
    CAF_CHECK_EQUAL(errors_of(cfg),
                    strings{"defaults.stream.buffer_events: expected an "
                            "integer between 1 and 1000000, got "
                            + (bad.is_string() ? "\"many\"" : bad.dump())});
  }
}

// -- provider continuation ----------------------------------------------------

CAF_TEST(deployments resolve the continuation style of their provider) {
  auto cfg = good();
  cfg["providers"]["local"]
      = {{"kind", "openai_compatible"}, {"base_url", "http://127.0.0.1:8000"}};
  cfg["providers"]["gemini"] = {{"kind", "gemini"}};
  cfg["providers"]["openai_prefill"]
      = {{"kind", "openai_chat"}, {"continuation", "prefill"}};
  cfg["providers"]["anthropic_ask"]
      = {{"kind", "anthropic_messages"}, {"continuation", "instruction"}};
  for (auto p : {"local", "gemini", "openai_prefill", "anthropic_ask"})
    cfg["deployments"][std::string{"d_"} + p]
        = {{"provider", p}, {"model", "m"}};
  auto c = parse_ok(cfg);
  // Unset: the kind's default; the provider keeps "unset".
  CAF_CHECK(!c.providers.at("openai").continuation);
  CAF_CHECK(c.find_deployment("gpt")->continuation
            == continuation_style::instruction);
  CAF_CHECK(c.find_deployment("claude")->continuation
            == continuation_style::prefill);
  CAF_CHECK(c.find_deployment("d_local")->continuation
            == continuation_style::prefill);
  CAF_CHECK(c.find_deployment("d_gemini")->continuation
            == continuation_style::instruction);
  // Set: it wins over the kind's default.
  CAF_CHECK(c.providers.at("openai_prefill").continuation
            == continuation_style::prefill);
  CAF_CHECK(c.find_deployment("d_openai_prefill")->continuation
            == continuation_style::prefill);
  CAF_CHECK(c.find_deployment("d_anthropic_ask")->continuation
            == continuation_style::instruction);
}

CAF_TEST(an unknown continuation style is an error) {
  auto cfg = good();
  cfg["providers"]["anthropic"]["continuation"] = "prefil";
  cfg["providers"]["openai"]["continuation"] = "resume";
  CAF_CHECK_EQUAL(
      errors_of(cfg),
      (strings{"providers.anthropic.continuation: unknown continuation style "
               "\"prefil\" (did you mean \"prefill\"?)",
               "providers.openai.continuation: unknown continuation style "
               "\"resume\" (expected one of: prefill, instruction)"}));
  cfg = good();
  cfg["providers"]["openai"]["continuation"] = true;
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"providers.openai.continuation: expected a string, "
                          "got true"});
}
