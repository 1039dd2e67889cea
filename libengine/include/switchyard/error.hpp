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

/// Failures the engine itself decides on (no provider said them). Control
/// flow branches on these, never on `failure::code`; the wire, logs and
/// `failure::code` carry `to_string(code)`, and each code has one class.
enum class engine_code : uint8_t {
  /// The call's deadline passed (class timeout).
  deadline_exceeded,
  /// A streamed attempt sent no content within its first-token limit
  /// (timeout).
  first_token_timeout,
  /// A streamed attempt ran longer than `stream.max_duration` (timeout).
  stream_max_duration,
  /// A stream ended without its terminal marker (malformed).
  stream_unterminated,
  /// A stream ended with no content (malformed).
  stream_empty,
  /// A 2xx answer that does not parse (malformed).
  malformed_response,
  /// The request cannot be expressed for the provider (bad_request).
  unsupported_request,
  /// The provider actor stopped during the call (connection).
  provider_restarted,
  /// The supervisor's restart-intensity limit was hit (overloaded).
  restart_limit,
  /// The engine is shutting down (cancelled).
  shutdown,
  /// The caller cancelled (cancelled).
  cancelled,
  /// The stream's consumer did not keep up (overloaded).
  slow_consumer,
  /// The deployment's breaker is open (overloaded).
  breaker_open,
  /// The deployment is marked down (overloaded).
  marked_down,
  /// The deployment's local rate limit is reached (rate_limited).
  local_rate_limit,
  /// The deployment's in-flight cap and queue are full (overloaded).
  queue_full,
  /// Every target is open, down or over its limit (overloaded).
  all_targets_unavailable,
  /// No target is left to try (overloaded).
  no_targets,
  /// The call's route is unknown (bad_request).
  unknown_route,
  /// The call is pinned to an unknown deployment (bad_request).
  unknown_deployment,
  /// A call id is already running (bad_request).
  duplicate_call,
};

/// Number of enumerators in `engine_code`.
inline constexpr size_t engine_code_count = 21;

/// Returns the snake_case name ("deadline_exceeded", ...).
std::string_view to_string(engine_code code) noexcept;

/// Parses a name produced by `to_string`.
std::optional<engine_code> parse_engine_code(std::string_view name) noexcept;

/// Returns the error class every failure with `code` has.
error_class class_of(engine_code code) noexcept;

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

  /// Set when the engine made this failure (then `code` is its name).
  std::optional<engine_code> engine;

  /// Returns true when the engine made this failure with `c`.
  bool is(engine_code c) const noexcept {
    return engine == c;
  }
};

/// The failure the engine decided on with `code` (no HTTP status): its
/// class, its code (typed and as text) and `message`.
failure make_failure(engine_code code, std::string message);

/// Renders a failure for logs and error messages: "rate_limited (429
/// rate_limit_exceeded): Rate limit reached ...".
std::string to_string(const failure& f);

} // namespace switchyard
