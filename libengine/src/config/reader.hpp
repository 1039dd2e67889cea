#pragma once

// Internal to the config parser: typed access to JSON values that records
// every problem as a config_error naming the JSON path.

#include "switchyard/config.hpp"
#include "switchyard/time.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace switchyard::config_detail {

using json = nlohmann::json;

/// Returns `path.key`, quoting keys that are not plain identifiers.
std::string child(const std::string& path, std::string_view key);

/// Returns `path[i]`.
std::string element(const std::string& path, size_t i);

/// Returns the candidate closest to `word` by edit distance, if close enough
/// to be a plausible typo.
std::optional<std::string_view>
suggest(std::string_view word, const std::vector<std::string_view>& candidates);

/// Renders a JSON value for "got ..." in messages.
std::string describe(const json& value);

/// Renders ` (did you mean "x"?)` or ` (expected one of: a, b)`.
std::string hint(std::string_view word,
                 const std::vector<std::string_view>& candidates);

/// A name and the enumerator it parses to.
template <class E>
using name_table = std::vector<std::pair<std::string_view, E>>;

/// Typed, error-collecting access to a JSON document.
class reader {
public:
  reader(const env_lookup& env, std::vector<config_error>& errors)
      : env_(env), errors_(errors) {
    // nop
  }

  /// Records an error.
  void error(std::string path, std::string message);

  /// Number of errors recorded so far.
  size_t error_count() const noexcept {
    return errors_.size();
  }

  /// Checks that `value` is an object whose keys are all in `keys`.
  /// Returns false (after recording the error) when it is no object.
  bool object(const json& value, const std::string& path,
              const std::vector<std::string_view>& keys);

  /// Checks that `value` is an object; any keys allowed.
  bool any_object(const json& value, const std::string& path);

  /// Checks that `value` is an array.
  bool array(const json& value, const std::string& path);

  /// Reads a string, substituting `${NAME}` from the environment.
  std::optional<std::string> string(const json& value, const std::string& path);

  /// Reads an integer in [min, max].
  std::optional<int64_t> integer(const json& value, const std::string& path,
                                 int64_t min, int64_t max = INT64_MAX);

  /// Reads a number in [min, max] (`exclusive_min` makes it (min, max]).
  std::optional<double> number(const json& value, const std::string& path,
                               double min, double max,
                               bool exclusive_min = false);

  /// Reads true or false.
  std::optional<bool> boolean(const json& value, const std::string& path);

  /// Reads a whole number of milliseconds, at least `min_ms`.
  std::optional<timespan> millis(const json& value, const std::string& path,
                                 int64_t min_ms);

  /// Reads a name from `table`; `what` names the kind ("strategy").
  template <class E>
  std::optional<E> enumeration(const json& value, const std::string& path,
                               std::string_view what,
                               const name_table<E>& table) {
    auto str = string(value, path);
    if (!str)
      return std::nullopt;
    std::vector<std::string_view> names;
    for (auto& [name, x] : table) {
      if (name == *str)
        return x;
      names.push_back(name);
    }
    std::string msg = "unknown ";
    msg += what;
    msg += " \"";
    msg += *str;
    msg += '"';
    msg += hint(*str, names);
    error(path, std::move(msg));
    return std::nullopt;
  }

  /// Reads `${NAME}` references in `text`.
  std::optional<std::string> substitute(std::string_view text,
                                        const std::string& path);

private:
  const env_lookup& env_;
  std::vector<config_error>& errors_;
};

/// Reads the value of one key of a section (the key's path given) into `S`;
/// returns false when it rejected the value (after recording why), leaving
/// `out` as it was.
template <class S>
using key_reader
    = std::function<bool(reader&, const json&, const std::string&, S&)>;

/// The keys of a config section, each spelled once: the unknown-key check,
/// its "did you mean" hint and the reading all come from this table, in its
/// order.
template <class S>
using section_keys = std::vector<std::pair<std::string_view, key_reader<S>>>;

/// Returns the key names of `keys`, in order, followed by `extra`.
template <class S>
std::vector<std::string_view>
names_of(const section_keys<S>& keys,
         std::initializer_list<std::string_view> extra = {}) {
  std::vector<std::string_view> result;
  result.reserve(keys.size() + extra.size());
  for (auto& [name, _] : keys)
    result.push_back(name);
  result.insert(result.end(), extra.begin(), extra.end());
  return result;
}

/// What `read_section` did.
struct section_read {
  /// False when the value was no object (nothing was read).
  bool object = false;
  /// The keys present whose value was rejected.
  std::vector<std::string_view> rejected;

  bool rejects(std::string_view key) const {
    return std::find(rejected.begin(), rejected.end(), key) != rejected.end();
  }
};

/// Overlays the keys of `keys` that `obj` (an object whose keys were
/// checked) holds onto `out`.
template <class S>
section_read read_keys(reader& rd, const json& obj, const std::string& path,
                       const section_keys<S>& keys, S& out) {
  section_read result;
  result.object = true;
  for (auto& [name, read] : keys) {
    auto i = obj.find(name);
    if (i != obj.end() && !read(rd, *i, child(path, name), out))
      result.rejected.push_back(name);
  }
  return result;
}

/// Checks that `obj` is an object holding only `keys` (and `extra`, which
/// the caller reads itself) and overlays the keys it holds onto `out`.
template <class S>
section_read read_section(reader& rd, const json& obj, const std::string& path,
                          const section_keys<S>& keys, S& out,
                          std::initializer_list<std::string_view> extra = {}) {
  if (!rd.object(obj, path, names_of(keys, extra)))
    return section_read{};
  return read_keys(rd, obj, path, keys, out);
}

/// Calls `f(value)` when `obj` (an object) holds `key`; returns whether it did.
template <class F>
bool with(const json& obj, std::string_view key, F&& f) {
  if (!obj.is_object())
    return false;
  auto i = obj.find(key);
  if (i == obj.end())
    return false;
  f(*i);
  return true;
}

/// Returns the member `key` of `obj`, or nullptr.
inline const json* member(const json& obj, std::string_view key) {
  if (!obj.is_object())
    return nullptr;
  auto i = obj.find(key);
  return i == obj.end() ? nullptr : &*i;
}

} // namespace switchyard::config_detail
