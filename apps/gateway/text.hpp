#pragma once

// Small text helpers of the hot path: JSON string escaping, ids, and key
// comparison.

#include <cstdint>
#include <string>
#include <string_view>

namespace switchyard::gateway {

/// Appends `text` as a JSON string literal (with quotes).
void append_json_string(std::string& out, std::string_view text);

/// Appends a decimal integer.
void append_int(std::string& out, int64_t value);

/// A new random id with `prefix`, e.g. "chatcmpl-" + 24 hex digits.
std::string make_id(std::string_view prefix);

/// Compares two keys in time that depends only on their lengths.
bool same_key(std::string_view a, std::string_view b) noexcept;

/// Seconds since the epoch.
int64_t unix_now();

} // namespace switchyard::gateway
