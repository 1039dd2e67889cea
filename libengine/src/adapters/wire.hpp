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

/// The endpoint's base URL, else the kind's public one (may be empty).
std::string_view base_url_of(const endpoint& ep, provider_kind kind);

/// Adds Content-Type, Accept (streams), credentials and the extra headers.
/// A kind with a key header of its own (`defaults_of(kind).auth_header`) has
/// no bearer keys: `bearer` (the struct's default) means that header. Under
/// `auth_style::header` without a name, the header is the kind's own, else
/// `x-api-key`.
void add_headers(header_list& out, const endpoint& ep, bool stream,
                 provider_kind kind);

/// A `data:` URL split into its media type and base64 payload.
struct data_url {
  std::string media_type;
  std::string data;
};

/// Reads `data:<type>;base64,<payload>`; nullopt for anything else.
std::optional<data_url> parse_data_url(std::string_view url);

/// The URL of an OpenAI-shaped image part (`image_url.url` or `image_url`).
std::string image_url_of(const content_part& part);

// -- tools (OpenAI's shape in, each kind's shape out) ------------------------

/// True when the request declares tools: anything but null or an empty list
/// (a value that is no list is then rejected by `function_tools`).
bool has_tools(const chat_request& req);

/// One function tool of a request.
struct function_tool {
  std::string name;
  /// Empty when the tool has none.
  std::string description;
  /// The JSON schema of the arguments, or nullptr when absent.
  const json* parameters = nullptr;
};

/// Reads the request's `tools` list; `who` (the kind's name) starts the
/// message of the failure ("gemini: only function tools are supported").
expected<std::vector<function_tool>, failure>
function_tools(const json& tools, std::string_view who);

/// What a request's `tool_choice` asks for.
struct tool_choice {
  enum class mode : uint8_t { automatic, required, none, function };
  mode choice = mode::automatic;
  /// The function to call, for `mode::function`.
  std::string function;
};

/// Reads "auto", "required", "none" or `{"function": {"name": ...}}`.
expected<tool_choice, failure> read_tool_choice(const json& choice,
                                                std::string_view who);

/// The arguments of a tool call as a JSON object (empty text is `{}`); a
/// bad_request naming the call when they are no JSON object.
expected<json, failure> tool_arguments(const tool_call& call,
                                       std::string_view who);

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
