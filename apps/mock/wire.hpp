#pragma once

#include "answer.hpp"
#include "fault.hpp"
#include "switchyard/expected.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchyard::mock {

/// The endpoint families the mock serves.
enum class api : uint8_t {
  openai_chat,
  openai_completions,
  openai_models,
  anthropic_messages,
  gemini,
  azure_openai,
  mock_control,
  not_found,
};

/// The stats / scenario name of an endpoint family ("openai_chat", ...).
std::string_view to_string(api kind) noexcept;

/// Where a request goes, from its method and target alone.
struct route {
  api kind = api::not_found;
  /// Gemini model or Azure deployment named in the path.
  std::string_view path_model;
  /// Gemini `:streamGenerateContent`.
  bool path_stream = false;
  /// The target without its query string.
  std::string_view path;
};

/// Classifies a request by method and target (no regex, no allocation).
route classify(std::string_view method, std::string_view target) noexcept;

/// A provider request reduced to what the mock answers from.
struct mock_request {
  api kind = api::openai_chat;
  std::string model;
  std::vector<message> messages;
  bool stream = false;
  bool include_usage = false;
};

/// Parses a request body for `r`; the error is a message for a 400.
expected<mock_request> parse_request(const route& r, std::string_view body);

/// Response headers as (name, value) pairs.
using header_pairs = std::vector<std::pair<std::string, std::string>>;

/// A complete response: status, content type, extra headers, body.
struct rendered {
  int status = 200;
  std::string content_type = "application/json";
  header_pairs headers;
  std::string body;
};

// -- success --------------------------------------------------------------

/// The non-streaming success body (`text` may be empty for `empty`).
std::string render_body(const mock_request& req, const answer& ans);

/// A success body cut short: valid prefix, invalid JSON (`malformed`).
std::string render_malformed_body(const mock_request& req);

/// `GET /v1/models`.
std::string render_models();

// -- streams -----------------------------------------------------------------

/// The events before the first content event (role chunk, message_start...).
std::vector<std::string> stream_prologue(const mock_request& req,
                                         const answer& ans);

/// One content event; `final` marks Gemini's last chunk (finishReason).
std::string stream_content(const mock_request& req, const answer& ans,
                           std::string_view piece, bool final);

/// The events after the last content event, up to the terminal marker.
std::vector<std::string> stream_epilogue(const mock_request& req,
                                         const answer& ans);

/// The provider's in-stream error event.
std::string stream_error(api kind);

/// A data line that is not JSON.
std::string stream_malformed(api kind);

// -- errors ------------------------------------------------------------------

/// The error response for `plan.error` in the provider's format.
rendered render_error(api kind, const fault_plan& plan, std::string_view model);

/// A 400 in the provider's format (invalid JSON, missing fields).
rendered render_bad_request(api kind, std::string_view message);

/// A 404 in OpenAI's format for an unknown route.
rendered render_not_found(std::string_view method, std::string_view target);

/// The headers `should_retry` and `retry_after_ms` add to any response.
void add_fault_headers(const fault_plan& plan, header_pairs& headers);

} // namespace switchyard::mock
