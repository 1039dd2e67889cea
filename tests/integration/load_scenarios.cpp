#define CAF_SUITE load_scenarios
#include "integration/support_load.hpp"
#include "integration/support_process.hpp"

#include <algorithm>
#include <filesystem>

#include <caf/test/unit_test.hpp>

using namespace switchyard::test;

namespace {

/// Runs one shipped scenario through the embedded engine and checks that it
/// completed and every expectation printed PASS.
void run_scenario(const std::string& name) {
  auto file = source_path("configs/scenarios/" + name);
  auto out = artifact_path(name);
  auto run
      = run_load({"--scenario", file, "--json", out, "--report", out + ".html"},
                 std::chrono::seconds{90});
  for (const auto& l : run.lines)
    CAF_MESSAGE(l);
  if (!run.stderr_text.empty())
    CAF_MESSAGE("stderr: " << run.stderr_text);
  CAF_CHECK_EQUAL(run.exit_code, 0);
  auto passes = std::count_if(
      run.lines.begin(), run.lines.end(),
      [](const std::string& l) { return l.rfind("PASS  ", 0) == 0; });
  auto doc = read_json(out);
  CAF_REQUIRE(doc.has_value());
  CAF_CHECK_GREATER(passes, 0);
  CAF_CHECK_EQUAL(static_cast<size_t>(passes), (*doc)["expectations"].size());
}

} // namespace

CAF_TEST(every shipped scenario has a test here) {
  std::vector<std::string> names;
  for (const auto& e :
       std::filesystem::directory_iterator(source_path("configs/scenarios")))
    if (e.path().extension() == ".json")
      names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  std::vector<std::string> tested{
      "hung-primary-hedge-off.json", "hung-primary-hedge-on.json",
      "quota-one-key.json",          "rate-limit-storm.json",
      "rolling-outage.json",         "slow-degradation.json",
      "stream-drop-continue.json"};
  CAF_CHECK_EQUAL(names, tested);
}

CAF_TEST(rolling outage) {
  run_scenario("rolling-outage.json");
}

CAF_TEST(rate limit storm) {
  run_scenario("rate-limit-storm.json");
}

CAF_TEST(hung primary without hedging) {
  run_scenario("hung-primary-hedge-off.json");
}

CAF_TEST(hung primary with hedging) {
  run_scenario("hung-primary-hedge-on.json");
}

CAF_TEST(mid stream drops continued) {
  run_scenario("stream-drop-continue.json");
}

CAF_TEST(quota exhausted on one key) {
  run_scenario("quota-one-key.json");
}

CAF_TEST(slow degradation) {
  run_scenario("slow-degradation.json");
}
