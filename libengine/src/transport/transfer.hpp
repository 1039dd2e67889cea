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

/// The request header lines in the form libcurl reads them
/// (CURLOPT_HTTPHEADER, which it does not copy), in one allocation: the list
/// nodes, then the NUL-terminated lines they point to. Replaces one node and
/// one copied line per header (curl_slist_append).
class request_header_list {
public:
  request_header_list() = default;
  request_header_list(const request_header_list&) = delete;
  request_header_list& operator=(const request_header_list&) = delete;

  /// Builds the list of `headers` plus `Expect:` (skips 100-continue).
  void assign(const header_list& headers);

  /// The list for CURLOPT_HTTPHEADER; null while empty.
  curl_slist* get() const noexcept {
    return reinterpret_cast<curl_slist*>(block_.get());
  }

  /// Frees the list.
  void clear() noexcept {
    block_.reset();
  }

private:
  std::unique_ptr<std::byte[]> block_;
};

/// The fields of a response head as they arrive, packed into one buffer
/// (lengths, then bytes) while the transfer runs: a `header_list` costs a
/// 64-byte slot and up to two allocations per field.
class response_fields {
public:
  /// Appends one field.
  void add(std::string_view name, std::string_view value);

  /// Drops the fields (a new head starts), keeping the buffer.
  void clear() noexcept {
    packed_.clear();
  }

  /// Frees the buffer.
  void release() noexcept {
    packed_ = std::string{};
  }

  /// Gives back the room reserved for more fields (the head is complete).
  void shrink() {
    packed_.shrink_to_fit();
  }

  /// The fields in arrival order.
  header_list to_list() const;

private:
  std::string packed_;
};

/// One transfer: an easy handle plus everything the callbacks touch. Pooled
/// and reused; `generation` tells a stale timer entry from a live one. Of
/// its job it keeps only what the running transfer reads (libcurl copies the
/// URL and the method).
struct transfer {
  // -- owned resources, kept across reuse ------------------------------------

  CURL* easy = nullptr;
  /// Opaque pointer back to the loop, for the callbacks.
  void* loop = nullptr;
  char error_buffer[CURL_ERROR_SIZE] = {};
  /// The easy handle last ran a stream, with its small receive buffer
  /// (see `transport::impl::start`).
  bool small_buffer = false;

  // -- per job ---------------------------------------------------------------

  uint64_t id = 0;
  uint32_t generation = 0;
  bool stream = false;
  bool added = false;
  bool head_done = false;
  bool first_byte_seen = false;
  bool too_large = false;
  transfer_timeouts timeouts;
  /// Read in place by libcurl (CURLOPT_POSTFIELDS), possibly more than once
  /// (a request retried on a fresh connection): kept until the end.
  std::string request_body;
  request_header_list request_headers;
  std::shared_ptr<transfer_sink> sink;
  /// The response as it arrives: status and body (unless streamed); its
  /// headers are in `fields` until the transfer ends.
  http_response response;
  response_fields fields;
  size_t body_bytes = 0;
  time_point submitted;
  time_point last_activity;
  /// Due time of this transfer's newest entry in the loop's timer heap.
  time_point timer_due = time_point::max();

  transfer() = default;
  transfer(const transfer&) = delete;
  transfer& operator=(const transfer&) = delete;
  ~transfer();

  /// True when the body goes to the sink as chunks (a 2xx stream).
  bool chunked_delivery() const noexcept {
    return stream && response.status >= 200 && response.status < 300;
  }

  /// Drops the job's data and bumps the generation, keeping the easy handle
  /// (with its options) and the response fields' buffer.
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
/// `t.response` and `t.fields`: a status line starts over (1xx, redirects), a
/// blank line ends the head of a final response, lines after it (trailers) are
/// ignored.
header_line_kind apply_header_line(transfer& t, std::string_view line);

/// Maps a finished transfer's libcurl result to a transport error.
transport_error map_curl_code(CURLcode rc, CURL* easy) noexcept;

} // namespace switchyard::transport_detail
