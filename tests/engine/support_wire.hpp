#pragma once

#include "switchyard/adapter.hpp"
#include "switchyard/expected.hpp"
#include "switchyard/http.hpp"
#include "switchyard/model.hpp"
#include "switchyard/sse.hpp"
#include "switchyard/time.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace switchyard::test {

/// A `# ` note line inside a body, and where in the body it stood.
struct wire_note {
  size_t offset = 0;
  std::string text;
};

/// The request at the top of a wire sample.
struct wire_request {
  std::string method;
  std::string target;
  header_list headers;
  std::string body;
};

/// One response of a wire sample. JSON bodies lose their trailing blank
/// lines; event-stream bodies keep every byte.
struct wire_response {
  int status = 0;
  header_list headers;
  std::string body;
  /// Notes just before the status line (they describe this response).
  std::vector<std::string> lead_notes;
  /// Notes between body lines, e.g. "Variant: ..." inside a stream.
  std::vector<wire_note> notes;

  /// The response as the transport would deliver it.
  http_response http() const {
    return {status, headers, body};
  }
};

/// A parsed `.http` file of tests/wire (see its README.md).
struct wire_sample {
  std::optional<wire_request> request;
  std::vector<wire_response> responses;
};

/// Parses the text of a wire sample.
expected<wire_sample, std::string> parse_wire(std::string_view text);

/// Loads and parses `name` from SWITCHYARD_WIRE_DIR.
expected<wire_sample, std::string> load_wire(std::string_view name);

/// Runs an event-stream body through `sse_parser` in one piece.
std::vector<sse_event> sse_events(std::string_view body);

/// What a stream decoder made of a whole event-stream body.
struct decoded_stream {
  std::vector<stream_event> events;
  /// The first failure; decoding stops there.
  std::optional<failure> error;
  bool finished = false;
  bool produced_content = false;
};

/// Parses `body` as an event stream and feeds every event to a fresh
/// decoder of `a`.
decoded_stream decode_stream(const adapter& a, std::string_view body);

/// The text of all `text_delta` events, concatenated.
std::string streamed_text(const std::vector<stream_event>& events);

/// Compares a built request with a sample's: method, target (path and
/// query), every sample header but Host, no credentials the sample lacks, and
/// equal JSON bodies. Returns "" when they agree, else what differs.
std::string diff_request(const http_request& got, const wire_request& want);

/// A fixed wall-clock instant for tests: 2026-11-23T10:00:00Z.
wall_time test_now();

/// Returns a plain-text message of role `r`.
message msg(role r, std::string text);

/// Parses the JSON body of a built request.
nlohmann::json body_of(const http_request& req);

} // namespace switchyard::test
