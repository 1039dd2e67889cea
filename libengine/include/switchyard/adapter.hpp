#pragma once

#include "switchyard/error.hpp"
#include "switchyard/expected.hpp"
#include "switchyard/http.hpp"
#include "switchyard/model.hpp"
#include "switchyard/sse.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

/// The wire formats Switchyard speaks.
enum class provider_kind : uint8_t {
  openai_chat,
  anthropic_messages,
  gemini,
  azure_openai,
  openai_compatible,
  openai_completions,
};

/// Returns the config name of a provider kind ("openai_chat", ...).
std::string_view to_string(provider_kind k) noexcept;

/// Parses a config name of a provider kind.
std::optional<provider_kind>
parse_provider_kind(std::string_view name) noexcept;

/// What a provider kind assumes where the config is silent; one table read
/// by the config parser and by the adapters.
struct provider_defaults {
  /// The public base URL; empty when the user must give one.
  std::string_view base_url;
  /// The header the kind's own keys go in (Anthropic `x-api-key`); empty
  /// when its keys are `Authorization: Bearer` tokens.
  std::string_view auth_header;
  /// The API version the kind sends (Anthropic `anthropic-version`, Azure
  /// `api-version`); empty when it sends none.
  std::string_view api_version;
};

/// Returns the defaults of `kind`.
const provider_defaults& defaults_of(provider_kind kind) noexcept;

/// How a deployment authenticates.
enum class auth_style : uint8_t {
  /// `Authorization: Bearer KEY` (OpenAI and most compatible servers).
  bearer,
  /// `<auth_header>: KEY` (Anthropic `x-api-key`, Azure `api-key`, Gemini
  /// `x-goog-api-key`).
  header,
  /// No credentials (a local model server).
  none,
};

/// Everything an adapter needs to address one deployment.
struct endpoint {
  provider_kind kind = provider_kind::openai_chat;
  /// Scheme, host and optional path prefix, e.g. "https://api.openai.com" or
  /// "http://127.0.0.1:8000" (the adapter appends "/v1/chat/completions").
  std::string base_url;
  /// The provider's model name (Azure: ignored, the deployment names it).
  std::string model;
  std::string api_key;
  /// Azure `api-version`; Anthropic `anthropic-version`.
  std::string api_version;
  /// Azure deployment name.
  std::string deployment;
  auth_style auth = auth_style::bearer;
  /// Header name for `auth_style::header`; empty means the kind's default.
  std::string auth_header;
  header_list extra_headers;
  /// Used when the provider requires max_tokens and the request has none.
  int64_t default_max_tokens = 4096;
};

/// Decodes one attempt's event stream into neutral stream events.
class stream_decoder {
public:
  virtual ~stream_decoder() = default;

  /// Consumes one SSE event, appending neutral events to `out`. Returns a
  /// failure for an in-stream error event or an event that does not parse.
  virtual std::optional<failure> on_event(const sse_event& ev,
                                          std::vector<stream_event>& out)
      = 0;

  /// True once the provider's terminal marker was seen (`[DONE]`,
  /// `message_stop`, a final `finishReason`).
  virtual bool finished() const noexcept = 0;

  /// True once any text or tool-call content was produced.
  virtual bool produced_content() const noexcept = 0;
};

/// Translates between the neutral model and one provider's wire format.
/// Adapters are stateless and pure: no I/O, no clock of their own.
class adapter {
public:
  virtual ~adapter() = default;

  /// The wire format this adapter speaks.
  virtual provider_kind kind() const noexcept = 0;

  /// Builds the HTTP request for `req` addressed to `ep`. Fails with
  /// `bad_request` when the request cannot be expressed in this format.
  virtual expected<http_request, failure>
  build_request(const chat_request& req, const endpoint& ep) const = 0;

  /// Parses a complete 2xx response; `malformed` when it does not parse.
  virtual expected<chat_response, failure>
  parse_response(const http_response& resp) const = 0;

  /// Returns a fresh decoder for one streamed attempt.
  virtual std::unique_ptr<stream_decoder> make_stream_decoder() const = 0;

  /// Classifies a non-2xx response. `now` is needed only to read a
  /// `retry-after` HTTP date.
  virtual failure classify(const http_response& resp, wall_time now) const = 0;
};

/// Returns the (stateless, shared) adapter for a wire format.
const adapter& adapter_for(provider_kind kind);

/// Reads the server's wait hint: `retry-after-ms`, `x-ms-retry-after-ms`,
/// `retry-after` as seconds (fractions allowed) or as an HTTP date.
std::optional<timespan> parse_retry_after(const header_list& headers,
                                          wall_time now);

/// Reads `x-should-retry: true|false`.
std::optional<bool> parse_should_retry(const header_list& headers);

/// Reads OpenAI's `x-ratelimit-*` and Anthropic's `anthropic-ratelimit-*`
/// headers.
rate_limit_snapshot parse_rate_limit_headers(const header_list& headers,
                                             wall_time now);

} // namespace switchyard
