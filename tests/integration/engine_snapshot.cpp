#define CAF_SUITE engine_snapshot
#include "integration/support_engine.hpp"
#include "integration/support_http.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

/// A failing primary whose breaker opens for a minute after three
/// failures, a healthy secondary, and snapshots at `path`.
json snapshot_config(const mock_server& primary, const mock_server& secondary,
                     const std::string& path,
                     const std::string& primary_name = "primary-gpt") {
  return {
      {"providers",
       {{"primary", mock_provider(primary)},
        {"secondary", mock_provider(secondary)}}},
      {"deployments",
       {{primary_name,
         {{"provider", "primary"},
          {"model", "gpt-4o-mini"},
          {"breaker",
           {{"consecutive_failures", 3},
            {"failure_rate", 0},
            {"open_duration_ms", 60000},
            {"max_open_duration_ms", 60000}}}}},
        {"secondary-gpt",
         {{"provider", "secondary"}, {"model", "gpt-4o-mini"}}}}},
      {"routes",
       {{"chat",
         {{"targets", {primary_name, "secondary-gpt"}},
          {"deadline_ms", 3000},
          {"ladder_ms", {2000}},
          {"retry", {{"max_retries", {{"overloaded", 0}}}}}}}}},
      {"engine", {{"threads", 2}}},
      {"state", {{"snapshot", {{"path", path}, {"interval_ms", 100000}}}}},
  };
}

std::string temp_path() {
  char dir[] = "/tmp/switchyard-state-XXXXXX";
  if (::mkdtemp(dir) == nullptr)
    CAF_FAIL("mkdtemp failed");
  return std::string{dir} + "/state.json";
}

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

/// Opens the primary's breaker of a fresh engine and shuts it down (which
/// writes the snapshot).
void open_and_stop(const mock_server& primary, const mock_server& secondary,
                   const std::string& path) {
  auto eng = make_engine(snapshot_config(primary, secondary, path));
  for (int i = 0; i < 3; ++i) {
    auto out = run_call(*eng, user_request("down"));
    CAF_REQUIRE(out.result->has_value());
  }
  CAF_REQUIRE(status_of(*eng, "primary-gpt").breaker == breaker_state::open);
  eng->shutdown();
}

} // namespace

CAF_TEST(a restarted engine keeps a breaker open and does not send) {
  auto primary = start_mock();
  auto secondary = start_mock();
  load_scenario(primary,
                {{"rules", {{{"faults", {{{"fault", "overloaded"}}}}}}}});
  auto path = temp_path();
  open_and_stop(primary, secondary, path);
  CAF_CHECK_EQUAL(mock_total(primary), 3);
  auto snap = json::parse(read_file(path));
  CAF_CHECK_EQUAL(snap["deployments"][0]["name"], "primary-gpt");
  CAF_CHECK_EQUAL(snap["deployments"][0]["breaker"], "open");
  // The restarted engine fails fast on the primary: answers come from the
  // secondary and the primary sees no request.
  auto eng = make_engine(snapshot_config(primary, secondary, path));
  CAF_CHECK(status_of(*eng, "primary-gpt").breaker == breaker_state::open);
  for (int i = 0; i < 5; ++i) {
    auto out = run_call(*eng, user_request("after restart"));
    CAF_REQUIRE(out.result->has_value());
    CAF_CHECK_EQUAL((*out.result)->attempts.size(), 1u);
  }
  CAF_CHECK_EQUAL(mock_total(primary), 3);
  eng->shutdown();
  std::remove(path.c_str());
}

CAF_TEST(a snapshot of other names is skipped and a corrupt one ignored) {
  auto primary = start_mock();
  auto secondary = start_mock();
  load_scenario(primary,
                {{"rules", {{{"faults", {{{"fault", "overloaded"}}}}}}}});
  auto path = temp_path();
  open_and_stop(primary, secondary, path);
  // The primary was renamed: its state does not carry over.
  auto renamed = snapshot_config(primary, secondary, path, "primary-renamed");
  {
    auto eng = make_engine(renamed);
    CAF_CHECK(status_of(*eng, "primary-renamed").breaker
              == breaker_state::closed);
    auto out = run_call(*eng, user_request("renamed"));
    CAF_REQUIRE(out.result->has_value());
    CAF_CHECK_EQUAL(mock_total(primary), 4);
    eng->shutdown();
  }
  std::ofstream{path} << "{\"version\": 1, \"deployments\": [{\"na";
  auto eng = make_engine(snapshot_config(primary, secondary, path));
  CAF_CHECK(status_of(*eng, "primary-gpt").breaker == breaker_state::closed);
  eng->shutdown();
  // The shutdown replaced the corrupt file with a valid snapshot.
  CAF_CHECK(!json::parse(read_file(path), nullptr, false).is_discarded());
  std::remove(path.c_str());
}
