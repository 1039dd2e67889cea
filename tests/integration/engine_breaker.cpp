#define CAF_SUITE engine_breaker
#include "integration/support_engine.hpp"
#include "integration/support_http.hpp"

#include <algorithm>
#include <thread>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

/// A primary and a secondary mock; the primary's breaker opens after three
/// consecutive failures and stays open for `open_ms`.
json breaker_config(const mock_server& primary, const mock_server& secondary,
                    int64_t open_ms) {
  return {
      {"providers",
       {{"primary", mock_provider(primary)},
        {"secondary", mock_provider(secondary)}}},
      {"deployments",
       {{"primary-gpt",
         {{"provider", "primary"},
          {"model", "gpt-4o-mini"},
          {"breaker",
           {{"consecutive_failures", 3},
            {"failure_rate", 0},
            {"open_duration_ms", open_ms},
            {"max_open_duration_ms", 4 * open_ms},
            {"half_open_probes", 1},
            {"half_open_successes", 1}}}}},
        {"secondary-gpt",
         {{"provider", "secondary"}, {"model", "gpt-4o-mini"}}}}},
      {"routes",
       {{"chat",
         {{"targets", {"primary-gpt", "secondary-gpt"}},
          {"deadline_ms", 3000},
          {"ladder_ms", {2000}}}}}},
      {"engine", {{"threads", 2}}},
  };
}

/// The breaker transitions of `deployment`, as "from>to" strings.
std::vector<std::string> transitions(const event_recorder& rec,
                                     const std::string& deployment) {
  std::vector<std::string> out;
  for (auto& ev : rec.of<breaker_changed>())
    if (ev.deployment == deployment)
      out.push_back(ev.from + ">" + ev.to);
  return out;
}

/// Runs one call and requires that it succeeds.
chat_response must_answer(engine& eng, const std::string& prompt) {
  auto out = run_call(eng, user_request(prompt));
  auto& r = *out.result;
  if (!r)
    CAF_FAIL("call failed: " << to_string(r.error().failure)
                             << " trail: " << describe(r.error().attempts));
  return *r;
}

} // namespace

CAF_TEST(a hard down primary trips the breaker and is probed back) {
  auto primary = start_mock();
  auto secondary = start_mock();
  load_scenario(primary,
                {{"rules", {{{"faults", {{{"fault", "overloaded"}}}}}}}});
  auto recorder = std::make_shared<event_recorder>();
  constexpr int64_t open_ms = 2500;
  auto eng = make_engine(breaker_config(primary, secondary, open_ms), recorder);
  // Three calls reach the primary, get 503 and fall back.
  for (int i = 0; i < 3; ++i) {
    auto resp = must_answer(*eng, "down " + std::to_string(i));
    CAF_REQUIRE_EQUAL(resp.attempts.size(), 2u);
    CAF_CHECK_EQUAL(resp.attempts[0].deployment, "primary-gpt");
    CAF_CHECK_EQUAL(resp.attempts[0].status, 503);
    CAF_CHECK_EQUAL(resp.attempts[1].deployment, "secondary-gpt");
  }
  auto opened_at = std::chrono::steady_clock::now();
  CAF_CHECK_EQUAL(status_of(*eng, "primary-gpt").breaker, breaker_state::open);
  CAF_CHECK_EQUAL(transitions(*recorder, "primary-gpt"),
                  std::vector<std::string>{"closed>open"});
  CAF_REQUIRE_EQUAL(mock_total(primary), 3);
  // While open, calls go straight to the secondary (unhealthy targets are
  // ordered last) without asking the primary.
  int skipped = 0;
  while (std::chrono::steady_clock::now() - opened_at < 800ms && skipped < 20) {
    auto resp = must_answer(*eng, "open " + std::to_string(skipped));
    CAF_REQUIRE_EQUAL(resp.attempts.size(), 1u);
    CAF_CHECK_EQUAL(resp.attempts[0].deployment, "secondary-gpt");
    CAF_CHECK_EQUAL(resp.attempts[0].status, 200);
    ++skipped;
  }
  CAF_MESSAGE(skipped << " calls skipped the open breaker");
  CAF_CHECK_GREATER(skipped, 0);
  CAF_CHECK_EQUAL(mock_total(primary), 3);
  CAF_CHECK_EQUAL(mock_total(secondary), 3 + skipped);
  // The primary heals; once the open duration passed, one probe reaches it
  // and closes the breaker.
  load_scenario(primary, json::object());
  std::this_thread::sleep_until(opened_at + std::chrono::milliseconds{open_ms}
                                + 200ms);
  auto probe = must_answer(*eng, "probe");
  CAF_REQUIRE_EQUAL(probe.attempts.size(), 1u);
  CAF_CHECK_EQUAL(probe.attempts[0].deployment, "primary-gpt");
  CAF_CHECK_EQUAL(probe.attempts[0].status, 200);
  CAF_CHECK_EQUAL(mock_total(primary), 4);
  CAF_CHECK_EQUAL(status_of(*eng, "primary-gpt").breaker,
                  breaker_state::closed);
  CAF_CHECK_EQUAL(transitions(*recorder, "primary-gpt"),
                  (std::vector<std::string>{"closed>open", "open>half_open",
                                            "half_open>closed"}));
  // Closed again: the primary takes the traffic.
  for (int i = 0; i < 3; ++i) {
    auto resp = must_answer(*eng, "healed " + std::to_string(i));
    CAF_CHECK_EQUAL(resp.attempts.back().deployment, "primary-gpt");
  }
  CAF_CHECK_EQUAL(mock_total(primary), 7);
  CAF_CHECK_EQUAL(mock_total(secondary), 3 + skipped);
  eng->shutdown();
}

CAF_TEST(refused connections trip the breaker until the listener is back) {
  auto primary = start_mock();
  auto secondary = start_mock();
  // New connections to the primary are refused for 2 s from now.
  load_scenario(primary,
                {{"listener", {{{"at_ms", 0}, {"close_for_ms", 2000}}}}});
  auto closed_at = std::chrono::steady_clock::now();
  CAF_REQUIRE(eventually(
      [&] {
        return test::http_get(primary.base_url() + "/mock/stats", 500ms)
                   .curl_code
               == 7; // refused
      },
      1000ms));
  auto recorder = std::make_shared<event_recorder>();
  constexpr int64_t open_ms = 2500;
  auto eng = make_engine(breaker_config(primary, secondary, open_ms), recorder);
  for (int i = 0; i < 3; ++i) {
    auto resp = must_answer(*eng, "refused " + std::to_string(i));
    CAF_REQUIRE_EQUAL(resp.attempts.size(), 2u);
    CAF_CHECK_EQUAL(resp.attempts[0].deployment, "primary-gpt");
    CAF_CHECK(resp.attempts[0].cls == error_class::connection);
    CAF_CHECK_EQUAL(resp.attempts[0].status, 0);
    CAF_CHECK_EQUAL(resp.attempts[1].deployment, "secondary-gpt");
  }
  auto opened_at = std::chrono::steady_clock::now();
  CAF_CHECK_EQUAL(status_of(*eng, "primary-gpt").breaker, breaker_state::open);
  CAF_CHECK(std::chrono::steady_clock::now() - closed_at < 2000ms);
  // Open: the next calls do not even try to connect.
  for (int i = 0; i < 5; ++i) {
    auto resp = must_answer(*eng, "skip " + std::to_string(i));
    CAF_REQUIRE_EQUAL(resp.attempts.size(), 1u);
    CAF_CHECK_EQUAL(resp.attempts[0].deployment, "secondary-gpt");
  }
  auto attempts_on_primary = recorder->of<attempt_started>();
  CAF_CHECK_EQUAL(
      std::count_if(attempts_on_primary.begin(), attempts_on_primary.end(),
                    [](auto& ev) { return ev.deployment == "primary-gpt"; }),
      3);
  // The listener reopens at 2 s, the breaker half-opens at 2.5 s after it
  // opened: the probe reaches the primary and closes it.
  std::this_thread::sleep_until(opened_at + std::chrono::milliseconds{open_ms}
                                + 200ms);
  // (The stats endpoint itself was unreachable while the listener was
  // closed.) Nothing reached the primary before the probe.
  CAF_CHECK_EQUAL(mock_total(primary), 0);
  auto probe = must_answer(*eng, "probe");
  CAF_CHECK_EQUAL(probe.attempts.back().deployment, "primary-gpt");
  CAF_CHECK_EQUAL(probe.attempts.size(), 1u);
  CAF_CHECK_EQUAL(mock_total(primary), 1);
  CAF_CHECK_EQUAL(status_of(*eng, "primary-gpt").breaker,
                  breaker_state::closed);
  CAF_CHECK_EQUAL(transitions(*recorder, "primary-gpt"),
                  (std::vector<std::string>{"closed>open", "open>half_open",
                                            "half_open>closed"}));
  eng->shutdown();
}
