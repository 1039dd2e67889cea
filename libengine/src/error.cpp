#include "switchyard/error.hpp"

namespace switchyard {

namespace {

constexpr std::array<std::string_view, error_class_count> error_class_names{
    "rate_limited",   "quota_exhausted", "overloaded", "server_error",
    "timeout",        "connection",      "auth",       "bad_request",
    "context_length", "content_filter",  "malformed",  "cancelled",
};

} // namespace

std::string_view to_string(error_class cls) noexcept {
  return error_class_names[static_cast<size_t>(cls)];
}

std::optional<error_class> parse_error_class(std::string_view name) noexcept {
  for (size_t i = 0; i < error_class_names.size(); ++i)
    if (error_class_names[i] == name)
      return static_cast<error_class>(i);
  return std::nullopt;
}

failure make_failure(error_class cls, std::string code, std::string message) {
  failure f;
  f.cls = cls;
  f.code = std::move(code);
  f.message = std::move(message);
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
