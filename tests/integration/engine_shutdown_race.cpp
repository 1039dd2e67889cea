#define CAF_SUITE engine_shutdown_race
#include "integration/support_engine.hpp"

#include <atomic>
#include <thread>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

json race_config(const mock_server& m) {
  return {
      {"providers", {{"mock", mock_provider(m)}}},
      {"deployments",
       {{"a-gpt", {{"provider", "mock"}, {"model", "gpt-a"}}},
        {"b-gpt", {{"provider", "mock"}, {"model", "gpt-b"}}}}},
      {"routes",
       {{"chat",
         {{"targets", {"a-gpt", "b-gpt"}},
          {"deadline_ms", 5000},
          {"ladder_ms", {2000}}}}}},
      {"engine", {{"threads", 2}}},
  };
}

/// Counts the answers of every call one thread started.
struct tally {
  std::atomic<uint64_t> started{0};
  std::atomic<uint64_t> answered{0};
  std::atomic<uint64_t> refused{0};
};

} // namespace

CAF_TEST(shutdown racing calls streams cancels and status reads is safe) {
  auto m = start_mock();
  auto eng = make_engine(race_config(m));
  std::atomic<bool> stop{false};
  tally calls;
  tally handles;
  std::atomic<uint64_t> streams_ended{0};
  std::atomic<uint64_t> streams_started{0};
  std::atomic<uint64_t> status_reads{0};
  std::atomic<uint64_t> bad_status{0};
  std::vector<std::thread> threads;
  // Callback calls, at most 64 unanswered at a time (an unbounded flood
  // would starve the other threads' calls on a loaded machine).
  threads.emplace_back([&] {
    while (!stop.load()) {
      if (calls.started.load() - calls.answered.load() >= 64) {
        std::this_thread::yield();
        continue;
      }
      calls.started.fetch_add(1);
      eng->complete(user_request("callback"), {}, [&](call_result r) {
        if (!r && r.error().failure.is(engine_code::shutdown))
          calls.refused.fetch_add(1);
        calls.answered.fetch_add(1);
      });
      std::this_thread::yield();
    }
  });
  // Handle calls, half of them cancelled at once.
  threads.emplace_back([&] {
    uint64_t i = 0;
    while (!stop.load()) {
      handles.started.fetch_add(1);
      auto h = eng->complete(user_request("handle"));
      if (++i % 2 == 0)
        h.cancel();
      if (h.wait_for(10s) == std::future_status::ready) {
        h.get();
        handles.answered.fetch_add(1);
      }
    }
  });
  // Streams read for one event, then dropped (the reader cancels).
  threads.emplace_back([&] {
    while (!stop.load()) {
      streams_started.fetch_add(1);
      auto reader = eng->stream(user_request("stream"));
      reader->next(50ms);
      eng->cancel(reader->call_id());
      while (!reader->done() && reader->next(10s))
        ; // until the terminal event
      if (reader->done())
        streams_ended.fetch_add(1);
    }
  });
  // Status reads and operator commands.
  threads.emplace_back([&] {
    while (!stop.load()) {
      // (No CAF_CHECK off the test's thread: the runner is not thread-safe.)
      if (eng->status().deployments.size() != 2)
        bad_status.fetch_add(1);
      eng->control("b-gpt", deployment_command::enable);
      status_reads.fetch_add(1);
      std::this_thread::yield();
    }
  });
  CAF_REQUIRE(eventually(
      [&] {
        return calls.answered.load() >= 50 && handles.answered.load() >= 20
               && streams_ended.load() >= 5;
      },
      20s));
  eng->shutdown(50ms);
  // The threads go on against the stopped engine for a while.
  auto after = calls.started.load();
  CAF_CHECK(
      eventually([&] { return calls.started.load() >= after + 100; }, 5s));
  CAF_CHECK(!eng->control("b-gpt", deployment_command::enable));
  stop = true;
  for (auto& t : threads)
    t.join();
  // Every call got exactly one answer; those after the shutdown were
  // refused at once.
  CAF_CHECK(eventually(
      [&] { return calls.answered.load() == calls.started.load(); }, 5s));
  CAF_CHECK_EQUAL(calls.answered.load(), calls.started.load());
  CAF_CHECK_GREATER_OR_EQUAL(calls.refused.load(), 100u);
  CAF_CHECK_EQUAL(handles.answered.load(), handles.started.load());
  CAF_CHECK_EQUAL(streams_ended.load(), streams_started.load());
  CAF_CHECK_GREATER(status_reads.load(), 0u);
  CAF_CHECK_EQUAL(bad_status.load(), 0u);
  auto st = eng->status();
  CAF_CHECK_EQUAL(st.calls_running, 0u);
  eng.reset(); // the destructor after a shutdown
}
