#define CAF_SUITE gateway_metrics
// The gateway's /metrics in front of faulty mocks: promtool accepts a real
// scrape, and the counters add up to what the mocks saw. The event log of a
// faulty run with configured secrets: every line is JSON, every event kind
// shows up, and no secret appears in any log line or /status, /metrics or
// /events body.
#include "integration/support_gateway.hpp"
#include "integration/support_load.hpp"

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <unistd.h>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

std::string chat(bool stream) {
  json body = {{"model", "chat"},
               {"messages", {{{"role", "user"}, {"content", "hello"}}}}};
  if (stream)
    body["stream"] = true;
  return body.dump();
}

/// Sums the samples of `name` whose label set contains every `labels` pair
/// (`key="value"`).
double sum_of(const std::string& text, const std::string& name,
              const std::vector<std::string>& labels = {}) {
  double total = 0;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + "{", 0) != 0 && line.rfind(name + " ", 0) != 0)
      continue;
    bool all = true;
    for (const auto& l : labels)
      all = all && line.find(l) != std::string::npos;
    if (all)
      total += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return total;
}

/// Runs `promtool check metrics` on `text`; returns (exit status, output).
std::pair<int, std::string> promtool(const std::string& text) {
  auto file = artifact_path("metrics.txt");
  std::ofstream{file} << text;
  auto proc = child_process::start(
      {"/bin/sh", "-c", "promtool check metrics < '" + file + "' 2>&1"});
  if (!proc)
    CAF_FAIL("cannot run promtool: " << proc.error());
  std::string out;
  while (auto line = proc->read_line(5s))
    out += *line + '\n';
  auto status = proc->wait(10s);
  return {status ? *status : -1, out};
}

std::string slurp(const std::string& path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace

CAF_TEST(a scrape passes promtool and its counters add up to the mocks) {
  if (::access("/usr/bin/promtool", X_OK) != 0) {
    CAF_MESSAGE("SKIPPED: promtool is missing (apt-get install prometheus, "
                "see scripts/install-deps.sh)");
    return;
  }
  auto primary = start_mock();
  auto backup = start_mock();
  auto cfg
      = gateway_config({{"primary",
                         &primary,
                         "openai_chat",
                         "gpt-4o",
                         {{"x-mock-fault", "status=500"}}},
                        {"backup", &backup, "anthropic_messages", "claude"}});
  cfg["deployments"]["primary"]["breaker"]
      = {{"consecutive_failures", 3}, {"open_duration_ms", 60000}};
  auto gw = start_gateway(cfg);
  const int calls = 12;
  for (int i = 0; i < calls; ++i) {
    auto res = http_post(gw.url("/v1/chat/completions"), chat(i % 2 == 1));
    CAF_REQUIRE_EQUAL(res.status, 200);
  }
  std::string text;
  // Every request a mock saw was an attempt the engine reported (probes
  // included, under route=""), once each attempt's event is in.
  bool adds_up = eventually(
      [&] {
        text = http_get(gw.url("/metrics")).body;
        return sum_of(text, "switchyard_attempts_total",
                      {"deployment=\"primary\""})
                   == static_cast<double>(mock_total(primary))
               && sum_of(text, "switchyard_attempts_total",
                         {"deployment=\"backup\""})
                      == static_cast<double>(mock_total(backup));
      },
      5s);
  CAF_CHECK(adds_up);
  CAF_MESSAGE("primary saw " << mock_total(primary) << ", backup saw "
                             << mock_total(backup));
  CAF_CHECK_EQUAL(mock_total(backup), calls);
  CAF_CHECK_EQUAL(sum_of(text, "switchyard_calls_total",
                         {"route=\"chat\"", "outcome=\"ok\""}),
                  calls);
  CAF_CHECK_EQUAL(sum_of(text, "switchyard_attempts_total",
                         {"deployment=\"backup\"", "class=\"ok\"",
                          "provider=\"backup\"", "model=\"claude\""}),
                  calls);
  // Each failed attempt on the primary moved its call to the backup; the
  // breaker opened after three and refused the rest.
  auto failed = sum_of(
      text, "switchyard_attempts_total",
      {"route=\"chat\"", "deployment=\"primary\"", "class=\"server_error\""});
  CAF_CHECK_EQUAL(failed, 3);
  CAF_CHECK_EQUAL(
      sum_of(text, "switchyard_fallbacks_total",
             {"from=\"primary\"", "to=\"backup\"", "reason=\"server_error\""}),
      failed);
  // The routers skip an open breaker without asking it: no upstream
  // request and no refusal for the rest.
  CAF_CHECK_EQUAL(sum_of(text, "switchyard_breaker_state",
                         {"deployment=\"primary\"", "state=\"open\""}),
                  1);
  CAF_CHECK_EQUAL(sum_of(text, "switchyard_breaker_state",
                         {"deployment=\"primary\"", "state=\"closed\""}),
                  0);
  CAF_CHECK_EQUAL(sum_of(text, "switchyard_breaker_transitions_total",
                         {"deployment=\"primary\"", "to=\"open\""}),
                  1);
  CAF_CHECK_EQUAL(sum_of(text, "switchyard_call_duration_seconds_count",
                         {"route=\"chat\""}),
                  calls);
  CAF_CHECK_EQUAL(sum_of(text, "switchyard_time_to_first_token_seconds_count",
                         {"route=\"chat\""}),
                  calls / 2);
  CAF_CHECK_GREATER(sum_of(text, "switchyard_tokens_total",
                           {"deployment=\"backup\"", "direction=\"output\""}),
                    0);
  auto [status, out] = promtool(text);
  CAF_CHECK_EQUAL(status, 0);
  if (status != 0)
    CAF_MESSAGE("promtool: " << out);
}

CAF_TEST(the event log of a faulty run is JSON and names no secret) {
  auto primary = start_mock();
  auto backup = start_mock();
  const std::string upstream_key = "sk-upstream-0123456789abcdef";
  const std::string gateway_key = "gw-key-fedcba9876543210";
  const std::string admin_key = "admin-key-5a5a5a5a5a5a";
  auto log_file = artifact_path("gateway-events.log");
  std::remove(log_file.c_str());
  // The primary answers the first call, then rate-limits with a hint, fails
  // and finally rejects the key; the backup serves the rest.
  auto cfg
      = gateway_config({{"primary", &primary, "openai_chat", "gpt-4o"},
                        {"backup", &backup, "anthropic_messages", "claude"}},
                       {{"retry", {{"max_retries", {{"rate_limited", 1}}}}}});
  cfg["deployments"]["primary"]["breaker"] = {{"consecutive_failures", 20}};
  cfg["providers"]["primary"]["api_key"] = "${SY_TEST_UPSTREAM_KEY}";
  cfg["providers"]["backup"]["api_key"] = "${SY_TEST_UPSTREAM_KEY}";
  cfg["gateway"] = {{"keys", {{{"key", "${SY_TEST_GATEWAY_KEY}"}}}},
                    {"admin_key", "${SY_TEST_ADMIN_KEY}"}};
  cfg["log"] = {{"level", "debug"}, {"file", log_file}};
  env_list env{{"SY_TEST_UPSTREAM_KEY", upstream_key},
               {"SY_TEST_GATEWAY_KEY", gateway_key},
               {"SY_TEST_ADMIN_KEY", admin_key}};
  auto gw = start_gateway(cfg, {}, env);
  http_headers client{{"authorization", "Bearer " + gateway_key}};
  http_headers admin{{"authorization", "Bearer " + admin_key}};
  std::vector<std::string> bodies;
  auto call = [&](const std::string& fault, bool stream) {
    json body = json::parse(chat(stream));
    auto headers = client;
    // Clients cannot send headers upstream: the fault goes into the
    // primary's scenario.
    json rules = json::array();
    if (!fault.empty())
      rules.push_back({{"faults", {{{"fault", fault}}}}});
    load_scenario(primary, {{"rules", rules}});
    auto res = http_post(gw.url("/v1/chat/completions"), body.dump(), headers);
    CAF_CHECK_EQUAL(res.status, 200);
    bodies.push_back(res.body);
  };
  call("", false);
  call("rate_limit=0.05", false);
  call("server_error", true);
  call("auth", false);
  call("", false); // the primary is marked down: routers skip it
  for (const char* path : {"/status", "/metrics", "/events"}) {
    auto res = http_get(gw.url(path), 10s, admin);
    CAF_CHECK_EQUAL(res.status, 200);
    bodies.push_back(res.body);
  }
  auto status = json::parse(bodies[bodies.size() - 3]);
  for (const auto& d : status["deployments"])
    if (d["name"] == "primary") {
      CAF_CHECK_EQUAL(d["marked_down"], true);
      CAF_CHECK_EQUAL(d["down_reason"], "auth (401): invalid_api_key");
    }
  CAF_CHECK_EQUAL(gw.proc.stop(10s), 0);
  auto log = slurp(log_file);
  std::map<std::string, int> kinds;
  std::istringstream in{log};
  size_t lines = 0;
  for (std::string line; std::getline(in, line);) {
    ++lines;
    auto j = json::parse(line, nullptr, false);
    CAF_CHECK(!j.is_discarded());
    if (j.is_discarded()) {
      CAF_MESSAGE("not JSON: " << line);
      continue;
    }
    CAF_CHECK(j.contains("ts") && j.contains("level"));
    ++kinds[j.value("event", "")];
    // The 429's retry waited for its hint; the 5xx retries for the backoff.
    if (j.value("event", "") == "retry")
      CAF_CHECK_EQUAL(j["from_retry_after"].get<bool>(),
                      j["class"] == "rate_limited");
  }
  CAF_MESSAGE(lines << " log lines");
  for (const char* kind : {"config_loaded", "attempt_started", "attempt",
                           "retry", "fallback", "call", "shutdown"}) {
    CAF_MESSAGE("records of kind " << kind << ": " << kinds[kind]);
    CAF_CHECK_GREATER(kinds[kind], 0);
  }
  for (const auto& secret : {upstream_key, gateway_key, admin_key}) {
    CAF_CHECK_EQUAL(log.find(secret), std::string::npos);
    for (const auto& b : bodies)
      CAF_CHECK_EQUAL(b.find(secret), std::string::npos);
  }
}
