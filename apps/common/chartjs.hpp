#pragma once

// Reads Chart.js for a self-contained HTML page (see
// cmake/SwitchyardChartjs.cmake, which defines SWITCHYARD_CHARTJS).

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

namespace switchyard {

/// The file Chart.js is read from: $SWITCHYARD_CHARTJS, else the path found
/// at build time.
inline std::string chart_js_path() {
  const char* env = std::getenv("SWITCHYARD_CHARTJS");
  return env != nullptr && *env != '\0' ? std::string{env}
                                        : std::string{SWITCHYARD_CHARTJS};
}

/// Chart.js's text; nullopt when the file is missing or empty.
inline std::optional<std::string> read_chart_js() {
  std::ifstream in{chart_js_path(), std::ios::binary};
  if (!in)
    return std::nullopt;
  std::string text{std::istreambuf_iterator<char>{in},
                   std::istreambuf_iterator<char>{}};
  if (text.empty())
    return std::nullopt;
  return text;
}

} // namespace switchyard
