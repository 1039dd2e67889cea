#pragma once

#include "driver.hpp"
#include "recorder.hpp"
#include "scenario.hpp"

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace switchyard::load {

/// What the run was asked to do, for the report.
struct run_info {
  std::string target;
  double target_rate = 0;
  size_t concurrency = 0;
  bool stream = false;
  bool poisson = false;
  const load_scenario* scenario = nullptr;
};

/// One expectation's verdict.
struct verdict {
  std::string text;
  bool pass = false;
  std::string actual;
};

/// The run's numbers as named metrics (what expectations refer to):
/// answered, requests, ok, achieved_rate, p50_ms ... max_ms, errors,
/// error:<class>, answers:<deployment>, share:<deployment>, retries,
/// retries_from_server, fallbacks, fallbacks:<reason>, hedges_fired,
/// hedges_won, ttft_p50_ms, ttft_p99_ms, tokens_per_s_p50, schedule_p99_ms,
/// unfinished.
std::map<std::string, double> metrics_of(const recorder& rec,
                                         const run_summary& sum);

/// Checks every expectation of the scenario.
std::vector<verdict> check(const load_scenario& sc, const recorder& rec,
                           const std::map<std::string, double>& metrics);

/// True when the driver itself was late enough to have been the
/// bottleneck (its send lateness p99 above 1 ms).
bool driver_was_late(const recorder& rec);

/// The run as JSON (the `--json` file and the data of the HTML report).
nlohmann::json to_json(const run_info& info, const recorder& rec,
                       const run_summary& sum,
                       const std::vector<verdict>& verdicts);

/// Prints the end summary.
void print_summary(const nlohmann::json& doc);

/// Writes the self-contained HTML report with `chart_js` inlined. Returns
/// an error message, or empty on success.
std::string write_html(const std::string& path, const nlohmann::json& doc,
                       const std::string& chart_js);

} // namespace switchyard::load
