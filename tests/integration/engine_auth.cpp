#define CAF_SUITE engine_auth
#include "integration/support_engine.hpp"

#include <algorithm>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

CAF_TEST(a 401 on one key moves to the next key and marks the bad one down) {
  auto m = start_mock();
  // The mock cannot tell API keys apart, so each key gets its own model and
  // the scenario rejects the bad key's model.
  load_scenario(
      m, {{"rules",
           {{{"model", "gpt-key-a"}, {"faults", {{{"fault", "auth"}}}}}}}});
  auto provider = mock_provider(m);
  provider["api_key"] = "sk-shared";
  json config = {
      {"providers", {{"acct", provider}}},
      {"deployments",
       {{"acct-key-a",
         {{"provider", "acct"}, {"model", "gpt-key-a"}, {"api_key", "sk-a"}}},
        {"acct-key-b",
         {{"provider", "acct"}, {"model", "gpt-key-b"}, {"api_key", "sk-b"}}}}},
      {"routes",
       {{"chat",
         {{"targets", {"acct-key-a", "acct-key-b"}},
          {"deadline_ms", 5000},
          {"ladder_ms", {2000}}}}}},
      {"engine", {{"threads", 2}}},
  };
  auto recorder = std::make_shared<event_recorder>();
  auto eng = make_engine(config, recorder);
  constexpr int calls = 5;
  for (int i = 0; i < calls; ++i) {
    auto out = run_call(*eng, user_request("key " + std::to_string(i)));
    auto& r = *out.result;
    if (!r)
      CAF_FAIL("call " << i << " failed: " << to_string(r.error().failure)
                       << " trail: " << describe(trail_of(r)));
    if (i == 0) {
      // The one request the bad key ever makes, then the next key.
      CAF_REQUIRE_EQUAL(r->attempts.size(), 2u);
      CAF_CHECK_EQUAL(r->attempts[0].deployment, "acct-key-a");
      CAF_CHECK_EQUAL(r->attempts[0].status, 401);
      CAF_CHECK(r->attempts[0].cls == error_class::auth);
    } else {
      // Marked down: ordered last, never reached.
      CAF_REQUIRE_EQUAL(r->attempts.size(), 1u);
    }
    CAF_CHECK_EQUAL(r->attempts.back().deployment, "acct-key-b");
    CAF_CHECK_EQUAL(r->attempts.back().status, 200);
    CAF_CHECK_EQUAL(r->model, "gpt-key-b");
  }
  auto stats = mock_stats(m);
  CAF_MESSAGE("mock stats: " << stats.dump());
  CAF_CHECK_EQUAL(stats["models"].value("gpt-key-a", int64_t{0}), 1);
  CAF_CHECK_EQUAL(stats["models"].value("gpt-key-b", int64_t{0}), calls);
  CAF_CHECK_EQUAL(stats["faults"].value("auth", int64_t{0}), 1);
  // Never retried: no retry was scheduled, one attempt was started.
  for (auto& ev : recorder->of<retry_scheduled>())
    CAF_CHECK_NOT_EQUAL(ev.deployment, "acct-key-a");
  auto started = recorder->of<attempt_started>();
  CAF_CHECK_EQUAL(
      std::count_if(started.begin(), started.end(),
                    [](auto& ev) { return ev.deployment == "acct-key-a"; }),
      1);
  auto st = status_of(*eng, "acct-key-a");
  CAF_CHECK(st.marked_down);
  CAF_CHECK_EQUAL(st.calls, 1u);
  CAF_CHECK_EQUAL(st.failures, 1u);
  CAF_CHECK(!status_of(*eng, "acct-key-b").marked_down);
  eng->shutdown();
}
