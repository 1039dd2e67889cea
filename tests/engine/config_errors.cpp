#define CAF_SUITE config_errors

#include "switchyard/config.hpp"

#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <unistd.h>
#include <vector>

#include <caf/test/unit_test.hpp>
#include <nlohmann/json.hpp>

using namespace switchyard;
using json = nlohmann::json;
using strings = std::vector<std::string>;

namespace {

env_lookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](
             const std::string& name) -> std::optional<std::string> {
    if (auto i = vars.find(name); i != vars.end())
      return i->second;
    return std::nullopt;
  };
}

/// A valid config that each test breaks in one place.
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

/// Every error of parsing `text`, rendered; empty when it parses.
strings errors_in(std::string_view text, const env_lookup& env = fake_env({})) {
  auto result = parse_config(text, env);
  strings out;
  if (!result)
    for (auto& e : result.error())
      out.push_back(to_string(e));
  return out;
}

strings errors_of(const json& cfg, const env_lookup& env = fake_env({})) {
  return errors_in(cfg.dump(), env);
}

} // namespace

CAF_TEST(the base config is valid) {
  CAF_CHECK_EQUAL(errors_of(good()), strings{});
}

CAF_TEST(syntax errors name line and column) {
  auto text = "{\n  \"routes\": {\n    \"chat\": { \"targets\": [\"gpt\",] }\n"
              "  }\n}\n";
  CAF_CHECK_EQUAL(errors_in(text),
                  strings{"invalid JSON at line 3, column 33: syntax error "
                          "while parsing value - unexpected ']'; expected "
                          "'[', '{', or a literal"});
}

CAF_TEST(the root must be an object) {
  CAF_CHECK_EQUAL(errors_in("[1, 2]"),
                  strings{"expected an object, got an array"});
}

CAF_TEST(routes are required) {
  auto cfg = good();
  cfg.erase("routes");
  CAF_CHECK_EQUAL(errors_of(cfg), strings{"routes: missing required key"});
  cfg["routes"] = json::object();
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"routes: expected at least one route"});
}

CAF_TEST(unknown keys suggest the closest known key) {
  auto cfg = good();
  cfg["route"] = cfg["routes"];
  cfg["routes"]["chat"]["stratgey"] = "priority";
  CAF_CHECK_EQUAL(errors_of(cfg),
                  (strings{"route: unknown key (did you mean \"routes\"?)",
                           "routes.chat.stratgey: unknown key (did you mean "
                           "\"strategy\"?)"}));
}

CAF_TEST(unknown keys without a close match list the known keys) {
  auto cfg = good();
  cfg["routes"]["chat"]["targets"][0]
      = {{"deployment", "gpt"}, {"provider", "openai"}};
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"routes.chat.targets[0].provider: unknown key "
                          "(expected one of: deployment, weight, priority)"});
}

CAF_TEST(an unknown provider suggests a close name) {
  auto cfg = good();
  cfg["deployments"]["claude"]["provider"] = "antropic";
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"deployments.claude.provider: unknown provider "
                          "\"antropic\" (did you mean \"anthropic\"?)"});
}

CAF_TEST(an unknown provider kind suggests or lists the kinds) {
  auto cfg = good();
  cfg["providers"]["openai"]["kind"] = "openai_chta";
  cfg["providers"]["anthropic"]["kind"] = "claude";
  CAF_CHECK_EQUAL(
      errors_of(cfg),
      (strings{"providers.anthropic.kind: unknown provider kind \"claude\" "
               "(expected one of: openai_chat, anthropic_messages, gemini, "
               "azure_openai, openai_compatible, openai_completions)",
               "providers.openai.kind: unknown provider kind \"openai_chta\" "
               "(did you mean \"openai_chat\"?)"}));
}

CAF_TEST(limits must be non - negative numbers) {
  auto cfg = good();
  cfg["deployments"]["gpt"]["limits"]
      = {{"requests_per_minute", "fast"}, {"max_in_flight", -1}};
  CAF_CHECK_EQUAL(errors_of(cfg),
                  (strings{"deployments.gpt.limits.requests_per_minute: "
                           "expected a non-negative number, got \"fast\"",
                           "deployments.gpt.limits.max_in_flight: expected an "
                           "integer between 0 and 1000000, got -1"}));
}

CAF_TEST(rates must lie between zero and one) {
  auto cfg = good();
  cfg["defaults"]["breaker"]
      = {{"failure_rate", 1.5}, {"slow_call_rate", -0.1}};
  CAF_CHECK_EQUAL(errors_of(cfg),
                  (strings{"defaults.breaker.failure_rate: expected a number "
                           "between 0 and 1, got 1.5",
                           "defaults.breaker.slow_call_rate: expected a number "
                           "between 0 and 1, got -0.1"}));
}

CAF_TEST(ladder entries must be positive) {
  auto cfg = good();
  cfg["routes"]["chat"]["ladder_ms"] = {2000, 0, 5000};
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"routes.chat.ladder_ms[1]: expected a positive "
                          "integer, got 0"});
  cfg["routes"]["chat"]["ladder_ms"] = json::array();
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"routes.chat.ladder_ms: expected 1 to 16 attempt "
                          "timeouts, got 0"});
}

CAF_TEST(a ladder entry may not exceed the deadline) {
  auto cfg = good();
  cfg["routes"]["chat"]["deadline_ms"] = 10000;
  cfg["routes"]["chat"]["ladder_ms"] = {2000, 5000, 15000};
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"routes.chat.ladder_ms[2]: 15000 exceeds "
                          "deadline_ms (10000)"});
}

CAF_TEST(a short route deadline clashes with the inherited ladder) {
  auto cfg = good();
  cfg["defaults"]["ladder_ms"] = {2000, 5000};
  cfg["routes"]["chat"]["deadline_ms"] = 3000;
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"routes.chat.deadline_ms: 3000 is shorter than the "
                          "inherited ladder_ms[1] (5000); set ladder_ms here "
                          "too"});
}

CAF_TEST(durations are whole milliseconds) {
  auto cfg = good();
  cfg["routes"]["chat"]["deadline_ms"] = "10s";
  cfg["routes"]["chat"]["backoff"] = {{"base_ms", 2.5}};
  CAF_CHECK_EQUAL(errors_of(cfg),
                  (strings{"routes.chat.deadline_ms: expected a positive "
                           "integer, got \"10s\"",
                           "routes.chat.backoff.base_ms: expected a "
                           "non-negative integer, got 2.5"}));
}

CAF_TEST(a route needs targets) {
  auto cfg = good();
  cfg["routes"]["chat"]["targets"] = json::array();
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"routes.chat.targets: expected at least one target"});
  cfg["routes"]["chat"].erase("targets");
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"routes.chat.targets: missing required key"});
  cfg["routes"]["chat"]["targets"] = "gpt";
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"routes.chat.targets: expected an array, got "
                          "\"gpt\""});
}

CAF_TEST(targets must name known deployments) {
  auto cfg = good();
  cfg["routes"]["chat"]["targets"]
      = {"gpt", "gtp", {{"deployment", "mistral"}}};
  CAF_CHECK_EQUAL(
      errors_of(cfg),
      (strings{"routes.chat.targets[1]: unknown deployment \"gtp\" (did you "
               "mean \"gpt\"?)",
               "routes.chat.targets[2].deployment: unknown deployment "
               "\"mistral\" (expected one of: claude, gpt)"}));
}

CAF_TEST(a target may appear only once) {
  auto cfg = good();
  cfg["routes"]["chat"]["targets"]
      = {"gpt", "claude", {{"deployment", "gpt"}, {"weight", 2}}};
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"routes.chat.targets[2].deployment: duplicate target "
                          "\"gpt\" (also targets[0])"});
}

CAF_TEST(unknown enumeration names are rejected) {
  auto cfg = good();
  cfg["routes"]["chat"]["strategy"] = "round_robin";
  cfg["routes"]["chat"]["stream_failover"] = "resume";
  cfg["routes"]["chat"]["backoff"] = {{"jitter", "ful"}};
  CAF_CHECK_EQUAL(
      errors_of(cfg),
      (strings{"routes.chat.strategy: unknown strategy \"round_robin\" "
               "(expected one of: priority, weighted_random, sticky, "
               "least_in_flight, lowest_latency, cheapest)",
               "routes.chat.backoff.jitter: unknown jitter \"ful\" (did you "
               "mean \"full\"?)",
               "routes.chat.stream_failover: unknown stream_failover mode "
               "\"resume\" (expected one of: error, restart, continue)"}));
}

CAF_TEST(error class names are checked) {
  auto cfg = good();
  cfg["routes"]["chat"]["retry"]
      = {{"max_retries", {{"server_eror", 1}, {"timeout", -2}}},
         {"fall_back_on", {"overloaded", "overloded"}}};
  CAF_CHECK_EQUAL(
      errors_of(cfg),
      (strings{"routes.chat.retry.max_retries.server_eror: unknown key (did "
               "you mean \"server_error\"?)",
               "routes.chat.retry.max_retries.timeout: expected an integer "
               "between 0 and 100, got -2",
               "routes.chat.retry.fall_back_on[1]: unknown error class "
               "\"overloded\" (did you mean \"overloaded\"?)"}));
}

CAF_TEST(cancelled calls cannot fall back) {
  auto cfg = good();
  cfg["defaults"]["retry"] = {{"fall_back_on", {"timeout", "cancelled"}}};
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"defaults.retry.fall_back_on: \"cancelled\" cannot "
                          "fall back: the caller gave up"});
}

CAF_TEST(default_route must name a route) {
  auto cfg = good();
  cfg["default_route"] = "chta";
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"default_route: unknown route \"chta\" (did you "
                          "mean \"chat\"?)"});
}

CAF_TEST(a missing environment variable names itself and the path) {
  auto cfg = good();
  cfg["providers"]["openai"]["api_key"] = "${OPENAI_API_KEY}";
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"providers.openai.api_key: environment variable "
                          "OPENAI_API_KEY is not set"});
  CAF_CHECK_EQUAL(errors_of(cfg, fake_env({{"OPENAI_API_KEY", "sk"}})),
                  strings{});
}

CAF_TEST(malformed environment references are rejected) {
  auto cfg = good();
  cfg["providers"]["openai"]["base_url"] = "http://h:${PORT";
  cfg["deployments"]["gpt"]["model"] = "${9LIVES}";
  CAF_CHECK_EQUAL(errors_of(cfg),
                  (strings{"providers.openai.base_url: unterminated \"${\" "
                           "(write \"$${\" for a literal \"${\")",
                           "deployments.gpt.model: invalid environment "
                           "variable name \"9LIVES\""}));
}

CAF_TEST(required deployment fields are reported) {
  auto cfg = good();
  cfg["deployments"]["gpt"].erase("model");
  cfg["deployments"]["claude"].erase("provider");
  CAF_CHECK_EQUAL(errors_of(cfg),
                  (strings{"deployments.claude.provider: missing required key",
                           "deployments.gpt.model: missing required key"}));
}

CAF_TEST(azure deployments need a deployment name) {
  auto cfg = good();
  cfg["providers"]["azure"] = {{"kind", "azure_openai"},
                               {"base_url", "https://r.openai.azure.com"},
                               {"api_key", "k"}};
  cfg["deployments"]["az"] = {{"provider", "azure"}};
  cfg["deployments"]["gpt"]["deployment"] = "x";
  CAF_CHECK_EQUAL(errors_of(cfg),
                  (strings{"deployments.az.deployment: missing required key "
                           "(the Azure deployment name)",
                           "deployments.gpt.deployment: only azure_openai "
                           "providers take a deployment name"}));
}

CAF_TEST(base urls need a scheme and some kinds need one at all) {
  auto cfg = good();
  cfg["providers"]["openai"]["base_url"] = "api.openai.com";
  cfg["providers"]["local"] = {{"kind", "openai_compatible"}};
  CAF_CHECK_EQUAL(
      errors_of(cfg),
      (strings{"providers.local.base_url: missing required key (kind "
               "\"openai_compatible\" has no default address)",
               "providers.openai.base_url: expected a URL starting with "
               "http:// or https://, got \"api.openai.com\""}));
}

CAF_TEST(explicit auth needs a key) {
  auto cfg = good();
  cfg["providers"]["openai"]["auth"] = "bearer";
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"deployments.gpt.api_key: missing: provider "
                          "\"openai\" uses auth \"bearer\" but neither this "
                          "deployment nor providers.openai sets an api_key"});
  cfg["deployments"]["gpt"]["api_key"] = "sk";
  CAF_CHECK_EQUAL(errors_of(cfg), strings{});
}

CAF_TEST(types are checked) {
  auto cfg = good();
  cfg["providers"]["openai"]["headers"] = {{"X-A", 1}};
  cfg["deployments"]["gpt"]["weight"] = true;
  cfg["routes"]["chat"]["hedge"] = {{"enabled", "yes"}, {"percentile", 0}};
  cfg["engine"] = {{"threads", 5000}, {"transport", 3}};
  CAF_CHECK_EQUAL(
      errors_of(cfg),
      (strings{"engine.threads: expected an integer between 0 and 1024, got "
               "5000",
               "engine.transport: expected an object, got 3",
               "providers.openai.headers.X-A: expected a string, got 1",
               "deployments.gpt.weight: expected a number between 0 and "
               "1e+06, got true",
               "routes.chat.hedge.enabled: expected true or false, got \"yes\"",
               "routes.chat.hedge.percentile: expected a number greater than 0 "
               "and at most 1, got 0"}));
}

CAF_TEST(transport loops are bounded) {
  auto cfg = good();
  cfg["engine"] = {{"transport", {{"loops", 65}}}};
  CAF_CHECK_EQUAL(errors_of(cfg),
                  (strings{"engine.transport.loops: expected an integer "
                           "between 0 and 64, got 65"}));
  cfg["engine"] = {{"transport", {{"loops", -1}}}};
  CAF_CHECK_EQUAL(errors_of(cfg),
                  (strings{"engine.transport.loops: expected an integer "
                           "between 0 and 64, got -1"}));
}

CAF_TEST(paired durations must be ordered) {
  auto cfg = good();
  cfg["defaults"]["backoff"] = {{"base_ms", 500}, {"cap_ms", 100}};
  cfg["deployments"]["gpt"]["breaker"] = {{"open_duration_ms", 300000}};
  CAF_CHECK_EQUAL(errors_of(cfg),
                  (strings{"defaults.backoff.cap_ms: must be at least base_ms "
                           "(500), got 100",
                           "deployments.gpt.breaker.max_open_duration_ms: must "
                           "be at least open_duration_ms (300000), got "
                           "120000"}));
}

CAF_TEST(weighted random needs a positive weight) {
  auto cfg = good();
  cfg["routes"]["chat"]["strategy"] = "weighted_random";
  cfg["routes"]["chat"]["targets"]
      = {{{"deployment", "gpt"}, {"weight", 0}},
         {{"deployment", "claude"}, {"weight", 0}}};
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"routes.chat.targets: every target has weight 0; "
                          "weighted_random needs a positive weight"});
}

CAF_TEST(routes sharing a deployment must agree on its breaker) {
  auto cfg = good();
  cfg["routes"]["a"]
      = {{"targets", {"gpt"}}, {"breaker", {{"consecutive_failures", 3}}}};
  cfg["routes"]["b"]
      = {{"targets", {"gpt"}}, {"breaker", {{"consecutive_failures", 9}}}};
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"routes.b.breaker: conflicts with routes.a.breaker "
                          "for shared deployment \"gpt\" (a deployment has one "
                          "breaker; set deployments.gpt.breaker instead)"});
  cfg["routes"]["b"]["breaker"]["consecutive_failures"] = 3;
  CAF_CHECK_EQUAL(errors_of(cfg), strings{});
}

CAF_TEST(context fallbacks must be larger) {
  auto cfg = good();
  cfg["deployments"]["gpt"]["context_window"] = 128000;
  cfg["deployments"]["claude"]["context_window"] = 200000;
  cfg["routes"]["chat"]["targets"] = {"claude"};
  cfg["routes"]["chat"]["context_fallbacks"] = {"gpt", "gpt"};
  CAF_CHECK_EQUAL(errors_of(cfg),
                  (strings{"routes.chat.context_fallbacks[0]: deployment "
                           "\"gpt\" has a context window of 128000 tokens, "
                           "not larger than target \"claude\" (200000)",
                           "routes.chat.context_fallbacks[1]: duplicate "
                           "fallback \"gpt\" (also context_fallbacks[0])"}));
}

CAF_TEST(errors are collected across the whole config) {
  auto cfg = good();
  cfg["providers"]["openai"]["kind"] = "opneai_chat";
  cfg["deployments"]["claude"]["limits"] = {{"tokens_per_minute", -5}};
  cfg["routes"]["chat"]["deadline_ms"] = 0;
  // The broken provider hides its deployment: "gpt" raises no second error.
  CAF_CHECK_EQUAL(
      errors_of(cfg),
      (strings{"providers.openai.kind: unknown provider kind \"opneai_chat\" "
               "(did you mean \"openai_chat\"?)",
               "deployments.claude.limits.tokens_per_minute: expected a "
               "non-negative number, got -5",
               "routes.chat.deadline_ms: expected a positive integer, got 0"}));
}

CAF_TEST(file errors name the file) {
  auto missing = std::string{"/nonexistent-dir/switchyard.json"};
  auto r1 = load_config_file(missing, fake_env({}));
  CAF_REQUIRE(!r1.has_value());
  CAF_CHECK_EQUAL(to_string(r1.error()),
                  missing + ": cannot open file: No such file or directory\n");
  auto path
      = "/tmp/switchyard-config-errors-" + std::to_string(::getpid()) + ".json";
  {
    std::ofstream out{path};
    out << "{\n  \"routes\": {\n}";
  }
  auto r2 = load_config_file(path, fake_env({}));
  std::remove(path.c_str());
  CAF_REQUIRE(!r2.has_value());
  CAF_REQUIRE_EQUAL(r2.error().size(), 1u);
  CAF_CHECK_EQUAL(r2.error()[0].path, path);
  CAF_CHECK_EQUAL(r2.error()[0].message,
                  "invalid JSON at line 3, column 2: syntax error while "
                  "parsing object - unexpected end of input; expected '}'");
}

CAF_TEST(a route lists at most 32 targets) {
  auto cfg = good();
  auto targets = json::array();
  for (int i = 0; i < 33; ++i) {
    auto name = "d" + std::to_string(i);
    cfg["deployments"][name] = {{"provider", "openai"}, {"model", name}};
    targets.push_back(name);
  }
  cfg["routes"]["chat"]["targets"] = targets;
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"routes.chat.targets: expected at most 32 targets, "
                          "got 33 (the router orders at most 32 candidates "
                          "per call)"});
  targets.erase(32);
  cfg["routes"]["chat"]["targets"] = targets;
  CAF_CHECK_EQUAL(errors_of(cfg), strings{});
}
