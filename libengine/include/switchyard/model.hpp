#pragma once

#include "switchyard/error.hpp"
#include "switchyard/time.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace switchyard {

// -- request -----------------------------------------------------------------

/// Who speaks a message.
enum class role : uint8_t { system, user, assistant, tool };

/// Returns "system", "user", "assistant" or "tool".
std::string_view to_string(role r) noexcept;

/// Parses a role name; "developer" reads as system.
std::optional<role> parse_role(std::string_view name) noexcept;

/// One part of a multi-part message. Text parts carry `text`; every other
/// kind (images, audio, files) travels as its OpenAI-shaped JSON in `raw`.
struct content_part {
  std::string type = "text";
  std::string text;
  nlohmann::json raw;
};

/// A tool call made by the assistant; `arguments` is a JSON document as text.
struct tool_call {
  std::string id;
  std::string name;
  std::string arguments;
};

/// One turn of the conversation. Content is either plain `text` or, when
/// `parts` is non-empty, the list of parts.
struct message {
  role from = role::user;
  std::string text;
  std::vector<content_part> parts;
  std::string name;
  std::string tool_call_id;
  std::vector<tool_call> tool_calls;

  /// Returns the text of the message: `text`, or its text parts joined.
  std::string plain_text() const;
};

/// A provider-neutral chat request (OpenAI's shape is the lingua franca).
struct chat_request {
  /// Requested model; empty means "the deployment's model".
  std::string model;
  std::vector<message> messages;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int64_t> max_tokens;
  /// Sampling hints. OpenAI-family providers and Gemini get them; Anthropic
  /// has none of them and gets the call without them (a seed is best effort
  /// even where it exists), so a fallback to it does not fail on a hint.
  std::optional<int64_t> seed;
  std::optional<double> presence_penalty;
  std::optional<double> frequency_penalty;
  /// Sample from the k likeliest tokens: Anthropic and Gemini have it; the
  /// OpenAI family has not and gets the call without it.
  std::optional<int64_t> top_k;
  std::vector<std::string> stop;
  bool stream = false;
  /// Passed through in OpenAI's shape (adapters translate where needed).
  nlohmann::json tools;
  nlohmann::json tool_choice;
  /// Whether the model may call several tools in one turn (OpenAI's
  /// `parallel_tool_calls`, Anthropic's `disable_parallel_tool_use`); unset
  /// leaves the provider's default, which allows it. Sent only with tools.
  /// Gemini has no such switch and gets the call without it.
  std::optional<bool> parallel_tool_calls;
  nlohmann::json response_format;
  std::string user;
  std::map<std::string, std::string> metadata;
  /// Extra provider parameters, merged into the provider body untouched.
  nlohmann::json extra = nlohmann::json::object();
};

// -- response ----------------------------------------------------------------

/// Why the model stopped.
enum class finish_reason : uint8_t {
  stop,
  length,
  tool_calls,
  content_filter,
  error,
  unknown,
};

/// Returns OpenAI's name of a finish reason ("stop", "length", ...).
std::string_view to_string(finish_reason r) noexcept;

/// Token accounting as the provider reported it.
struct usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t total_tokens = 0;
};

/// One attempt of a call: which deployment, how it ended, how long it took.
struct attempt_record {
  std::string deployment;
  std::string provider;
  std::string model;
  /// Empty on success.
  std::optional<error_class> cls;
  /// The HTTP status of the answer (a failed one too: 429, 500, ...); 200
  /// for a stream that failed in-stream after a 200 head; 0 when the attempt
  /// failed below HTTP (connect, a timeout before any head, a cut
  /// connection); -1 when the deployment was never asked (skipped: breaker
  /// open, marked down, rejected by its local limits).
  int status = 0;
  timespan latency{};
  /// Why the engine moved on after this attempt ("fallback: overloaded"...).
  std::string reason;
  /// Tokens as the provider reported them. A stream that broke after
  /// content never reports usage: its completion tokens are then estimated
  /// as one per content event, its prompt tokens from the request's size
  /// (about four characters per token), and `usage_estimated` set.
  std::optional<switchyard::usage> usage;
  bool usage_estimated = false;
};

/// Whether an answer came from the response cache (`routes.X.cache`).
enum class cache_outcome : uint8_t {
  /// The cache does not apply: not enabled on the route, or the request is
  /// not eligible (its temperature).
  none,
  /// Not in the cache: asked upstream (and stored when it succeeded).
  miss,
  /// Served from the cache; no upstream call was made for it.
  hit,
  /// The caller asked to bypass the cache: asked upstream (and stored).
  bypass,
  /// Shared the upstream call of an identical call in flight.
  coalesced,
};

/// Returns "none", "miss", "hit", "bypass" or "coalesced".
std::string_view to_string(cache_outcome x) noexcept;

/// A complete answer, plus who gave it and how it was obtained.
struct chat_response {
  std::string id;
  std::string text;
  std::vector<tool_call> tool_calls;
  finish_reason finish = finish_reason::unknown;
  /// The provider's own finish reason string ("end_turn", "STOP", ...).
  std::string finish_raw;
  switchyard::usage usage;
  std::string provider;
  std::string model;
  /// The attempts of this call (none for a cache hit).
  std::vector<attempt_record> attempts;
  /// Whether it came from the response cache.
  cache_outcome cache = cache_outcome::none;
};

// -- streaming ---------------------------------------------------------------

/// The stream is open: who answers.
struct stream_start {
  std::string id;
  std::string provider;
  std::string model;
  /// Whether the stream is replayed from the response cache (every event
  /// of a replay is the stored one, the attempts of `stream_end` empty).
  cache_outcome cache = cache_outcome::none;
};

/// A piece of the answer's text.
struct text_delta {
  std::string text;
};

/// A piece of a tool call; `index` identifies the call across deltas.
struct tool_call_delta {
  int index = 0;
  std::string id;
  std::string name;
  std::string arguments;
};

/// What a mid-stream notice tells the caller.
enum class notice_kind : uint8_t {
  /// Discard everything received so far; the answer starts again with a new
  /// `stream_start`.
  restart,
  /// The answer goes on seamlessly from another provider.
  continue_,
};

/// Returns "restart" or "continue".
std::string_view to_string(notice_kind k) noexcept;

/// Something the caller should know mid-stream: a fallback after content
/// reached the caller (the route's `stream_failover` is not `error`).
struct stream_notice {
  notice_kind kind = notice_kind::restart;
  std::string message;
  /// The deployment that failed and the one that takes over.
  std::string from;
  std::string to;
};

/// The stream ended normally.
struct stream_end {
  finish_reason finish = finish_reason::unknown;
  std::string finish_raw;
  std::optional<switchyard::usage> usage;
  std::vector<attempt_record> attempts;
};

/// The stream ended with an error; never a silent truncation.
struct stream_error {
  switchyard::failure failure;
  /// Every attempt, in order.
  std::vector<attempt_record> attempts;
};

/// Everything a streamed call delivers, in order.
using stream_event = std::variant<stream_start, text_delta, tool_call_delta,
                                  stream_notice, stream_end, stream_error>;

} // namespace switchyard
