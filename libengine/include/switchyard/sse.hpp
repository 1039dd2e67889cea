#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

/// One dispatched server-sent event (WHATWG HTML, "event stream" section).
struct sse_event {
  /// The event type; "message" when the stream named none.
  std::string event = "message";
  /// The data lines, joined with '\n' (no trailing newline).
  std::string data;
  /// The last event ID in force when this event was dispatched.
  std::string id;
  /// A `retry` field seen in this event's block, in milliseconds.
  std::optional<int64_t> retry;

  friend bool operator==(const sse_event&, const sse_event&) = default;
};

/// Incremental event-stream parser. Input may be split anywhere (inside a
/// CRLF, inside a UTF-8 sequence); the events are the same either way.
class sse_parser {
public:
  /// Feeds bytes; appends every event that became complete to `out`.
  void feed(std::string_view bytes, std::vector<sse_event>& out);

  /// The reconnection time from the last valid `retry` field, if any.
  std::optional<int64_t> reconnection_time() const noexcept {
    return retry_;
  }

  /// True when bytes of an event that was not dispatched yet are buffered
  /// (an unterminated last event is never dispatched).
  bool has_pending() const noexcept;

private:
  void consume(std::string_view bytes, std::vector<sse_event>& out);
  void process_line(std::string_view line, std::vector<sse_event>& out);
  void dispatch(std::vector<sse_event>& out);

  std::string line_;       // partial line carried over between feeds
  std::string event_type_; // event type buffer
  std::string data_;       // data buffer, one trailing LF per data line
  std::string last_id_;    // last event ID buffer; survives dispatch
  std::optional<int64_t> block_retry_; // `retry` of the current block
  std::optional<int64_t> retry_;       // reconnection time
  uint8_t bom_matched_ = 0;            // leading BOM bytes matched so far
  bool bom_done_ = false;              // past the point where a BOM may appear
  bool pending_cr_ = false;       // last byte was CR: a following LF is eaten
  bool block_has_fields_ = false; // a field line since the last blank line
};

} // namespace switchyard
