#define CAF_SUITE stream_cancel
// Ending streams early: cancelling through the reader, through the engine,
// by dropping the reader, and a reader too slow for its bounded buffer. The
// mock's `open_connections` gauge shows that the upstream transfer was
// really given up.
#include "integration/support_engine.hpp"

#include <algorithm>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

using steady = std::chrono::steady_clock;

/// A mock serving a long, slow stream (200 words, one every 20 ms: 4 s),
/// with `extra` headers, and a spare deployment that cancelled calls must
/// not fall back to.
struct rig {
  mock_server upstream = start_mock();
  mock_server spare = start_mock();
  std::unique_ptr<engine> eng;

  explicit rig(json extra = json::object(), int64_t buffer_events = 4096) {
    json headers = {{"x-mock-words", "200"}, {"x-mock-chunk-delay-ms", "20"}};
    headers.update(extra);
    json cfg = {
        {"providers",
         {{"upstream", mock_provider(upstream, "openai_chat", headers)},
          {"spare", mock_provider(spare)}}},
        {"deployments",
         {{"upstream-gpt", {{"provider", "upstream"}, {"model", "gpt-4o"}}},
          {"spare-gpt", {{"provider", "spare"}, {"model", "gpt-4o"}}}}},
        {"routes",
         {{"chat",
           {{"targets", {"upstream-gpt", "spare-gpt"}},
            {"deadline_ms", 20000},
            {"ladder_ms", {15000}},
            {"stream_failover", "restart"},
            {"stream",
             {{"first_token_ms", {5000}},
              {"idle_ms", 5000},
              {"buffer_events", buffer_events}}}}}}},
        {"engine", {{"threads", 2}}},
    };
    eng = make_engine(cfg);
  }

  ~rig() {
    eng->shutdown();
  }

  int64_t open_upstream() const {
    return mock_stats(upstream)["open_connections"].get<int64_t>();
  }

  /// The spare was never asked: a cancelled call does not fall back.
  void check_no_fallback() const {
    CAF_CHECK_EQUAL(mock_total(upstream), 1);
    CAF_CHECK_EQUAL(mock_total(spare), 0);
  }
};

chat_request question() {
  return user_request("tell the long story of the marshalling yard");
}

bool has_words(const std::vector<stream_event>& evs, size_t n) {
  return events_of<text_delta>(evs).size() >= n;
}

/// The events after a cancel: only text already on its way, then one
/// `cancelled` error.
void check_cancelled_end(const std::vector<stream_event>& rest) {
  CAF_REQUIRE(!rest.empty());
  for (size_t i = 0; i + 1 < rest.size(); ++i)
    CAF_CHECK(std::holds_alternative<text_delta>(rest[i]));
  const auto* err = std::get_if<stream_error>(&rest.back());
  CAF_REQUIRE(err != nullptr);
  CAF_CHECK(err->failure.cls == error_class::cancelled);
}

std::chrono::milliseconds since(steady::time_point t0, steady::time_point t1) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t1 - t0);
}

} // namespace

CAF_TEST(cancelling a reader mid stream ends it at once and frees upstream) {
  rig r;
  auto reader = r.eng->stream(question());
  CAF_REQUIRE(reader != nullptr);
  std::vector<stream_event> seen;
  while (!has_words(seen, 3)) {
    auto ev = reader->next(5s);
    CAF_REQUIRE(ev.has_value());
    CAF_REQUIRE(!is_terminal(*ev));
    seen.push_back(std::move(*ev));
  }
  CAF_CHECK(std::holds_alternative<stream_start>(seen.front()));
  CAF_CHECK_EQUAL(r.open_upstream(), 1);
  auto t0 = steady::now();
  reader->cancel();
  auto rest = read_all(*reader, 2s);
  auto took = since(t0, steady::now());
  CAF_MESSAGE("cancelled in " << took.count() << " ms: " << describe(rest));
  check_cancelled_end(rest);
  CAF_CHECK_LESS(took, 100ms);
  CAF_CHECK(reader->done());
  CAF_CHECK(!reader->next(100ms).has_value());
  CAF_CHECK(eventually([&] { return r.open_upstream() == 0; }, 2s));
  r.check_no_fallback();
}

CAF_TEST(engine cancel of a streamed call ends it at once and frees upstream) {
  rig r;
  auto cap = stream_capture::make();
  auto id = r.eng->stream(question(), {}, cap->callback());
  CAF_REQUIRE(cap->wait_until([](auto& evs) { return has_words(evs, 3); }, 5s));
  CAF_CHECK_EQUAL(r.open_upstream(), 1);
  auto before = cap->events().size();
  auto t0 = steady::now();
  r.eng->cancel(id);
  CAF_REQUIRE(cap->wait_done(2s));
  auto took = since(t0, *cap->done_at());
  auto evs = cap->events();
  CAF_MESSAGE("cancelled in " << took.count() << " ms: " << describe(evs));
  check_cancelled_end(
      {evs.begin() + static_cast<ptrdiff_t>(before), evs.end()});
  CAF_CHECK_LESS(took, 100ms);
  CAF_CHECK(eventually([&] { return r.open_upstream() == 0; }, 2s));
  // Nothing arrives after the terminal event.
  auto n = cap->events().size();
  CAF_CHECK(!cap->wait_until([n](auto& xs) { return xs.size() > n; }, 200ms));
  r.check_no_fallback();
}

CAF_TEST(cancelling before the first byte ends the stream with only an error) {
  rig r{json{{"x-mock-fault", "hang"}}};
  auto cap = stream_capture::make();
  auto id = r.eng->stream(question(), {}, cap->callback());
  // The request reached the mock, which holds its connection open.
  CAF_REQUIRE(eventually([&] { return r.open_upstream() == 1; }, 2s));
  auto t0 = steady::now();
  r.eng->cancel(id);
  CAF_REQUIRE(cap->wait_done(2s));
  auto took = since(t0, *cap->done_at());
  auto evs = cap->events();
  CAF_MESSAGE("cancelled in " << took.count() << " ms: " << describe(evs));
  // No content, so no start either: just the error.
  CAF_REQUIRE_EQUAL(evs.size(), 1u);
  check_cancelled_end(evs);
  CAF_CHECK_LESS(took, 100ms);
  CAF_CHECK(eventually([&] { return r.open_upstream() == 0; }, 2s));
  r.check_no_fallback();
}

CAF_TEST(dropping a reader cancels its call upstream) {
  rig r;
  auto reader = r.eng->stream(question());
  auto first = reader->next(5s);
  CAF_REQUIRE(first.has_value());
  CAF_CHECK(std::holds_alternative<stream_start>(*first));
  CAF_CHECK_EQUAL(r.open_upstream(), 1);
  reader.reset();
  // The stream would last 4 s; the connection closes long before.
  CAF_CHECK(eventually([&] { return r.open_upstream() == 0; }, 1500ms));
  r.check_no_fallback();
}

CAF_TEST(
    a reader that falls behind gets its buffer then a slow consumer error) {
  // 200 words, one every 10 ms; the reader holds at most 4 unread events.
  rig r{json{{"x-mock-chunk-delay-ms", "10"}}, 4};
  auto reader = r.eng->stream(question());
  // Not read until the engine gave up the transfer: the request reached the
  // mock, then its connection closed (the whole stream would take 2 s and
  // end on a kept-alive connection).
  CAF_REQUIRE(eventually([&] { return mock_total(r.upstream) == 1; }, 2s));
  CAF_CHECK(eventually([&] { return r.open_upstream() == 0; }, 1500ms));
  auto evs = read_all(*reader, 2s);
  CAF_MESSAGE("read: " << describe(evs));
  CAF_REQUIRE_EQUAL(evs.size(), 5u);
  CAF_CHECK(std::holds_alternative<stream_start>(evs.front()));
  for (size_t i = 1; i < 4; ++i)
    CAF_CHECK(std::holds_alternative<text_delta>(evs[i]));
  const auto* err = std::get_if<stream_error>(&evs.back());
  CAF_REQUIRE(err != nullptr);
  CAF_CHECK_EQUAL(err->failure.code, "slow_consumer");
  CAF_CHECK(err->failure.cls == error_class::overloaded);
  // The words that made it are the answer's first three.
  auto words = text_of(evs);
  CAF_CHECK_EQUAL(std::count(words.begin(), words.end(), ' '), 2);
  // Nothing after the error.
  CAF_CHECK(reader->done());
  CAF_CHECK(!reader->next(200ms).has_value());
  r.check_no_fallback();
}

CAF_TEST(a shutdown that cannot drain cancels what is left) {
  // Three calls hang upstream (no answer ever comes); the shutdown waits
  // for its drain time, then cancels them: each gets its one answer and the
  // upstream connections close.
  rig r{json{{"x-mock-fault", "hang"}}};
  auto cap = stream_capture::make();
  r.eng->stream(question(), {}, cap->callback());
  std::vector<call_handle> plain;
  for (int i = 0; i < 2; ++i)
    plain.push_back(r.eng->complete(question()));
  CAF_REQUIRE(eventually([&] { return r.open_upstream() == 3; }, 2s));
  auto t0 = steady::now();
  r.eng->shutdown(200ms);
  auto took = since(t0, steady::now());
  CAF_MESSAGE("shut down in " << took.count() << " ms");
  CAF_CHECK_GREATER_OR_EQUAL(took, 200ms);
  CAF_CHECK_LESS(took, 2000ms);
  for (auto& f : plain) {
    CAF_REQUIRE(f.wait_for(0s) == std::future_status::ready);
    auto res = f.get();
    CAF_REQUIRE(!res);
    CAF_CHECK(res.error().failure.cls == error_class::cancelled);
    CAF_CHECK_EQUAL(res.error().failure.code, "shutdown");
  }
  CAF_REQUIRE(cap->wait_done(0s));
  auto evs = cap->events();
  CAF_REQUIRE_EQUAL(evs.size(), 1u);
  check_cancelled_end(evs);
  CAF_CHECK(eventually([&] { return r.open_upstream() == 0; }, 2s));
  // A call after the shutdown is refused at once, a stream too; the engine
  // still answers what it is and that nothing runs.
  auto late = r.eng->complete(question()).get();
  CAF_REQUIRE(!late);
  CAF_CHECK_EQUAL(late.error().failure.code, "shutdown");
  auto late_stream = r.eng->stream(question());
  auto late_events = read_all(*late_stream, 1s);
  CAF_REQUIRE_EQUAL(late_events.size(), 1u);
  CAF_CHECK(std::holds_alternative<stream_error>(late_events[0]));
  auto st = r.eng->status();
  CAF_CHECK_EQUAL(st.calls_running, 0u);
  CAF_CHECK_EQUAL(st.deployments.size(), r.eng->config().deployments.size());
  for (const auto& dep : st.deployments)
    CAF_CHECK_EQUAL(dep.in_flight, 0u);
  CAF_CHECK_EQUAL(r.eng->config().routes.count("chat"), 1u);
  r.eng->shutdown(); // idempotent
  CAF_CHECK_EQUAL(mock_total(r.upstream), 3);
  CAF_CHECK_EQUAL(mock_total(r.spare), 0);
}
