#include "fault.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <utility>

namespace switchyard::mock {

namespace {

// Every fault name, interned so that the stats can keep string_views.
constexpr std::array<std::string_view, 21> fault_names = {
    "status",         "rate_limit",     "quota",
    "overloaded",     "server_error",   "auth",
    "context_length", "content_filter", "latency",
    "hang",           "first_byte",     "close",
    "drop_after",     "stall_after",    "error_event_after",
    "malformed",      "empty",          "no_done",
    "should_retry",   "retry_after_ms", "overlap",
};

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

std::optional<int64_t> to_int(std::string_view s) noexcept {
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || ptr != s.data() + s.size() || value < 0)
    return std::nullopt;
  return value;
}

std::optional<double> to_double(std::string_view s) {
  if (s.empty())
    return std::nullopt;
  std::string copy{s};
  char* end = nullptr;
  double value = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || !std::isfinite(value) || value < 0)
    return std::nullopt;
  return value;
}

std::string bad(std::string_view item, std::string_view what) {
  std::string result{"fault '"};
  result += item;
  result += "': ";
  result += what;
  return result;
}

} // namespace

bool is_modifier_fault(std::string_view name) noexcept {
  return name == "latency" || name == "first_byte" || name == "should_retry"
         || name == "retry_after_ms" || name == "overlap";
}

std::optional<std::string> apply_fault(std::string_view item,
                                       fault_plan& plan) {
  item = trim(item);
  auto eq = item.find('=');
  auto name = trim(item.substr(0, eq));
  std::optional<std::string_view> arg;
  if (eq != std::string_view::npos)
    arg = trim(item.substr(eq + 1));
  const std::string_view* interned = nullptr;
  for (const auto& n : fault_names)
    if (n == name)
      interned = &n;
  if (interned == nullptr)
    return bad(item, "unknown fault name");
  auto set_error = [&](error_fault e) {
    if (plan.error == error_fault::none)
      plan.error = e;
  };
  auto no_arg = [&]() -> std::optional<std::string> {
    if (arg)
      return bad(item, "takes no argument");
    return std::nullopt;
  };
  auto need_int
      = [&](std::optional<int64_t>& out) -> std::optional<std::string> {
    if (!arg)
      return bad(item, "needs a non-negative integer argument");
    auto v = to_int(*arg);
    if (!v)
      return bad(item, "argument is not a non-negative integer");
    out = v;
    return std::nullopt;
  };
  std::optional<std::string> err;
  std::optional<int64_t> n;
  if (name == "status") {
    if ((err = need_int(n)))
      return err;
    if (*n < 400 || *n > 599)
      return bad(item, "status must be in [400, 599]");
    set_error(error_fault::status);
    if (plan.error == error_fault::status)
      plan.status_code = static_cast<int>(*n);
  } else if (name == "rate_limit") {
    if (arg) {
      auto s = to_double(*arg);
      if (!s)
        return bad(item, "argument is not a non-negative number of seconds");
      plan.rate_limit_seconds = *s;
    }
    set_error(error_fault::rate_limit);
  } else if (name == "latency" || name == "first_byte") {
    if ((err = need_int(n)))
      return err;
    (name == "latency" ? plan.latency_ms : plan.first_byte_ms) = *n;
  } else if (name == "drop_after") {
    if ((err = need_int(plan.drop_after)))
      return err;
  } else if (name == "stall_after") {
    if ((err = need_int(plan.stall_after)))
      return err;
  } else if (name == "error_event_after") {
    if ((err = need_int(plan.error_event_after)))
      return err;
  } else if (name == "overlap") {
    if ((err = need_int(n)))
      return err;
    plan.overlap = *n;
  } else if (name == "retry_after_ms") {
    if ((err = need_int(plan.retry_after_ms)))
      return err;
  } else if (name == "should_retry") {
    if (arg == "true")
      plan.should_retry = true;
    else if (arg == "false")
      plan.should_retry = false;
    else
      return bad(item, "argument must be true or false");
  } else {
    if ((err = no_arg()))
      return err;
    if (name == "quota")
      set_error(error_fault::quota);
    else if (name == "overloaded")
      set_error(error_fault::overloaded);
    else if (name == "server_error")
      set_error(error_fault::server_error);
    else if (name == "auth")
      set_error(error_fault::auth);
    else if (name == "context_length")
      set_error(error_fault::context_length);
    else if (name == "content_filter")
      set_error(error_fault::content_filter);
    else if (name == "hang")
      plan.hang = true;
    else if (name == "close")
      plan.close = true;
    else if (name == "malformed")
      plan.malformed = true;
    else if (name == "empty")
      plan.empty = true;
    else if (name == "no_done")
      plan.no_done = true;
  }
  plan.names.push_back(*interned);
  return std::nullopt;
}

std::optional<std::string> apply_fault_list(std::string_view list,
                                            fault_plan& plan) {
  while (!list.empty()) {
    auto semi = list.find(';');
    auto item = list.substr(0, semi);
    if (!trim(item).empty())
      if (auto err = apply_fault(item, plan))
        return err;
    if (semi == std::string_view::npos)
      break;
    list.remove_prefix(semi + 1);
  }
  return std::nullopt;
}

} // namespace switchyard::mock
