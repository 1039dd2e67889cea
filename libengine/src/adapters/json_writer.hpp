#pragma once

// Internal to the adapters: writing request bodies straight into a string.
// Building a nlohmann DOM for every request and dumping it cost about a tenth
// of the CAF workers' time in bench-engine_mock. The writer produces the same
// bytes as `dump()` of the DOM the adapters used to build (members in sorted
// order, nlohmann's escaping); tests/engine/json_writer.cpp checks that both
// parse to the same document.

#include "wire.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace switchyard::wire {

/// Appends `s` as a JSON string, escaped as `dump()` escapes it (invalid
/// UTF-8 replaced by U+FFFD).
void append_json_string(std::string& out, std::string_view s);

/// Appends a number as `dump()` writes it (not finite: null).
void append_json_number(std::string& out, double v);
void append_json_number(std::string& out, int64_t v);

/// Appends `dump(j)`.
void append_json(std::string& out, const json& j);

/// The body of an OpenAI chat (`prompt` null) or legacy completions request,
/// as `dump()` of the DOM built by `openai_messages` + `add_openai_options` +
/// `merge_extra` (the latter path is taken when `req.extra` has members).
/// `model` empty: no model member.
expected<std::string, failure> openai_body(const chat_request& req,
                                           std::string_view model,
                                           const std::string* prompt);

} // namespace switchyard::wire
