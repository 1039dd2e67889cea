#define CAF_SUITE engine_cache
// The response cache and coalescing against a real, slow switchyard-mock:
// identical calls in flight share one upstream request (the mock's stats
// count them), a stored answer is served without upstream, bypass and
// temperature rules, cancelled callers of a shared call.
#include "integration/support_engine.hpp"
#include "testing.hpp"

#include <algorithm>
#include <atomic>
#include <future>
#include <thread>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

/// Every answer takes 600 ms upstream (streams: 600 ms, then 20 words one
/// every 20 ms), so that calls started together overlap.
struct rig {
  mock_server upstream = start_mock();
  std::unique_ptr<engine> eng;

  explicit rig(json cache = {{"enabled", true}, {"ttl_ms", 60000}},
               json headers = {{"x-mock-fault", "latency=600"},
                               {"x-mock-words", "20"},
                               {"x-mock-chunk-delay-ms", "20"}}) {
    json cfg = {
        {"providers",
         {{"upstream", mock_provider(upstream, "openai_chat", headers)}}},
        {"deployments",
         {{"upstream-gpt", {{"provider", "upstream"}, {"model", "gpt-4o"}}}}},
        {"routes",
         {{"chat",
           {{"targets", {"upstream-gpt"}},
            {"deadline_ms", 20000},
            {"ladder_ms", {15000}},
            {"cache", cache}}}}},
        {"engine", {{"threads", 2}}},
    };
    eng = make_engine(cfg);
  }

  ~rig() {
    eng->shutdown();
  }

  int64_t total() const {
    return mock_total(upstream);
  }

  int64_t open_upstream() const {
    return mock_stats(upstream)["open_connections"].get<int64_t>();
  }
};

chat_request question(std::string text = "what is a marshalling yard") {
  auto req = user_request(std::move(text));
  req.temperature = 0.0;
  return req;
}

std::vector<call_result> wait_all(std::vector<call_handle>& hs) {
  std::vector<call_result> out;
  for (auto& h : hs) {
    CAF_REQUIRE(h.wait_for(10s) == std::future_status::ready);
    out.push_back(h.get());
  }
  return out;
}

size_t count_outcome(const std::vector<call_result>& rs, cache_outcome x) {
  return static_cast<size_t>(std::count_if(
      rs.begin(), rs.end(), [x](const auto& r) { return r && r->cache == x; }));
}

cache_outcome outcome_of(const std::vector<stream_event>& evs) {
  auto starts = events_of<stream_start>(evs);
  return starts.empty() ? cache_outcome::none : starts.front().cache;
}

} // namespace

CAF_TEST(identical calls in flight share one upstream request) {
  rig r;
  constexpr size_t n = 8;
  std::vector<call_handle> hs;
  for (size_t i = 0; i < n; ++i)
    hs.push_back(r.eng->complete(question()));
  auto rs = wait_all(hs);
  for (auto& res : rs) {
    CAF_REQUIRE(res.has_value());
    CAF_CHECK_EQUAL(res->text, rs.front()->text);
  }
  CAF_CHECK_EQUAL(r.total(), 1);
  CAF_CHECK_EQUAL(count_outcome(rs, cache_outcome::miss), 1u);
  CAF_CHECK_EQUAL(count_outcome(rs, cache_outcome::coalesced), n - 1);
  // A different question is a different call.
  auto other = r.eng->complete(question("what is a hump yard")).get();
  CAF_REQUIRE(other.has_value());
  CAF_CHECK_NOT_EQUAL(other->text, rs.front()->text);
  CAF_CHECK_EQUAL(r.total(), 2);
}

CAF_TEST(a call racing the end of an identical call joins it or hits) {
  // Answers come at once, so that the calls of a wave, started together,
  // often arrive while the first one ends: each is coalesced or a hit,
  // never a second upstream request.
  rig r{{{"enabled", true}, {"ttl_ms", 60000}}, json::object()};
  constexpr int waves = 200;
  constexpr int per_wave = 4;
  size_t misses = 0;
  for (int k = 0; k < waves; ++k) {
    std::atomic<bool> go{false};
    std::vector<std::future<call_result>> fs;
    for (int i = 0; i < per_wave; ++i)
      fs.push_back(std::async(std::launch::async, [&, k] {
        while (!go.load())
          std::this_thread::yield();
        return r.eng->complete(question("wave " + std::to_string(k))).get();
      }));
    go.store(true);
    for (auto& f : fs) {
      auto res = f.get();
      CAF_REQUIRE(res.has_value());
      misses += res->cache == cache_outcome::miss ? 1 : 0;
    }
  }
  CAF_CHECK_EQUAL(misses, static_cast<size_t>(waves));
  CAF_CHECK_EQUAL(r.total(), waves);
}

CAF_TEST(a caller with a shorter deadline than the shared call runs its own) {
  rig r;
  call_options brief;
  brief.deadline = 5s; // the route gives 20 s
  std::vector<call_handle> hs;
  hs.push_back(r.eng->complete(question()));        // the shared call: 20 s
  hs.push_back(r.eng->complete(question(), brief)); // cannot wait 20 s
  hs.push_back(r.eng->complete(question()));        // joins the first
  auto rs = wait_all(hs);
  for (auto& res : rs)
    CAF_REQUIRE(res.has_value());
  CAF_CHECK(rs[0]->cache == cache_outcome::miss);
  CAF_CHECK(rs[1]->cache == cache_outcome::miss);
  CAF_CHECK(rs[2]->cache == cache_outcome::coalesced);
  CAF_CHECK_EQUAL(r.total(), 2);
}

CAF_TEST(a stored answer is served without upstream until bypassed) {
  rig r;
  auto first = r.eng->complete(question()).get();
  CAF_REQUIRE(first.has_value());
  CAF_CHECK(first->cache == cache_outcome::miss);
  CAF_CHECK_EQUAL(first->attempts.size(), 1u);
  auto hit = r.eng->complete(question()).get();
  CAF_REQUIRE(hit.has_value());
  CAF_CHECK(hit->cache == cache_outcome::hit);
  CAF_CHECK_EQUAL(hit->text, first->text);
  CAF_CHECK_EQUAL(hit->provider, first->provider);
  CAF_CHECK(hit->attempts.empty());
  CAF_CHECK_EQUAL(r.total(), 1);
  call_options bypass;
  bypass.bypass_cache = true;
  auto fresh = r.eng->complete(question(), bypass).get();
  CAF_REQUIRE(fresh.has_value());
  CAF_CHECK(fresh->cache == cache_outcome::bypass);
  CAF_CHECK_EQUAL(r.total(), 2);
  // A temperature above 0 is neither served nor stored on this route.
  auto warm = question();
  warm.temperature = 0.7;
  for (int i = 0; i < 2; ++i) {
    auto res = r.eng->complete(warm).get();
    CAF_REQUIRE(res.has_value());
    CAF_CHECK(res->cache == cache_outcome::none);
  }
  CAF_CHECK_EQUAL(r.total(), 4);
}

CAF_TEST(a route that allows it caches a temperature above 0) {
  rig r{{{"enabled", true}, {"allow_nonzero_temperature", true}}};
  auto warm = question();
  warm.temperature.reset();
  CAF_REQUIRE(r.eng->complete(warm).get().has_value());
  auto res = r.eng->complete(warm).get();
  CAF_REQUIRE(res.has_value());
  CAF_CHECK(res->cache == cache_outcome::hit);
  CAF_CHECK_EQUAL(r.total(), 1);
}

CAF_TEST(errors are never cached) {
  rig r;
  // No deadline room for the 600 ms answer: the call fails.
  call_options quick;
  quick.deadline = 100ms;
  auto failed = r.eng->complete(question(), quick).get();
  CAF_REQUIRE(!failed.has_value());
  auto res = r.eng->complete(question()).get();
  CAF_REQUIRE(res.has_value());
  CAF_CHECK(res->cache == cache_outcome::miss);
  CAF_CHECK(eventually([&] { return r.total() == 2; }, 2s));
}

CAF_TEST(
    identical streams share one upstream stream and late joiners get it all) {
  rig r;
  auto a = stream_capture::make();
  auto b = stream_capture::make();
  r.eng->stream(question(), {}, a->callback());
  r.eng->stream(question(), {}, b->callback());
  // The third joins after the shared stream delivered content.
  CAF_REQUIRE(a->wait_until(
      [](auto& evs) { return events_of<text_delta>(evs).size() >= 5; }, 5s));
  auto c = stream_capture::make();
  r.eng->stream(question(), {}, c->callback());
  for (auto* cap : {&a, &b, &c})
    CAF_REQUIRE((*cap)->wait_done(10s));
  auto full = text_of(a->events());
  CAF_MESSAGE("a: " << describe(a->events()));
  CAF_MESSAGE("c: " << describe(c->events()));
  CAF_CHECK_EQUAL(events_of<stream_end>(a->events()).size(), 1u);
  CAF_CHECK_EQUAL(text_of(b->events()), full);
  CAF_CHECK_EQUAL(text_of(c->events()), full);
  CAF_CHECK(std::holds_alternative<stream_start>(c->events().front()));
  CAF_CHECK_EQUAL(events_of<stream_end>(c->events()).size(), 1u);
  CAF_CHECK(outcome_of(a->events()) == cache_outcome::miss);
  CAF_CHECK(outcome_of(b->events()) == cache_outcome::coalesced);
  CAF_CHECK(outcome_of(c->events()) == cache_outcome::coalesced);
  CAF_CHECK_EQUAL(r.total(), 1);
  CAF_CHECK_EQUAL(mock_stats(r.upstream)["streams"].get<int64_t>(), 1);
  // Replayed from the cache, as a stream, through the reader too.
  auto reader = r.eng->stream(question());
  auto replay = read_all(*reader, 5s);
  CAF_MESSAGE("replay: " << describe(replay));
  CAF_CHECK(outcome_of(replay) == cache_outcome::hit);
  CAF_CHECK_EQUAL(text_of(replay), full);
  CAF_REQUIRE_EQUAL(events_of<stream_end>(replay).size(), 1u);
  CAF_CHECK(events_of<stream_end>(replay).front().attempts.empty());
  CAF_CHECK_EQUAL(r.total(), 1);
}

CAF_TEST(a cancelled caller does not cancel the shared call) {
  rig r;
  auto leader = r.eng->complete(question());
  auto other = r.eng->complete(question());
  leader.cancel();
  CAF_REQUIRE(leader.wait_for(1s) == std::future_status::ready);
  auto cancelled = leader.get();
  CAF_REQUIRE(!cancelled.has_value());
  CAF_CHECK(cancelled.error().failure.cls == error_class::cancelled);
  auto res = other.get();
  CAF_REQUIRE(res.has_value());
  CAF_CHECK(res->cache == cache_outcome::coalesced);
  CAF_CHECK_EQUAL(r.total(), 1);
  // The shared answer was stored.
  auto hit = r.eng->complete(question()).get();
  CAF_REQUIRE(hit.has_value());
  CAF_CHECK(hit->cache == cache_outcome::hit);
  CAF_CHECK_EQUAL(r.total(), 1);
}

CAF_TEST(a caller cancelled while it joins gets its cancelled answer) {
  // The cancel comes after the joiner registered as a caller of the shared
  // call and before it waits on it: it still ends that caller at once, and
  // only that one.
  rig r;
  auto* eng = r.eng.get();
  std::atomic<int> joins{0};
  CAF_REQUIRE(testing::on_cache_join(*eng, [eng, &joins](uint64_t id) {
    ++joins;
    eng->cancel(id);
  }));
  auto leader = eng->complete(question());
  auto joiner = eng->complete(question());
  CAF_REQUIRE(joiner.wait_for(1s) == std::future_status::ready);
  auto res = joiner.get();
  CAF_CHECK_EQUAL(joins.load(), 1);
  CAF_REQUIRE(!res.has_value());
  CAF_CHECK(res.error().failure.cls == error_class::cancelled);
  auto lead = leader.get();
  CAF_REQUIRE(lead.has_value());
  CAF_CHECK(lead->cache == cache_outcome::miss);
  CAF_CHECK_EQUAL(r.total(), 1);
}

CAF_TEST(a shared stream is cancelled upstream once every caller left) {
  rig r;
  auto a = stream_capture::make();
  auto b = stream_capture::make();
  auto ia = r.eng->stream(question(), {}, a->callback());
  auto ib = r.eng->stream(question(), {}, b->callback());
  CAF_REQUIRE(a->wait_until(
      [](auto& evs) { return events_of<text_delta>(evs).size() >= 3; }, 5s));
  r.eng->cancel(ia);
  CAF_REQUIRE(a->wait_done(1s));
  CAF_CHECK(!events_of<stream_error>(a->events()).empty());
  // The other caller still streams, from the same upstream stream.
  CAF_CHECK_EQUAL(r.open_upstream(), 1);
  auto n = events_of<text_delta>(b->events()).size();
  CAF_CHECK(b->wait_until(
      [n](auto& evs) { return events_of<text_delta>(evs).size() > n + 2; },
      2s));
  r.eng->cancel(ib);
  CAF_REQUIRE(b->wait_done(1s));
  auto errs = events_of<stream_error>(b->events());
  CAF_REQUIRE_EQUAL(errs.size(), 1u);
  CAF_CHECK(errs.front().failure.cls == error_class::cancelled);
  CAF_CHECK(eventually([&] { return r.open_upstream() == 0; }, 2s));
  CAF_CHECK_EQUAL(r.total(), 1);
}

CAF_TEST(coalescing can be switched off) {
  rig r{{{"enabled", true}, {"coalesce", false}}};
  std::vector<call_handle> hs;
  for (int i = 0; i < 3; ++i)
    hs.push_back(r.eng->complete(question()));
  auto rs = wait_all(hs);
  CAF_CHECK_EQUAL(count_outcome(rs, cache_outcome::miss), 3u);
  CAF_CHECK_EQUAL(r.total(), 3);
}
