#define CAF_SUITE engine_crash
#include "integration/support_engine.hpp"
#include "testing.hpp"

#include <algorithm>
#include <thread>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

CAF_TEST(crashing a provider actor loses none of its 200 calls in flight) {
  auto primary = start_mock({"--threads", "2"});
  auto secondary = start_mock({"--threads", "2"});
  // Every primary answer takes 1.5 s, so the calls are in flight when the
  // provider actor crashes.
  json config = {
      {"providers",
       {{"primary", mock_provider(primary, "openai_chat",
                                  {{"x-mock-fault", "latency=1500"}})},
        {"secondary", mock_provider(secondary)}}},
      {"deployments",
       {{"primary-gpt", {{"provider", "primary"}, {"model", "gpt-4o-mini"}}},
        {"secondary-gpt",
         {{"provider", "secondary"}, {"model", "gpt-4o-mini"}}}}},
      {"routes",
       {{"chat",
         {{"targets", {"primary-gpt", "secondary-gpt"}},
          {"deadline_ms", 10000},
          {"ladder_ms", {8000}}}}}},
      {"engine", {{"threads", 2}}},
  };
  auto recorder = std::make_shared<event_recorder>();
  auto eng = make_engine(config, recorder);
  constexpr size_t n = 200;
  std::vector<call_outcome> outcomes;
  std::thread caller{[&] {
    outcomes = run_calls(
        *eng, n, n,
        [](size_t i) { return user_request("in flight " + std::to_string(i)); },
        {}, 20s);
  }};
  // Crash once every call is waiting on the primary.
  bool all_in_flight
      = eventually([&] { return mock_total(primary) >= int64_t{n}; }, 10s);
  auto in_flight = status_of(*eng, "primary-gpt").in_flight;
  CAF_MESSAGE("in flight on the primary before the crash: " << in_flight);
  CAF_CHECK(all_in_flight);
  CAF_CHECK_EQUAL(in_flight, n);
  CAF_REQUIRE(testing::crash_provider(*eng, "primary-gpt"));
  CAF_CHECK(!testing::crash_provider(*eng, "no-such-deployment"));
  caller.join();
  size_t ok = 0;
  size_t by_primary = 0;
  size_t by_secondary = 0;
  for (size_t i = 0; i < n; ++i) {
    auto& o = outcomes[i];
    if (!o.result) {
      CAF_ERROR("call " << i << " hangs");
      continue;
    }
    auto& r = *o.result;
    if (!r) {
      CAF_ERROR("call " << i << " failed: " << to_string(r.error().failure)
                        << " trail: " << describe(trail_of(r)));
      continue;
    }
    ++ok;
    CAF_CHECK_LESS(o.elapsed.count(), 10000);
    auto who = answered_by(r);
    by_primary += who == "primary-gpt" ? 1 : 0;
    by_secondary += who == "secondary-gpt" ? 1 : 0;
  }
  CAF_MESSAGE("after the crash: " << by_primary << " answered by the restarted "
                                  << "primary, " << by_secondary
                                  << " by the secondary");
  CAF_CHECK_EQUAL(ok, n);
  CAF_CHECK_EQUAL(by_primary + by_secondary, n);
  // The transfers belong to the calls, not to the actor: they outlive the
  // crash and their answers reach the callers through the successor, so
  // the primary saw each call exactly once and answered all of them.
  CAF_CHECK_EQUAL(by_primary, n);
  CAF_CHECK_EQUAL(mock_total(primary), static_cast<int64_t>(n));
  CAF_CHECK_EQUAL(mock_total(secondary), int64_t{0});
  // Exactly one restart, the breaker state survived it, no slot leaked.
  auto restarts = recorder->of<provider_restarted>();
  CAF_REQUIRE_EQUAL(restarts.size(), 1u);
  CAF_CHECK_EQUAL(restarts[0].deployment, "primary-gpt");
  CAF_CHECK(!restarts[0].marked_down);
  auto st = status_of(*eng, "primary-gpt");
  CAF_CHECK_EQUAL(st.restarts, 1u);
  CAF_CHECK_EQUAL(st.in_flight, 0u);
  CAF_CHECK(!st.marked_down);
  // The restarted actor still serves calls.
  auto after = run_call(*eng, user_request("after the crash"));
  CAF_REQUIRE(after.result->has_value());
  CAF_CHECK_EQUAL(answered_by(*after.result), "primary-gpt");
  eng->shutdown();
}
