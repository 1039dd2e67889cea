#define CAF_SUITE engine_api
// The embedding API against a real mock: call handles, absolute deadlines,
// metadata on events, status and operator commands.
#include "integration/support_engine.hpp"

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

/// A route over a healthy deployment and one whose upstream hangs.
json api_config(const mock_server& m, std::string_view first = "hang-gpt") {
  return {
      {"providers",
       {{"ok", mock_provider(m)},
        {"stuck",
         mock_provider(m, "openai_chat", {{"x-mock-fault", "hang"}})}}},
      {"deployments",
       {{"ok-gpt", {{"provider", "ok"}, {"model", "gpt-ok"}}},
        {"hang-gpt", {{"provider", "stuck"}, {"model", "gpt-hang"}}}}},
      {"routes",
       {{"chat",
         {{"targets", {first, first == "hang-gpt" ? "ok-gpt" : "hang-gpt"}},
          {"strategy", "priority"},
          {"deadline_ms", 20000},
          {"ladder_ms", {10000}}}}}},
      {"engine", {{"threads", 2}}},
  };
}

} // namespace

CAF_TEST(deployment commands have one name each) {
  for (auto cmd :
       {deployment_command::force_open, deployment_command::force_closed,
        deployment_command::disable, deployment_command::enable,
        deployment_command::reset}) {
    auto back = parse_deployment_command(to_string(cmd));
    CAF_REQUIRE(back.has_value());
    CAF_CHECK(*back == cmd);
  }
  CAF_CHECK_EQUAL(to_string(deployment_command::force_open), "force-open");
  CAF_CHECK(!parse_deployment_command("force_open").has_value());
  CAF_CHECK(!parse_deployment_command("").has_value());
}

CAF_TEST(a call handle names its call and cancels it) {
  auto m = start_mock();
  auto eng = make_engine(api_config(m));
  auto h = eng->complete(user_request("wait"));
  CAF_CHECK_NOT_EQUAL(h.id(), 0u);
  CAF_REQUIRE(eventually([&] { return mock_total(m) == 1; }, 2000ms));
  CAF_CHECK(h.wait_for(50ms) == std::future_status::timeout);
  auto st = eng->status();
  CAF_CHECK_EQUAL(st.calls_running, 1u);
  h.cancel();
  CAF_REQUIRE(h.wait_for(2s) == std::future_status::ready);
  auto r = h.get();
  CAF_REQUIRE(!r);
  CAF_CHECK(r.error().failure.is(engine_code::cancelled));
  CAF_CHECK_EQUAL(mock_total(m), 1); // never went on to the next target
  CAF_CHECK(
      eventually([&] { return eng->status().calls_running == 0; }, 1000ms));
  eng->shutdown();
}

CAF_TEST(an absolute deadline ends the call then with its trail) {
  auto m = start_mock();
  auto eng = make_engine(api_config(m));
  call_options opts;
  opts.deadline_at = std::chrono::steady_clock::now() + 400ms;
  auto t0 = std::chrono::steady_clock::now();
  auto h = eng->complete(user_request("late"), opts);
  CAF_REQUIRE(h.wait_for(3s) == std::future_status::ready);
  auto took = std::chrono::steady_clock::now() - t0;
  CAF_CHECK_LESS(took, 1000ms);
  CAF_CHECK_GREATER_OR_EQUAL(took, 390ms);
  auto r = h.get();
  CAF_REQUIRE(!r);
  CAF_CHECK(r.error().failure.is(engine_code::deadline_exceeded));
  // The attempt cut by the deadline is in the trail.
  CAF_MESSAGE("trail: " << describe(r.error().attempts));
  CAF_REQUIRE_EQUAL(r.error().attempts.size(), 1u);
  CAF_CHECK_EQUAL(r.error().attempts[0].deployment, "hang-gpt");
  eng->shutdown();
}

CAF_TEST(metadata reaches every event of the call) {
  auto m = start_mock();
  auto recorder = std::make_shared<event_recorder>();
  auto eng = make_engine(api_config(m, "ok-gpt"), recorder);
  call_options opts;
  opts.metadata = {{"request_id", "r-1"}};
  auto r = eng->complete(user_request("tagged"), opts).get();
  CAF_REQUIRE(r.has_value());
  auto fin = recorder->of<call_finished>();
  CAF_REQUIRE_EQUAL(fin.size(), 1u);
  CAF_REQUIRE(fin[0].metadata != nullptr);
  CAF_CHECK_EQUAL(fin[0].metadata->at("request_id"), "r-1");
  eng->shutdown();
}

namespace {

/// Records, in order, the id it is given and the events it takes.
class id_sink final : public stream_sink {
public:
  void on_call_id(uint64_t id) override {
    std::lock_guard guard{mtx};
    order.push_back("id " + std::to_string(id));
  }

  bool on_event(stream_event ev) override {
    std::lock_guard guard{mtx};
    order.push_back(std::holds_alternative<stream_start>(ev) ? "start"
                                                             : "event");
    done = std::holds_alternative<stream_end>(ev)
           || std::holds_alternative<stream_error>(ev);
    return true;
  }

  std::mutex mtx;
  std::vector<std::string> order;
  bool done = false;
};

} // namespace

CAF_TEST(a stream sink gets its call id before any event) {
  auto m = start_mock();
  auto recorder = std::make_shared<event_recorder>();
  auto eng = make_engine(api_config(m, "ok-gpt"), recorder);
  std::vector<std::pair<uint64_t, std::shared_ptr<id_sink>>> calls;
  for (int i = 0; i < 3; ++i) {
    auto sink = std::make_shared<id_sink>();
    auto id = eng->stream(user_request("ids"), call_options{}, sink);
    calls.emplace_back(id, sink);
  }
  for (auto& [id, sink] : calls) {
    CAF_REQUIRE(eventually(
        [&] {
          std::lock_guard guard{sink->mtx};
          return sink->done;
        },
        5s));
    std::lock_guard guard{sink->mtx};
    CAF_REQUIRE_GREATER(sink->order.size(), 2u);
    CAF_CHECK_EQUAL(sink->order[0], "id " + std::to_string(id));
    CAF_CHECK_EQUAL(sink->order[1], "start");
    CAF_CHECK_EQUAL(std::count(sink->order.begin(), sink->order.end(),
                               "id " + std::to_string(id)),
                    1);
  }
  // The id is the one the engine's events carry.
  auto fin = recorder->of<call_finished>();
  CAF_REQUIRE_EQUAL(fin.size(), 3u);
  for (auto& [id, sink] : calls)
    CAF_CHECK(
        std::any_of(fin.begin(), fin.end(), [id = id](const call_finished& f) {
          return f.call_id == id;
        }));
  eng->shutdown();
}

CAF_TEST(status names each route current target and each deployment) {
  auto m = start_mock();
  auto eng = make_engine(api_config(m, "ok-gpt"));
  auto st = eng->status();
  CAF_REQUIRE_EQUAL(st.routes.size(), 1u);
  CAF_CHECK_EQUAL(st.routes[0].name, "chat");
  CAF_CHECK_EQUAL(st.routes[0].targets,
                  (std::vector<std::string>{"ok-gpt", "hang-gpt"}));
  CAF_CHECK_EQUAL(st.routes[0].current, "ok-gpt");
  CAF_REQUIRE_EQUAL(st.deployments.size(), 2u);
  for (const auto& d : st.deployments) {
    CAF_CHECK(d.breaker == breaker_state::closed);
    CAF_CHECK(!d.marked_down);
  }
  CAF_CHECK_EQUAL(status_of(*eng, "ok-gpt").model, "gpt-ok");
  CAF_CHECK(!eng->control("no-such-deployment", deployment_command::reset));
  CAF_CHECK(eng->control("ok-gpt", deployment_command::reset));
  eng->shutdown();
  CAF_CHECK(!eng->control("ok-gpt", deployment_command::reset));
}
