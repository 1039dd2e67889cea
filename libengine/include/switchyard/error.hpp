#pragma once

#include "switchyard/time.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchyard {

/// Why a call to a provider failed, as DESIGN.md's request semantics define
/// it. Every routing decision (retry, fall back, return) keys on this.
enum class error_class : uint8_t {
  rate_limited,
  quota_exhausted,
  overloaded,
  server_error,
  timeout,
  connection,
  auth,
  bad_request,
  context_length,
  content_filter,
  malformed,
  cancelled,
};

/// Number of enumerators in `error_class`.
inline constexpr size_t error_class_count = 12;

/// All error classes, in declaration order.
inline constexpr std::array<error_class, error_class_count> all_error_classes{
    error_class::rate_limited,   error_class::quota_exhausted,
    error_class::overloaded,     error_class::server_error,
    error_class::timeout,        error_class::connection,
    error_class::auth,           error_class::bad_request,
    error_class::context_length, error_class::content_filter,
    error_class::malformed,      error_class::cancelled,
};

/// Returns the snake_case name used in configs, logs and responses.
std::string_view to_string(error_class cls) noexcept;

/// Parses a name produced by `to_string`.
std::optional<error_class> parse_error_class(std::string_view name) noexcept;

/// A classified failure of one attempt: what went wrong, in which class, and
/// what the server said about waiting or retrying.
struct failure {
  /// The error class that drives the engine's decision.
  error_class cls = error_class::server_error;

  /// HTTP status, or 0 when the failure happened below HTTP.
  int status = 0;

  /// The provider's own error type or code, e.g. "rate_limit_exceeded".
  std::string code;

  /// Human-readable explanation, from the provider or the engine.
  std::string message;

  /// The server's wait hint (`retry-after-ms`, `retry-after`, ...).
  std::optional<timespan> retry_after;

  /// The server's `x-should-retry` verdict, which overrides the status.
  std::optional<bool> should_retry;
};

/// A failure the engine itself decided on (no HTTP status): class, code and
/// message.
failure make_failure(error_class cls, std::string code, std::string message);

/// Renders a failure for logs and error messages: "rate_limited (429
/// rate_limit_exceeded): Rate limit reached ...".
std::string to_string(const failure& f);

} // namespace switchyard
