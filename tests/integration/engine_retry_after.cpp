#define CAF_SUITE engine_retry_after
#include "integration/support_engine.hpp"

#include <algorithm>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

json retry_config(const mock_server& primary, const mock_server& secondary) {
  return {
      {"providers",
       {{"primary", mock_provider(primary)},
        {"secondary", mock_provider(secondary)}}},
      {"deployments",
       {{"primary-gpt", {{"provider", "primary"}, {"model", "gpt-4o-mini"}}},
        {"secondary-gpt",
         {{"provider", "secondary"}, {"model", "gpt-4o-mini"}}}}},
      {"routes",
       {{"chat",
         {{"targets", {"primary-gpt", "secondary-gpt"}},
          {"deadline_ms", 5000},
          {"ladder_ms", {2000}}}}}},
      {"engine", {{"threads", 2}}},
  };
}

} // namespace

CAF_TEST(a 429 with a retry after hint is waited out when the deadline allows) {
  auto primary = start_mock();
  auto secondary = start_mock();
  auto recorder = std::make_shared<event_recorder>();
  auto eng = make_engine(retry_config(primary, secondary), recorder);
  // For the next 700 ms the primary answers 429 with `retry-after: 1`
  // (and `retry-after-ms: 1000`); after that it answers.
  load_scenario(
      primary,
      {{"rules",
        {{{"timeline",
           {{{"for_ms", 700}, {"faults", {{{"fault", "rate_limit=1"}}}}},
            {{"faults", json::array()}}}}}}}});
  auto out = run_call(*eng, user_request("patience"));
  auto& r = *out.result;
  if (!r)
    CAF_FAIL("call failed: " << to_string(r.error().failure)
                             << " trail: " << describe(trail_of(r)));
  CAF_MESSAGE("answered after " << out.elapsed.count()
                                << " ms: " << describe(r->attempts));
  // Same deployment: a 429, then, a second later, the answer.
  CAF_REQUIRE_EQUAL(r->attempts.size(), 2u);
  CAF_CHECK_EQUAL(r->attempts[0].deployment, "primary-gpt");
  CAF_CHECK_EQUAL(r->attempts[0].status, 429);
  CAF_CHECK(r->attempts[0].cls == error_class::rate_limited);
  CAF_CHECK_EQUAL(r->attempts[1].deployment, "primary-gpt");
  CAF_CHECK_EQUAL(r->attempts[1].status, 200);
  CAF_CHECK_EQUAL(r->provider, "primary");
  CAF_CHECK_GREATER_OR_EQUAL(out.elapsed.count(), 950);
  CAF_CHECK_LESS(out.elapsed.count(), 2500);
  // The wait came from the server's hint, not from the backoff.
  auto retries = recorder->of<retry_scheduled>();
  CAF_REQUIRE_EQUAL(retries.size(), 1u);
  CAF_CHECK(retries[0].from_server);
  CAF_CHECK(retries[0].cls == error_class::rate_limited);
  CAF_CHECK_EQUAL(
      std::chrono::duration_cast<std::chrono::milliseconds>(retries[0].wait)
          .count(),
      1000);
  CAF_CHECK(recorder->of<fallback_taken>().empty());
  CAF_CHECK_EQUAL(mock_total(primary), 2);
  CAF_CHECK_EQUAL(mock_total(secondary), 0);
  eng->shutdown();
}

CAF_TEST(a 429 whose retry after hint does not fit the deadline falls back) {
  auto primary = start_mock();
  auto secondary = start_mock();
  load_scenario(primary,
                {{"rules", {{{"faults", {{{"fault", "rate_limit=1"}}}}}}}});
  auto recorder = std::make_shared<event_recorder>();
  auto eng = make_engine(retry_config(primary, secondary), recorder);
  call_options opts;
  opts.deadline = 500ms;
  auto out = run_call(*eng, user_request("hurry"), opts);
  auto& r = *out.result;
  if (!r)
    CAF_FAIL("call failed: " << to_string(r.error().failure)
                             << " trail: " << describe(trail_of(r)));
  CAF_MESSAGE("answered after " << out.elapsed.count()
                                << " ms: " << describe(r->attempts));
  CAF_CHECK_LESS(out.elapsed.count(), 500);
  CAF_REQUIRE_GREATER_OR_EQUAL(r->attempts.size(), 2u);
  CAF_CHECK_EQUAL(r->attempts.front().deployment, "primary-gpt");
  CAF_CHECK_EQUAL(r->attempts.front().status, 429);
  CAF_CHECK_EQUAL(r->attempts.back().deployment, "secondary-gpt");
  CAF_CHECK_EQUAL(r->attempts.back().status, 200);
  CAF_CHECK_EQUAL(r->provider, "secondary");
  // The server's one-second hint does not fit the deadline: the engine
  // neither waits for it nor retries sooner, it falls back at once.
  auto on_primary
      = std::count_if(r->attempts.begin(), r->attempts.end(),
                      [](auto& a) { return a.deployment == "primary-gpt"; });
  // The server's wait does not fit: no retry on the primary at all.
  CAF_CHECK_EQUAL(on_primary, 1);
  auto retries = recorder->of<retry_scheduled>();
  CAF_CHECK_EQUAL(retries.size(), 0u);
  auto fallbacks = recorder->of<fallback_taken>();
  CAF_REQUIRE_EQUAL(fallbacks.size(), 1u);
  CAF_CHECK_EQUAL(fallbacks[0].from, "primary-gpt");
  CAF_CHECK_EQUAL(fallbacks[0].to, "secondary-gpt");
  CAF_CHECK_EQUAL(fallbacks[0].reason, "rate_limited");
  CAF_CHECK_EQUAL(mock_total(secondary), 1);
  eng->shutdown();
}
