#pragma once

#include "switchyard/expected.hpp"
#include "switchyard/time.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace switchyard::load {

/// One mock provider a scenario starts: its name (its port goes to the
/// environment as MOCK_<NAME>_PORT, upper case, '-' as '_') and its fault
/// scenario in switchyard-mock's format.
struct mock_spec {
  std::string name;
  std::string env;
  nlohmann::json scenario;
};

/// Something the scenario marks on the report's charts.
struct scenario_event {
  timespan at{};
  std::string label;
};

/// One thing that must hold after the run.
struct expectation {
  /// A metric with a bound (`metric` set), or a breaker transition
  /// (`breaker` set): `to` reached within [after, after + within], or never
  /// when `never` is set.
  std::string metric;
  std::optional<double> min;
  std::optional<double> max;
  std::string breaker;
  std::string to = "open";
  timespan after{};
  timespan within{};
  bool never = false;
  /// The scenario's words for it, if any.
  std::string why;
};

/// A chaos scenario: mocks with fault timelines, the engine config that
/// points at them (or an HTTP target), the load, and what must hold.
struct load_scenario {
  std::string file;
  std::string description;
  std::optional<double> rate;
  std::optional<size_t> concurrency;
  std::optional<timespan> duration;
  std::optional<timespan> warmup;
  std::optional<bool> stream;
  std::optional<bool> poisson;
  std::vector<mock_spec> mocks;
  /// Engine configuration (strings may name ${MOCK_<NAME>_PORT}); null when
  /// the scenario drives `target` instead.
  nlohmann::json engine;
  std::string route;
  /// An HTTP target URL (may name ${MOCK_<NAME>_PORT}).
  std::string target;
  std::vector<scenario_event> events;
  std::vector<expectation> expect;
};

/// Parses a duration: "6s", "500ms", "2m", "1.5s", "250us".
std::optional<timespan> parse_duration(std::string_view text);

/// Reads a scenario file (JSON with comments); errors name the file and
/// what is wrong.
expected<load_scenario, std::string> read_scenario(const std::string& path);

/// Replaces ${NAME} with the environment variable's value (unset: kept).
std::string expand_env(std::string_view text);

/// Renders an expectation for PASS/FAIL lines ("p99_ms <= 3000").
std::string describe(const expectation& e);

} // namespace switchyard::load
