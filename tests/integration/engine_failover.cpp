#define CAF_SUITE engine_failover
#include "integration/support_engine.hpp"

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <utility>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

constexpr auto deadline = 5000ms;

/// A flaky OpenAI-shaped primary and a healthy Anthropic-shaped secondary.
/// The primary's breaker is off so that every call meets its faults.
json flaky_config(const mock_server& primary, const mock_server& secondary) {
  return {
      {"providers",
       {{"primary", mock_provider(primary)},
        {"secondary", mock_provider(secondary, "anthropic_messages")}}},
      {"deployments",
       {{"primary-gpt", {{"provider", "primary"}, {"model", "gpt-4o-mini"}}},
        {"secondary-claude",
         {{"provider", "secondary"}, {"model", "claude-sonnet-4-20250514"}}}}},
      {"routes",
       {{"chat",
         {{"targets", {"primary-gpt", "secondary-claude"}},
          {"deadline_ms", deadline.count()},
          // A hang is cut after 300 ms; a retry gets 1 s.
          {"ladder_ms", {300, 1000}},
          {"breaker", {{"consecutive_failures", 0}, {"failure_rate", 0}}},
          {"backoff", {{"base_ms", 20}, {"cap_ms", 200}}}}}}},
      {"engine", {{"threads", 2}}},
  };
}

} // namespace

CAF_TEST(500 calls through a flaky primary all succeed within the deadline) {
  auto primary = start_mock({"--threads", "2"});
  auto secondary = start_mock();
  // 30 % overloaded (503), 10 % hang, 60 % clean.
  load_scenario(primary, {{"rules",
                           {{{"kind", "openai_chat"},
                             {"faults",
                              {{{"fault", "overloaded"}, {"p", 0.3}},
                               {{"fault", "hang"}, {"p", 0.1}}}}}}}});
  auto recorder = std::make_shared<event_recorder>();
  auto eng = make_engine(flaky_config(primary, secondary), recorder);
  constexpr size_t n = 500;
  auto t0 = std::chrono::steady_clock::now();
  auto outcomes = run_calls(
      *eng, n, 64,
      [](size_t i) { return user_request("question " + std::to_string(i)); },
      {}, 60s);
  auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - t0);
  CAF_MESSAGE(n << " calls took " << wall.count() << " ms");
  size_t ok = 0;
  size_t by_primary = 0;
  size_t by_secondary = 0;
  size_t primary_attempts = 0;
  size_t overloaded_attempts = 0;
  size_t timeouts = 0;
  auto slowest = 0ms;
  for (size_t i = 0; i < n; ++i) {
    auto& o = outcomes[i];
    if (!o.result) {
      CAF_FAIL("call " << i << " did not complete within 60 s");
    }
    auto& r = *o.result;
    if (!r) {
      CAF_ERROR("call " << i << " failed: " << to_string(r.error().failure)
                        << " trail: " << describe(r.error().attempts));
      continue;
    }
    ++ok;
    slowest = std::max(slowest, o.elapsed);
    CAF_CHECK_LESS(o.elapsed.count(), deadline.count());
    auto who = answered_by(r);
    by_primary += who == "primary-gpt" ? 1 : 0;
    by_secondary += who == "secondary-claude" ? 1 : 0;
    const auto& trail = r->attempts;
    for (size_t k = 0; k < trail.size(); ++k) {
      const auto& a = trail[k];
      if (a.deployment != "primary-gpt")
        continue;
      ++primary_attempts;
      if (a.cls == error_class::overloaded) {
        // Overloaded falls back at once: the next attempt is the secondary.
        ++overloaded_attempts;
        CAF_CHECK_EQUAL(a.status, 503);
        if (k + 1 < trail.size())
          CAF_CHECK_EQUAL(trail[k + 1].deployment, "secondary-claude");
        else
          CAF_ERROR("call " << i << " ended on an overloaded attempt: "
                            << describe(trail));
      } else if (a.cls == error_class::timeout) {
        // A hang is cut short by the ladder: 300 ms first, 1 s on a retry.
        ++timeouts;
        CAF_CHECK_LESS(a.latency, timespan{1500ms});
        if (k == 0)
          CAF_CHECK_LESS(a.latency, timespan{900ms});
      }
    }
  }
  CAF_MESSAGE("answered by primary: "
              << by_primary << ", by secondary: " << by_secondary
              << ", slowest call: " << slowest.count() << " ms");
  CAF_CHECK_EQUAL(ok, n);
  CAF_CHECK_EQUAL(by_primary + by_secondary, n);
  // The faults really happened, and were survived.
  auto stats = mock_stats(primary);
  CAF_MESSAGE("primary mock stats: " << stats.dump());
  auto seen_overloaded = stats["faults"].value("overloaded", int64_t{0});
  auto seen_hang = stats["faults"].value("hang", int64_t{0});
  CAF_CHECK_GREATER(seen_overloaded, 100);
  CAF_CHECK_GREATER(seen_hang, 25);
  // Under heavy load an answer, clean or 503, may also miss the 300 ms rung:
  // then its attempt is a timeout. Every 503 and every hang the mock dealt
  // out is one or the other.
  CAF_CHECK_LESS_OR_EQUAL(static_cast<int64_t>(overloaded_attempts),
                          seen_overloaded);
  CAF_CHECK_GREATER_OR_EQUAL(static_cast<int64_t>(timeouts), seen_hang);
  CAF_CHECK_GREATER_OR_EQUAL(
      static_cast<int64_t>(overloaded_attempts + timeouts),
      seen_overloaded + seen_hang);
  // Every attempt in the trails reached the mock, and nothing else did.
  CAF_CHECK_EQUAL(static_cast<int64_t>(primary_attempts),
                  stats["total"].get<int64_t>());
  CAF_CHECK_GREATER(by_primary, n / 3);
  CAF_CHECK_GREATER_OR_EQUAL(by_secondary, overloaded_attempts);
  // Events agree with the outcomes.
  auto finished = recorder->of<call_finished>();
  CAF_CHECK_EQUAL(finished.size(), n);
  CAF_CHECK(std::all_of(finished.begin(), finished.end(),
                        [](auto& ev) { return !ev.cls.has_value(); }));
  auto fallbacks = recorder->of<fallback_taken>();
  CAF_CHECK_EQUAL(fallbacks.size(), by_secondary);
  eng->shutdown();
  CAF_CHECK_EQUAL(primary.proc.stop(), 0);
  CAF_CHECK_EQUAL(secondary.proc.stop(), 0);
}

CAF_TEST(calls started from a callback run and can be cancelled) {
  // Each answer starts the next call from inside its callback (on an engine
  // thread, the way pipelines chain calls): 200 in a row, through a primary
  // that fails a third of them over to the secondary. Then a chained call
  // that hangs is cancelled from the caller's thread.
  auto primary = start_mock();
  auto secondary = start_mock();
  load_scenario(primary,
                {{"rules",
                  {{{"kind", "openai_chat"},
                    {"faults", {{{"fault", "overloaded"}, {"p", 0.33}}}}}}}});
  auto eng = make_engine(flaky_config(primary, secondary));
  struct chain {
    std::mutex mtx;
    std::condition_variable cv;
    size_t answered = 0;
    size_t failed = 0;
    bool ended = false;
  };
  auto state = std::make_shared<chain>();
  constexpr size_t n = 200;
  std::function<void(size_t)> next = [&](size_t i) {
    eng->complete(user_request("link " + std::to_string(i)), {},
                  [&, state, i](call_result r) {
                    {
                      std::lock_guard guard{state->mtx};
                      ++(r ? state->answered : state->failed);
                    }
                    if (i + 1 < n) {
                      next(i + 1);
                      return;
                    }
                    std::lock_guard guard{state->mtx};
                    state->ended = true;
                    state->cv.notify_all();
                  });
  };
  next(0);
  {
    std::unique_lock guard{state->mtx};
    CAF_REQUIRE(state->cv.wait_for(guard, 60s, [&] { return state->ended; }));
    CAF_CHECK_EQUAL(state->answered, n);
    CAF_CHECK_EQUAL(state->failed, 0u);
  }
  CAF_CHECK_EQUAL(mock_total(primary), static_cast<int64_t>(n));
  CAF_CHECK_GREATER(mock_total(secondary), 0);
  // A call chained from a callback (pinned to the primary, which now hangs)
  // is cancelled by id from the caller's thread.
  load_scenario(primary, {{"rules",
                           {{{"kind", "openai_chat"},
                             {"faults", {{{"fault", "hang"}, {"p", 1.0}}}}}}}});
  std::promise<uint64_t> chained_id;
  std::promise<call_result> chained_result;
  eng->complete(user_request("first"), {}, [&](call_result) {
    call_options pinned;
    pinned.pin = "primary-gpt";
    chained_id.set_value(
        eng->complete(user_request("second"), pinned, [&](call_result r) {
          chained_result.set_value(std::move(r));
        }));
  });
  auto id_future = chained_id.get_future();
  CAF_REQUIRE(id_future.wait_for(10s) == std::future_status::ready);
  auto id = id_future.get();
  auto result_future = chained_result.get_future();
  CAF_CHECK(result_future.wait_for(100ms) == std::future_status::timeout);
  eng->cancel(id);
  CAF_REQUIRE(result_future.wait_for(2s) == std::future_status::ready);
  auto r = result_future.get();
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(r.error().failure.code, "cancelled");
}

CAF_TEST(a callback that starts a call on another engine leaves it there) {
  // One worker each: were B's call handed to B's router as A's router (on
  // A's worker), B's router would run, and answer, on A's only worker.
  auto primary = start_mock();
  auto secondary = start_mock();
  auto cfg = flaky_config(primary, secondary);
  cfg["engine"]["threads"] = 1;
  auto a = make_engine(cfg);
  auto b = make_engine(cfg);
  std::promise<std::thread::id> a_thread;
  std::promise<std::pair<std::thread::id, bool>> b_outcome;
  a->complete(user_request("to a"), {}, [&](call_result) {
    a_thread.set_value(std::this_thread::get_id());
    // An unknown route: B's router answers at once, on whatever thread
    // runs it.
    call_options nowhere;
    nowhere.route = "nowhere";
    b->complete(user_request("to b"), nowhere, [&](call_result r) {
      b_outcome.set_value({std::this_thread::get_id(),
                           !r && r.error().failure.code == "unknown_route"});
    });
  });
  auto fa = a_thread.get_future();
  auto fb = b_outcome.get_future();
  CAF_REQUIRE(fa.wait_for(10s) == std::future_status::ready);
  CAF_REQUIRE(fb.wait_for(10s) == std::future_status::ready);
  auto [b_thread, refused] = fb.get();
  CAF_CHECK(refused);
  CAF_CHECK_NOT_EQUAL(b_thread, fa.get());
}
