#include "switchyard/model.hpp"

namespace switchyard {

std::string_view to_string(role r) noexcept {
  switch (r) {
    case role::system:
      return "system";
    case role::user:
      return "user";
    case role::assistant:
      return "assistant";
    case role::tool:
      return "tool";
  }
  return "user";
}

std::optional<role> parse_role(std::string_view name) noexcept {
  if (name == "system" || name == "developer")
    return role::system;
  if (name == "user")
    return role::user;
  if (name == "assistant")
    return role::assistant;
  if (name == "tool")
    return role::tool;
  return std::nullopt;
}

std::string message::plain_text() const {
  if (parts.empty())
    return text;
  std::string out;
  for (const auto& p : parts)
    if (p.type == "text")
      out += p.text;
  return out;
}

std::string_view to_string(notice_kind k) noexcept {
  switch (k) {
    case notice_kind::restart:
      return "restart";
    case notice_kind::continue_:
      return "continue";
  }
  return "restart";
}

std::string_view to_string(finish_reason r) noexcept {
  switch (r) {
    case finish_reason::stop:
      return "stop";
    case finish_reason::length:
      return "length";
    case finish_reason::tool_calls:
      return "tool_calls";
    case finish_reason::content_filter:
      return "content_filter";
    case finish_reason::error:
      return "error";
    case finish_reason::unknown:
      break;
  }
  return "unknown";
}

std::string_view to_string(cache_outcome x) noexcept {
  switch (x) {
    case cache_outcome::none:
      break;
    case cache_outcome::miss:
      return "miss";
    case cache_outcome::hit:
      return "hit";
    case cache_outcome::bypass:
      return "bypass";
    case cache_outcome::coalesced:
      return "coalesced";
  }
  return "none";
}

} // namespace switchyard
