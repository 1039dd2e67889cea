#pragma once

#include "switchyard/time.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

/// One HTTP header field.
struct header {
  std::string name;
  std::string value;
};

/// Header fields in wire order; names compare case-insensitively.
using header_list = std::vector<header>;

/// Returns the value of the first header named `name` (any case).
std::optional<std::string_view> find_header(const header_list& headers,
                                            std::string_view name) noexcept;

/// An outgoing HTTP request, fully built by an adapter.
struct http_request {
  std::string method = "POST";
  std::string url;
  header_list headers;
  std::string body;
};

/// A complete HTTP response (for streams: status and headers, body empty).
struct http_response {
  int status = 0;
  header_list headers;
  std::string body;
};

/// What a provider's rate-limit headers said about the remaining budget.
struct rate_limit_snapshot {
  std::optional<int64_t> remaining_requests;
  std::optional<int64_t> remaining_tokens;
  std::optional<int64_t> limit_requests;
  std::optional<int64_t> limit_tokens;
  /// Time until the request / token budget resets, relative to receipt.
  std::optional<timespan> reset_requests;
  std::optional<timespan> reset_tokens;
};

} // namespace switchyard
