#pragma once

// Private to the transport: the state of one transfer on the loop thread, and
// the pieces of libcurl glue that do not need the loop.

#include "switchyard/http.hpp"
#include "switchyard/time.hpp"
#include "switchyard/transport.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <curl/curl.h>

namespace switchyard::transport_detail {

/// One transfer: an easy handle plus everything the callbacks touch. Pooled
/// and reused; `generation` tells a stale timer entry from a live one.
struct transfer {
  // -- owned resources, kept across reuse ------------------------------------

  CURL* easy = nullptr;
  curl_slist* request_headers = nullptr;
  /// Opaque pointer back to the loop, for the callbacks.
  void* loop = nullptr;
  char error_buffer[CURL_ERROR_SIZE] = {};

  // -- per job ---------------------------------------------------------------

  uint64_t id = 0;
  uint32_t generation = 0;
  http_job job;
  std::shared_ptr<transfer_sink> sink;
  /// The response as it arrives (status, headers; body unless streamed).
  http_response response;
  size_t body_bytes = 0;
  size_t max_body_bytes = 0;
  time_point submitted;
  time_point last_activity;
  /// Due time of this transfer's newest entry in the loop's timer heap.
  time_point timer_due = time_point::max();
  bool added = false;
  bool head_done = false;
  bool first_byte_seen = false;
  bool too_large = false;

  transfer() = default;
  transfer(const transfer&) = delete;
  transfer& operator=(const transfer&) = delete;
  ~transfer();

  /// True when the body goes to the sink as chunks (a 2xx stream).
  bool chunked_delivery() const noexcept {
    return job.stream && response.status >= 200 && response.status < 300;
  }

  /// Drops the job's data and bumps the generation, keeping the easy handle.
  void reset() noexcept;
};

/// What one header line did to the response.
enum class header_line_kind {
  status_line,
  field,
  end_of_interim_head,
  end_of_head,
  ignored,
};

/// Applies one raw header line (as libcurl's header callback passes it) to
/// `t.response`: a status line starts over (1xx, redirects), a blank line
/// ends the head of a final response, lines after it (trailers) are ignored.
header_line_kind apply_header_line(transfer& t, std::string_view line);

/// Builds the request header list (plus `Expect:` to skip 100-continue).
curl_slist* make_header_list(const header_list& headers);

/// Maps a finished transfer's libcurl result to a transport error.
transport_error map_curl_code(CURLcode rc, CURL* easy) noexcept;

} // namespace switchyard::transport_detail
