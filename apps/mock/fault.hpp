#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::mock {

/// The outcome a fault forces instead of a normal answer.
enum class error_fault : uint8_t {
  none,
  status,
  rate_limit,
  quota,
  overloaded,
  server_error,
  auth,
  context_length,
  content_filter,
};

/// Everything the faults of one request ask for, merged. Parsed from the
/// `x-mock-fault` header grammar or drawn from a scenario.
struct fault_plan {
  /// The error response to send; the first one named wins.
  error_fault error = error_fault::none;
  /// For `status=<code>`.
  int status_code = 0;
  /// For `rate_limit[=<seconds>]`.
  double rate_limit_seconds = 1.0;
  /// Delay before responding (`latency`) and before the status line
  /// (`first_byte`); both are waited before anything is sent.
  int64_t latency_ms = 0;
  int64_t first_byte_ms = 0;
  bool hang = false;
  bool close = false;
  bool malformed = false;
  bool empty = false;
  bool no_done = false;
  std::optional<int64_t> drop_after;
  std::optional<int64_t> stall_after;
  std::optional<int64_t> error_event_after;
  std::optional<bool> should_retry;
  std::optional<int64_t> retry_after_ms;
  /// For `overlap=<n>`: a continuation (assistant prefill) re-sends the last
  /// n characters of the prefill before the rest.
  int64_t overlap = 0;
  /// The names of the faults that applied, for the stats ("none" if empty).
  std::vector<std::string_view> names;

  /// True when no fault applied.
  bool clean() const noexcept {
    return names.empty();
  }
};

/// Applies one `<fault>[=<arg>]` item to `plan`; returns an error message
/// naming the item when it is not in the grammar.
std::optional<std::string> apply_fault(std::string_view item, fault_plan& plan);

/// Applies a `<fault>[=<arg>][;<fault>[=<arg>]...]` list to `plan`.
std::optional<std::string> apply_fault_list(std::string_view list,
                                            fault_plan& plan);

/// True for the faults that only modify a response (latency, first_byte,
/// should_retry, retry_after_ms, overlap) rather than decide its outcome.
bool is_modifier_fault(std::string_view name) noexcept;

} // namespace switchyard::mock
