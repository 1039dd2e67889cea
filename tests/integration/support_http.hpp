#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchyard::test {

/// Request headers as (name, value) pairs.
using http_headers = std::vector<std::pair<std::string, std::string>>;

/// What a blocking test request saw. A transfer that failed part-way (reset,
/// timeout) still carries the status, headers and body bytes received.
struct http_result {
  /// The HTTP status, 0 when no status line arrived.
  long status = 0;
  /// Response headers, names lower-cased, in wire order.
  http_headers headers;
  std::string body;
  /// Time from the start to the end of the transfer.
  std::chrono::milliseconds elapsed{0};
  /// Time until the first response byte, as libcurl measured it.
  std::chrono::milliseconds first_byte{0};
  /// The libcurl result code (0 = CURLE_OK, 7 = refused, 28 = timeout).
  int curl_code = 0;
  /// libcurl's error text; empty on success.
  std::string error;

  /// True when the transfer completed without a transport error.
  bool ok() const noexcept {
    return curl_code == 0;
  }

  /// True when the request hit its timeout.
  bool timed_out() const noexcept;

  /// The first header named `name` (lower-case), if any.
  std::optional<std::string> header(std::string_view name) const;
};

/// GET `url`, blocking until done or `timeout`.
http_result http_get(const std::string& url,
                     std::chrono::milliseconds timeout
                     = std::chrono::seconds{10},
                     const http_headers& headers = {});

/// POST `body` (JSON unless a content-type header says otherwise).
http_result http_post(const std::string& url, const std::string& body,
                      const http_headers& headers = {},
                      std::chrono::milliseconds timeout
                      = std::chrono::seconds{10});

} // namespace switchyard::test
