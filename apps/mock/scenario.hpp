#pragma once

#include "fault.hpp"
#include "switchyard/expected.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::mock {

/// A seeded SplitMix64 generator: the same seed gives the same run.
class prng {
public:
  explicit prng(uint64_t seed) noexcept : state_(seed) {
    // nop
  }

  /// The next 64 random bits.
  uint64_t next() noexcept;

  /// Uniform in [0, 1).
  double uniform() noexcept;

  /// Standard normal (Box-Muller).
  double normal() noexcept;

private:
  uint64_t state_;
};

/// A delay in milliseconds: fixed, uniform(min, max) or lognormal(median,
/// sigma).
struct distribution {
  enum class shape : uint8_t { fixed, uniform, lognormal };
  shape kind = shape::fixed;
  double a = 0; // fixed value, uniform min, lognormal median
  double b = 0; // uniform max, lognormal sigma

  /// Draws one value, rounded to whole milliseconds.
  int64_t sample(prng& rng) const noexcept;
};

/// One possible fault of a rule: a fault list in the header grammar, its
/// probability, and for `latency`/`first_byte` an optional distribution.
struct fault_entry {
  std::string spec;
  double p = 1.0;
  std::optional<distribution> ms;
  /// True when every fault in `spec` is a modifier (rolled independently);
  /// outcome entries are mutually exclusive (one roll, cumulative p).
  bool modifier = false;
};

/// One phase of a timeline; the last phase may be open-ended.
struct phase {
  std::optional<int64_t> for_ms;
  std::vector<fault_entry> faults;
};

/// Settings and faults for the requests a rule matches (empty = any).
struct rule {
  std::string path_prefix;
  std::string kind;
  std::string model;
  std::optional<int64_t> words;
  std::optional<int64_t> chunk_delay_ms;
  std::optional<distribution> latency;
  std::vector<fault_entry> faults;
  std::vector<phase> timeline;
};

/// Closes the listening socket at `at_ms` for `close_for_ms`.
struct listener_event {
  int64_t at_ms = 0;
  int64_t close_for_ms = 0;
};

/// A parsed scenario file.
struct scenario {
  int64_t words = 12;
  int64_t chunk_delay_ms = 0;
  std::optional<distribution> latency;
  std::vector<rule> rules;
  std::vector<listener_event> listener;
};

/// Parses scenario JSON (comments allowed). Errors read
/// "<JSON pointer>: <what is wrong>".
expected<scenario> parse_scenario(std::string_view text);

/// Reads and parses a scenario file; errors start with the file name.
expected<scenario> load_scenario_file(const std::string& path);

/// The first rule matching a request, or nullptr.
const rule* find_rule(const scenario& sc, std::string_view path,
                      std::string_view kind, std::string_view model) noexcept;

/// The faults in force for `r`, `elapsed_ms` after the scenario was loaded.
const std::vector<fault_entry>& active_faults(const rule& r,
                                              int64_t elapsed_ms) noexcept;

/// Rolls `entries` and applies the ones drawn to `plan`.
void draw_faults(const std::vector<fault_entry>& entries, prng& rng,
                 fault_plan& plan);

} // namespace switchyard::mock
