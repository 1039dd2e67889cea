#pragma once

// Internal to the adapters: pieces shared by the wire formats.

#include "switchyard/adapter.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace switchyard::wire {

using json = nlohmann::json;

// -- failures ----------------------------------------------------------------

/// A request that the wire format cannot express.
failure bad_request(std::string message);

/// A 2xx body (or stream event) that does not have the expected shape.
failure malformed(std::string message, int status = 0);

// -- safe JSON access (nlohmann throws on type mismatch; we never do) --------

/// Parses a document; a `malformed` failure naming `what` when it is not JSON.
expected<json, failure> parse_json(std::string_view text, std::string_view what,
                                   int status = 0);

/// Renders a body; invalid UTF-8 is replaced instead of throwing.
std::string dump(const json& j);

/// The member `key` of an object, or nullptr.
const json* member(const json& j, std::string_view key);

/// The string member `key`, or "" when absent or not a string.
std::string string_of(const json& j, std::string_view key);

/// The integer member `key`, when present and an integer.
std::optional<int64_t> int_of(const json& j, std::string_view key);

/// Copies every member of `extra` into `body`, replacing what was there.
void merge_extra(json& body, const json& extra);

// -- requests ----------------------------------------------------------------

/// The model to ask for: the endpoint's, else the request's.
std::string resolve_model(const chat_request& req, const endpoint& ep);

/// Joins a base URL and a versioned path without doubling the version
/// segment: ("http://h/v1", "/v1", "/chat") and ("http://h", ...) agree.
std::string join_url(std::string_view base, std::string_view version,
                     std::string_view path);

/// Adds Content-Type, Accept (streams), credentials and the extra headers.
/// `native_header` names the kind's own key header; when set, `bearer` (the
/// struct's default) means that header, since the kind has no bearer keys.
void add_headers(header_list& out, const endpoint& ep, bool stream,
                 std::string_view default_header, bool native_header);

/// A `data:` URL split into its media type and base64 payload.
struct data_url {
  std::string media_type;
  std::string data;
};

/// Reads `data:<type>;base64,<payload>`; nullopt for anything else.
std::optional<data_url> parse_data_url(std::string_view url);

/// The URL of an OpenAI-shaped image part (`image_url.url` or `image_url`).
std::string image_url_of(const content_part& part);

// -- responses ---------------------------------------------------------------

/// Maps OpenAI's finish reason names.
finish_reason openai_finish(std::string_view raw);

/// Classifies an error document (any provider's shape) seen with `status`;
/// also used for 2xx bodies and stream events that carry an error object.
/// Without `now`, a `retry-after` HTTP date is not read.
failure classify_error(int status, const header_list& headers,
                       std::string_view body, std::optional<wall_time> now);

/// Classifies an already parsed error document.
failure classify_error_json(int status, const header_list& headers,
                            const json& body, std::optional<wall_time> now);

/// True when a parsed 2xx body is an error document instead of an answer.
bool is_error_document(const json& body);

// -- OpenAI wire format (shared by four adapters) ----------------------------

/// Renders neutral messages as OpenAI chat messages.
expected<json, failure> openai_messages(const chat_request& req);

/// Adds the sampling, tool and streaming fields common to OpenAI bodies.
void add_openai_options(json& body, const chat_request& req);

/// Parses a chat.completion (or text_completion) document.
expected<chat_response, failure> parse_openai_response(const http_response& r);

/// A decoder of OpenAI's chunk stream (chat and legacy completions).
std::unique_ptr<stream_decoder> make_openai_decoder();

// -- streams -----------------------------------------------------------------

/// Appends one neutral event, built in place (GCC 12 warns spuriously when a
/// temporary variant holding a `failure` alternative is moved).
template <class T>
void emit(std::vector<stream_event>& out, T ev) {
  out.emplace_back(std::in_place_type<T>, std::move(ev));
}

// -- registry ----------------------------------------------------------------

const adapter& openai_chat_adapter();
const adapter& openai_compatible_adapter();
const adapter& azure_openai_adapter();
const adapter& openai_completions_adapter();
const adapter& anthropic_adapter();
const adapter& gemini_adapter();

} // namespace switchyard::wire
