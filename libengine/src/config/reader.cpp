#include "reader.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace switchyard::config_detail {

namespace {

bool plain_key(std::string_view key) {
  if (key.empty())
    return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + cost});
      diag = up;
    }
  }
  return row[b.size()];
}

bool valid_env_name(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9'))
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '_';
  });
}

std::string format_number(double x) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%g", x);
  return buf;
}

} // namespace

std::string child(const std::string& path, std::string_view key) {
  std::string result = path;
  if (plain_key(key)) {
    if (!result.empty())
      result += '.';
    result += key;
  } else {
    result += "[";
    result += json(std::string{key}).dump();
    result += "]";
  }
  return result;
}

std::string element(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

std::optional<std::string_view>
suggest(std::string_view word,
        const std::vector<std::string_view>& candidates) {
  std::optional<std::string_view> best;
  size_t best_distance = SIZE_MAX;
  for (auto candidate : candidates) {
    auto d = edit_distance(word, candidate);
    if (d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  // A typo changes a few characters; a different word changes most of them.
  auto limit = std::max<size_t>(2, std::max(word.size(), size_t{1}) / 3);
  if (!best || best_distance == 0 || best_distance > limit
      || best_distance >= best->size())
    return std::nullopt;
  return best;
}

std::string describe(const json& value) {
  switch (value.type()) {
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::null:
      return "null";
    default: {
      auto text = value.dump();
      if (text.size() > 40)
        text = text.substr(0, 37) + "...";
      return text;
    }
  }
}

std::string hint(std::string_view word,
                 const std::vector<std::string_view>& candidates) {
  if (auto s = suggest(word, candidates)) {
    std::string result = " (did you mean \"";
    result += *s;
    result += "\"?)";
    return result;
  }
  if (candidates.empty())
    return {};
  std::string result = " (expected one of: ";
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (i > 0)
      result += ", ";
    result += candidates[i];
  }
  result += ")";
  return result;
}

void reader::error(std::string path, std::string message) {
  errors_.push_back(config_error{std::move(path), std::move(message)});
}

bool reader::object(const json& value, const std::string& path,
                    const std::vector<std::string_view>& keys) {
  if (!any_object(value, path))
    return false;
  for (auto& [key, _] : value.items()) {
    if (std::find(keys.begin(), keys.end(), key) == keys.end())
      error(child(path, key), "unknown key" + hint(key, keys));
  }
  return true;
}

bool reader::any_object(const json& value, const std::string& path) {
  if (value.is_object())
    return true;
  error(path, "expected an object, got " + describe(value));
  return false;
}

bool reader::array(const json& value, const std::string& path) {
  if (value.is_array())
    return true;
  error(path, "expected an array, got " + describe(value));
  return false;
}

std::optional<std::string> reader::string(const json& value,
                                          const std::string& path) {
  if (!value.is_string()) {
    error(path, "expected a string, got " + describe(value));
    return std::nullopt;
  }
  return substitute(value.get_ref<const std::string&>(), path);
}

std::optional<std::string> reader::substitute(std::string_view text,
                                              const std::string& path) {
  std::string result;
  result.reserve(text.size());
  bool ok = true;
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "$${") == 0) {
      result += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      result += text[i++];
      continue;
    }
    auto close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      error(path, R"(unterminated "${" (write "$${" for a literal "${"))");
      return std::nullopt;
    }
    auto inner = text.substr(i + 2, close - i - 2);
    std::optional<std::string_view> fallback;
    if (auto sep = inner.find(":-"); sep != std::string_view::npos) {
      fallback = inner.substr(sep + 2);
      inner = inner.substr(0, sep);
    }
    std::string name{inner};
    if (!valid_env_name(name)) {
      error(path, "invalid environment variable name \"" + name + "\"");
      ok = false;
    } else if (auto val = env_ ? env_(name) : std::nullopt) {
      result += *val;
    } else if (fallback) {
      result += *fallback;
    } else {
      error(path, "environment variable " + name + " is not set");
      ok = false;
    }
    i = close + 1;
  }
  if (!ok)
    return std::nullopt;
  return result;
}

std::optional<int64_t> reader::integer(const json& value,
                                       const std::string& path, int64_t min,
                                       int64_t max) {
  std::optional<int64_t> x;
  if (value.is_number_integer()) {
    if (value.is_number_unsigned()) {
      auto u = value.get<uint64_t>();
      x = u > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX
                                               : static_cast<int64_t>(u);
    } else {
      x = value.get<int64_t>();
    }
  } else if (value.is_number_float()) {
    auto d = value.get<double>();
    if (std::isfinite(d) && d == std::trunc(d) && std::abs(d) < 9.0e18)
      x = static_cast<int64_t>(d);
  }
  if (x && *x >= min && *x <= max)
    return x;
  std::string expectation;
  if (max == INT64_MAX && min == 0)
    expectation = "a non-negative integer";
  else if (max == INT64_MAX && min == 1)
    expectation = "a positive integer";
  else if (max == INT64_MAX)
    expectation = "an integer of at least " + std::to_string(min);
  else
    expectation = "an integer between " + std::to_string(min) + " and "
                  + std::to_string(max);
  error(path, "expected " + expectation + ", got " + describe(value));
  return std::nullopt;
}

std::optional<double> reader::number(const json& value, const std::string& path,
                                     double min, double max,
                                     bool exclusive_min) {
  if (value.is_number()) {
    auto x = value.get<double>();
    bool above = exclusive_min ? x > min : x >= min;
    if (std::isfinite(x) && above && x <= max)
      return x;
  }
  std::string expectation;
  bool unbounded = std::isinf(max);
  if (unbounded && min == 0)
    expectation = exclusive_min ? "a positive number" : "a non-negative number";
  else if (unbounded)
    expectation
        = (exclusive_min ? "a number greater than " : "a number of at least ")
          + format_number(min);
  else if (exclusive_min)
    expectation = "a number greater than " + format_number(min)
                  + " and at most " + format_number(max);
  else
    expectation = "a number between " + format_number(min) + " and "
                  + format_number(max);
  error(path, "expected " + expectation + ", got " + describe(value));
  return std::nullopt;
}

std::optional<bool> reader::boolean(const json& value,
                                    const std::string& path) {
  if (value.is_boolean())
    return value.get<bool>();
  error(path, "expected true or false, got " + describe(value));
  return std::nullopt;
}

std::optional<timespan>
reader::millis(const json& value, const std::string& path, int64_t min_ms) {
  // One day is far beyond any sensible timeout; larger values are typos.
  constexpr int64_t max_ms = 86'400'000;
  auto x = integer(value, path, min_ms);
  if (!x)
    return std::nullopt;
  if (*x > max_ms) {
    error(path, "expected at most 86400000 (one day in milliseconds), got "
                    + describe(value));
    return std::nullopt;
  }
  return std::chrono::milliseconds{*x};
}

} // namespace switchyard::config_detail
