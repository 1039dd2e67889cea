#pragma once

// Internal to the adapters: reading the answers on the hot path. OpenAI-shaped
// response bodies and stream chunks are read with simdjson, which parses them
// about fifteen times faster than building a nlohmann DOM (see
// bench-adapter_codec); requests, error documents and the other formats stay
// with nlohmann. No exceptions: every access checks its error code.

#include <cstdint>
#include <optional>
#include <simdjson.h>
#include <string>
#include <string_view>

namespace switchyard::wire::fast {

using element = simdjson::dom::element;

namespace detail {

/// Parses `text` with this thread's parser into `out`; false when it is not
/// JSON. `out` stays valid until the next parse on this thread.
bool parse(std::string_view text, element& out);

/// Frees this thread's parser memory after an unusually large document.
void release_after(size_t size);

} // namespace detail

/// Parses `text` and calls `f` with its root element, which is valid only
/// during the call (it lives in this thread's parser). Returns false, without
/// calling `f`, when `text` is not JSON.
template <class F>
bool with_document(std::string_view text, F&& f) {
  element doc;
  bool ok = detail::parse(text, doc);
  if (ok)
    f(doc);
  detail::release_after(text.size());
  return ok;
}

/// The member `key` of an object; nullopt when `e` is no object or lacks it.
inline std::optional<element> member(element e, std::string_view key) {
  simdjson::dom::object obj;
  element value;
  if (e.get(obj) || obj.at_key(key).get(value))
    return std::nullopt;
  return value;
}

/// The string member `key`, or "" when absent or not a string.
inline std::string string_of(element e, std::string_view key) {
  std::string_view s;
  if (auto m = member(e, key); m && !m->get(s))
    return std::string{s};
  return {};
}

/// The integer member `key`, when present and an integer that fits.
inline std::optional<int64_t> int_of(element e, std::string_view key) {
  int64_t n = 0;
  if (auto m = member(e, key); m && !m->get(n))
    return n;
  return std::nullopt;
}

/// True for a JSON string; `out` then holds it.
inline bool get_string(element e, std::string_view& out) {
  return !e.get(out);
}

/// `e` rendered as compact JSON.
inline std::string dump(element e) {
  return simdjson::minify(e);
}

} // namespace switchyard::wire::fast
