#pragma once

// The pure parts of streaming: decoding one attempt's byte stream into
// neutral events and judging how it ended, and joining a fallback's
// continuation to a partial answer. No actors, no clock.

#include "switchyard/error.hpp"
#include "switchyard/model.hpp"
#include "switchyard/sse.hpp"
#include "switchyard/time.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

class adapter;
class stream_decoder;
struct http_response;
enum class provider_kind : uint8_t;

// -- continuation -------------------------------------------------------------

/// How a `continue` fallback asks a provider to go on with a partial answer.
enum class continuation_style : uint8_t {
  /// The partial answer is sent as the last (assistant) message and the
  /// provider continues it (Anthropic, most OpenAI-compatible servers).
  prefill,
  /// The partial answer is sent as an assistant message followed by a user
  /// message asking to continue exactly where it stopped.
  instruction,
};

/// Returns the config name of a style ("prefill", "instruction").
std::string_view to_string(continuation_style s) noexcept;

/// Parses a config name of a style.
std::optional<continuation_style>
parse_continuation_style(std::string_view name) noexcept;

/// The style a wire format supports best: `prefill` for anthropic_messages
/// and openai_compatible, `instruction` for the others.
continuation_style default_continuation(provider_kind kind) noexcept;

/// The user message that `instruction` appends.
extern const std::string_view continuation_instruction;

/// Builds the request that asks a fallback to continue `partial`: the
/// original request with `partial` appended as an assistant message (and,
/// for `instruction`, then the instruction as a user message). Every other
/// field of `original` is kept. An empty `partial` returns `original`.
chat_request make_continuation(const chat_request& original,
                               std::string_view partial,
                               continuation_style style);

/// Joins a continuation to text the caller already has, dropping what the
/// continuation repeats at the seam: the longest suffix of the delivered text
/// (at least `min_overlap` and at most `window` bytes) that the continuation
/// starts with. Text is held back only until that can be decided.
class seam_joiner {
public:
  /// `delivered` is the text the caller has (only its last `window` bytes
  /// matter).
  explicit seam_joiner(std::string_view delivered, size_t window = 256,
                       size_t min_overlap = 8);

  /// Feeds a piece of the continuation; returns the text to deliver now
  /// (empty while the seam is still undecided).
  std::string feed(std::string_view piece);

  /// The continuation ended: returns what is still held back, with the
  /// overlap removed.
  std::string flush();

  /// True once the seam is decided and text passes straight through.
  bool decided() const noexcept {
    return decided_;
  }

  /// Bytes of the continuation dropped as overlap (valid once decided).
  size_t dropped() const noexcept {
    return dropped_;
  }

private:
  std::string decide();

  std::string tail_;
  std::string held_;
  size_t min_overlap_;
  size_t dropped_ = 0;
  bool decided_ = false;
};

// -- one streamed attempt -----------------------------------------------------

/// How a streamed attempt ended.
struct stream_verdict {
  /// Set when the attempt failed: transport error, non-2xx status, an
  /// in-stream error event, an event that does not parse, no terminal
  /// marker, or no content at all.
  std::optional<switchyard::failure> failure;
  /// True when the attempt produced any text or tool-call content.
  bool produced_content = false;
  /// Content events produced (a broken stream's only usage estimate).
  uint32_t content_events = 0;
  /// The HTTP status (0 when none arrived).
  int status = 0;
  /// The transfer may still run: the verdict came from an in-stream error
  /// before the transfer ended, so the caller should cancel it.
  bool transfer_open = false;
  /// From the provider's final events (success only).
  finish_reason finish = finish_reason::unknown;
  std::string finish_raw;
  std::optional<switchyard::usage> usage;
};

/// Decodes one streamed attempt: SSE parsing plus the adapter's decoder.
/// Forwards content and the start event; keeps the end event for the
/// verdict. Not thread-safe: one attempt, one thread (the transport's).
class stream_attempt {
public:
  /// `content_required`: an attempt that ends cleanly without content
  /// fails (`stream_empty`); false for a continuation, whose empty answer
  /// means the partial answer was already complete.
  explicit stream_attempt(const adapter& codec, bool content_required = true);
  ~stream_attempt();

  stream_attempt(const stream_attempt&) = delete;
  stream_attempt& operator=(const stream_attempt&) = delete;

  /// Feeds body bytes; appends `stream_start`, `text_delta` and
  /// `tool_call_delta` events to `out`. Returns the failure of an in-stream
  /// error or an undecodable event (the attempt is then over; later bytes
  /// are ignored).
  std::optional<failure> feed(std::string_view bytes,
                              std::vector<stream_event>& out);

  /// Judges the attempt once its transfer ended. `transport_failure` is the
  /// classified transport error, if any; `resp` holds the status, headers
  /// and (for a non-2xx status) the error body; `now` reads retry-after
  /// dates.
  stream_verdict finish(std::optional<failure> transport_failure,
                        const http_response& resp, wall_time now);

  /// True once any text or tool-call content was produced.
  bool produced_content() const noexcept;

  /// True once the provider's terminal marker was seen.
  bool terminated() const noexcept;

private:
  const adapter* codec_;
  sse_parser parser_;
  std::unique_ptr<stream_decoder> decoder_;
  std::vector<sse_event> events_;
  /// Out of line: a stream holds each only at its end, and a stream's state
  /// stays small while it runs.
  std::unique_ptr<failure> failed_;
  std::unique_ptr<stream_end> end_;
  uint32_t content_events_ = 0;
  bool content_required_;
};

} // namespace switchyard
