#include "transfer.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <new>
#include <utility>

namespace switchyard::transport_detail {

namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty()
         && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'
             || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty()
         && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'
             || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

/// Reads the field at the front of a `response_fields` buffer and drops it.
std::pair<std::string_view, std::string_view>
pop_field(std::string_view& packed) noexcept {
  uint32_t sizes[2] = {};
  std::memcpy(sizes, packed.data(), sizeof(sizes));
  packed.remove_prefix(sizeof(sizes));
  auto name = packed.substr(0, sizes[0]);
  auto value = packed.substr(sizes[0], sizes[1]);
  packed.remove_prefix(sizes[0] + sizes[1]);
  return {name, value};
}

} // namespace

void request_header_list::assign(const header_list& headers) {
  constexpr std::string_view expect = "Expect:";
  auto count = headers.size() + 1;
  auto chars = expect.size() + 1;
  for (const auto& h : headers)
    chars += h.name.size() + (h.value.empty() ? 1 : 2 + h.value.size()) + 1;
  auto nodes_bytes = count * sizeof(curl_slist);
  block_ = std::make_unique_for_overwrite<std::byte[]>(nodes_bytes + chars);
  auto* base = block_.get();
  auto* text = reinterpret_cast<char*>(base + nodes_bytes);
  auto put = [&text](std::string_view s) {
    text = std::copy(s.begin(), s.end(), text);
  };
  for (size_t i = 0; i < count; ++i) {
    auto* line = text;
    if (i < headers.size()) {
      const auto& h = headers[i];
      put(h.name);
      // libcurl drops "Name:" (no value); "Name;" sends an empty value.
      if (h.value.empty()) {
        put(";");
      } else {
        put(": ");
        put(h.value);
      }
    } else {
      put(expect);
    }
    *text++ = '\0';
    auto* next = i + 1 < count ? reinterpret_cast<curl_slist*>(
                     base + (i + 1) * sizeof(curl_slist))
                               : nullptr;
    ::new (static_cast<void*>(base + i * sizeof(curl_slist)))
        curl_slist{line, next};
  }
}

void response_fields::add(std::string_view name, std::string_view value) {
  uint32_t sizes[2] = {static_cast<uint32_t>(name.size()),
                       static_cast<uint32_t>(value.size())};
  packed_.append(reinterpret_cast<const char*>(sizes), sizeof(sizes));
  packed_.append(name);
  packed_.append(value);
}

header_list response_fields::to_list() const {
  size_t count = 0;
  for (std::string_view rest = packed_; !rest.empty(); pop_field(rest))
    ++count;
  header_list out;
  out.reserve(count);
  for (std::string_view rest = packed_; !rest.empty();) {
    auto [name, value] = pop_field(rest);
    out.push_back(header{std::string{name}, std::string{value}});
  }
  return out;
}

transfer::~transfer() {
  if (easy != nullptr)
    curl_easy_cleanup(easy);
}

void transfer::reset() noexcept {
  id = 0;
  ++generation;
  stream = false;
  timeouts = transfer_timeouts{};
  request_body = std::string{};
  request_headers.clear();
  sink.reset();
  response = http_response{};
  fields.clear(); // the buffer stays for the next job of this handle
  body_bytes = 0;
  timer_due = time_point::max();
  added = false;
  head_done = false;
  first_byte_seen = false;
  too_large = false;
  error_buffer[0] = '\0';
}

header_line_kind apply_header_line(transfer& t, std::string_view line) {
  if (t.head_done)
    return header_line_kind::ignored; // trailers
  if (line.starts_with("HTTP/")) {
    t.response.status = 0;
    t.fields.clear();
    auto sp = line.find(' ');
    if (sp != std::string_view::npos) {
      auto rest = line.substr(sp + 1);
      int status = 0;
      auto [ptr, ec]
          = std::from_chars(rest.data(), rest.data() + rest.size(), status);
      if (ec == std::errc{})
        t.response.status = status;
    }
    return header_line_kind::status_line;
  }
  auto content = trim(line);
  if (content.empty()) {
    // 1xx heads (100-continue, 103 early hints) are followed by the real one.
    if (t.response.status >= 100 && t.response.status < 200)
      return header_line_kind::end_of_interim_head;
    t.head_done = true;
    return header_line_kind::end_of_head;
  }
  auto colon = content.find(':');
  if (colon == std::string_view::npos || colon == 0)
    return header_line_kind::ignored;
  t.fields.add(trim(content.substr(0, colon)), trim(content.substr(colon + 1)));
  return header_line_kind::field;
}

transport_error map_curl_code(CURLcode rc, CURL* easy) noexcept {
  switch (rc) {
    case CURLE_OK:
      return transport_error::none;
    case CURLE_COULDNT_CONNECT:
      return transport_error::connect_failed;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return transport_error::dns;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
      return transport_error::tls;
    case CURLE_OPERATION_TIMEDOUT: {
      // Only the connect timeout is libcurl's; the others are the loop's.
      curl_off_t connect_us = 0;
      curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME_T, &connect_us);
      return connect_us == 0 ? transport_error::connect_timeout
                             : transport_error::total_timeout;
    }
    case CURLE_FILESIZE_EXCEEDED:
      return transport_error::too_large;
    case CURLE_SEND_ERROR:
    case CURLE_READ_ERROR:
      return transport_error::send_failed;
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
      return transport_error::recv_failed;
    case CURLE_ABORTED_BY_CALLBACK:
      return transport_error::cancelled;
    default:
      return transport_error::other;
  }
}

} // namespace switchyard::transport_detail
