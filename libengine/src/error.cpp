#include "switchyard/error.hpp"

namespace switchyard {

namespace {

constexpr std::array<std::string_view, error_class_count> error_class_names{
    "rate_limited",   "quota_exhausted", "overloaded", "server_error",
    "timeout",        "connection",      "auth",       "bad_request",
    "context_length", "content_filter",  "malformed",  "cancelled",
};

struct engine_code_info {
  std::string_view name;
  error_class cls;
};

constexpr std::array<engine_code_info, engine_code_count> engine_codes{{
    {"deadline_exceeded", error_class::timeout},
    {"first_token_timeout", error_class::timeout},
    {"stream_max_duration", error_class::timeout},
    {"stream_unterminated", error_class::malformed},
    {"stream_empty", error_class::malformed},
    {"malformed_response", error_class::malformed},
    {"unsupported_request", error_class::bad_request},
    {"provider_restarted", error_class::connection},
    {"restart_limit", error_class::overloaded},
    {"shutdown", error_class::cancelled},
    {"cancelled", error_class::cancelled},
    {"slow_consumer", error_class::overloaded},
    {"breaker_open", error_class::overloaded},
    {"marked_down", error_class::overloaded},
    {"local_rate_limit", error_class::rate_limited},
    {"queue_full", error_class::overloaded},
    {"all_targets_unavailable", error_class::overloaded},
    {"no_targets", error_class::overloaded},
    {"unknown_route", error_class::bad_request},
    {"unknown_deployment", error_class::bad_request},
    {"duplicate_call", error_class::bad_request},
}};

} // namespace

std::string_view to_string(engine_code code) noexcept {
  return engine_codes[static_cast<size_t>(code)].name;
}

std::optional<engine_code> parse_engine_code(std::string_view name) noexcept {
  for (size_t i = 0; i < engine_codes.size(); ++i)
    if (engine_codes[i].name == name)
      return static_cast<engine_code>(i);
  return std::nullopt;
}

error_class class_of(engine_code code) noexcept {
  return engine_codes[static_cast<size_t>(code)].cls;
}

std::string_view to_string(error_class cls) noexcept {
  return error_class_names[static_cast<size_t>(cls)];
}

std::optional<error_class> parse_error_class(std::string_view name) noexcept {
  for (size_t i = 0; i < error_class_names.size(); ++i)
    if (error_class_names[i] == name)
      return static_cast<error_class>(i);
  return std::nullopt;
}

failure make_failure(engine_code code, std::string message) {
  failure f;
  f.cls = class_of(code);
  f.code = std::string{to_string(code)};
  f.message = std::move(message);
  f.engine = code;
  return f;
}

std::string to_string(const failure& f) {
  std::string out{to_string(f.cls)};
  if (f.status != 0 || !f.code.empty()) {
    out += " (";
    if (f.status != 0)
      out += std::to_string(f.status);
    if (f.status != 0 && !f.code.empty())
      out += ' ';
    out += f.code;
    out += ')';
  }
  if (!f.message.empty()) {
    out += ": ";
    out += f.message;
  }
  return out;
}

} // namespace switchyard
