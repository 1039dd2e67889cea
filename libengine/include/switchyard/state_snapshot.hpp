#pragma once

// The persisted breaker and marked-down state of an engine (`state.snapshot`)
// and its file format: JSON, times in wall-clock milliseconds so that a
// snapshot means the same after a restart (the monotonic clock does not).

#include "switchyard/error.hpp"
#include "switchyard/expected.hpp"
#include "switchyard/policy/circuit_breaker.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

/// One deployment's state worth keeping across a restart.
struct deployment_snapshot {
  std::string name;
  breaker_state breaker = breaker_state::closed;
  /// While open: when it admits calls again (Unix ms).
  int64_t open_until_ms = 0;
  /// How often the breaker reopened in a row (its open duration grows).
  uint32_t reopens = 0;
  /// Marked down until (Unix ms); 0 = not down, -1 = for good.
  int64_t down_until_ms = 0;
  /// Why it is marked down.
  error_class down_class = error_class::auth;
};

/// The persisted state of every deployment.
struct state_snapshot {
  /// When it was written (Unix ms).
  int64_t written_ms = 0;
  std::vector<deployment_snapshot> deployments;
};

/// Renders a snapshot as one JSON document.
std::string encode_snapshot(const state_snapshot& x);

/// Parses a snapshot; a message saying what is wrong on failure.
expected<state_snapshot, std::string> decode_snapshot(std::string_view text);

/// Writes `text` to `path` atomically: a temporary file next to it, fsync,
/// rename, fsync of the directory. A message on failure.
std::optional<std::string> write_file_atomically(const std::string& path,
                                                 std::string_view text);

} // namespace switchyard
