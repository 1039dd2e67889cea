#pragma once

#include "integration/support_process.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace switchyard::test {

/// What one switchyard-load run printed and returned.
struct load_run {
  int exit_code = -1;
  std::vector<std::string> lines;
  std::string stderr_text;

  /// True when a line starts with `prefix`.
  bool printed(std::string_view prefix) const;
};

/// Runs bin/switchyard-load with `args` (plus --quiet) and waits up to
/// `timeout` for it to exit; fails the test when it does not.
load_run run_load(std::vector<std::string> args,
                  std::chrono::seconds timeout = std::chrono::seconds{60});

/// A path in the build directory for a test's artifacts
/// (SWITCHYARD_BINARY_DIR/load-artifacts/NAME); the directory is created.
std::string artifact_path(const std::string& name);

/// Reads a JSON file; nullopt when it does not parse.
std::optional<nlohmann::json> read_json(const std::string& path);

/// Writes `text` to a new temporary file and returns its path.
std::string write_temp(const std::string& text, const std::string& suffix);

} // namespace switchyard::test
