#pragma once

// The client formats the gateway speaks: reading requests into the engine's
// model, writing answers, errors and stream events back in the client's
// shape whichever provider served the call.

#include "switchyard/engine.hpp"
#include "switchyard/expected.hpp"
#include "switchyard/model.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace switchyard::gateway {

/// Which API a client speaks (decided by the endpoint it calls).
enum class dialect : uint8_t { openai_chat, openai_completions, anthropic };

/// True for the OpenAI endpoints.
inline bool is_openai(dialect d) noexcept {
  return d != dialect::anthropic;
}

/// A client request, read.
struct parsed_call {
  chat_request req;
  /// The route (the request's `model`).
  std::string route;
  bool stream = false;
  /// OpenAI `stream_options.include_usage`.
  bool include_usage = false;
};

/// An error to answer with, in the client's shape.
struct client_error {
  int status = 400;
  std::string message;
  /// OpenAI `param` (the offending field), may be empty.
  std::string param;
  /// OpenAI `code` (model_not_found, context_length_exceeded, ...).
  std::string code;
  /// Seconds for `retry-after` (429, 503).
  std::optional<int64_t> retry_after_s;
};

/// Makes a 400 naming `field`.
client_error bad_field(std::string field, std::string message);

/// `bad_field` as the failure of a parser that returns `expected`.
inline unexpected<client_error> fail(std::string field, std::string message) {
  return unexpected<client_error>{
      bad_field(std::move(field), std::move(message))};
}

// -- reading requests -------------------------------------------------------

expected<parsed_call, client_error> parse_openai_chat(std::string_view body);
expected<parsed_call, client_error>
parse_openai_completions(std::string_view body);
expected<parsed_call, client_error> parse_anthropic(std::string_view body);

/// Reads a request in `d`'s format.
expected<parsed_call, client_error> parse_request(dialect d,
                                                  std::string_view body);

// -- writing answers --------------------------------------------------------

/// The complete answer to a non-streamed call.
std::string render_response(dialect d, const chat_response& res);

/// The body of an error answer.
std::string render_error(dialect d, const client_error& err);

/// What the client is told when a call failed (status, message, code);
/// never an upstream key or URL.
client_error map_failure(dialect d, const call_error& err);

/// The same for a failure with no attempt trail.
client_error map_failure(dialect d, const failure& f,
                         std::optional<timespan> retry_after = std::nullopt);

// -- streams ----------------------------------------------------------------

/// Writes a stream's events as the client's SSE events.
class sse_encoder {
public:
  virtual ~sse_encoder() = default;

  /// The events that open the answer (before its first content).
  virtual void open(std::string& out, const stream_start& start) = 0;

  virtual void text(std::string& out, std::string_view text) = 0;

  virtual void tool(std::string& out, const tool_call_delta& delta) = 0;

  /// The events that end a complete answer.
  virtual void close(std::string& out, const stream_end& end) = 0;

  /// The error event of a stream that broke after content.
  virtual void fail(std::string& out, const client_error& err) = 0;
};

/// A new encoder for one stream of `d`.
std::unique_ptr<sse_encoder> make_encoder(dialect d, bool include_usage);

/// Appends an SSE comment line (`: text`), newlines flattened.
void append_comment(std::string& out, std::string_view text);

} // namespace switchyard::gateway

namespace switchyard::gateway::detail {

// The per-dialect parts behind the functions above.
std::string render_openai_chat(const chat_response& res);
std::string render_openai_completion(const chat_response& res);
std::string render_openai_error(const client_error& err);
std::string render_anthropic(const chat_response& res);
std::string render_anthropic_error(const client_error& err);
std::unique_ptr<sse_encoder> make_openai_encoder(bool legacy,
                                                 bool include_usage);
std::unique_ptr<sse_encoder> make_anthropic_encoder();

} // namespace switchyard::gateway::detail
