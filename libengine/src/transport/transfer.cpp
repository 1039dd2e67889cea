#include "transfer.hpp"

#include <charconv>

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

} // namespace

transfer::~transfer() {
  if (request_headers != nullptr)
    curl_slist_free_all(request_headers);
  if (easy != nullptr)
    curl_easy_cleanup(easy);
}

void transfer::reset() noexcept {
  if (request_headers != nullptr) {
    curl_slist_free_all(request_headers);
    request_headers = nullptr;
  }
  id = 0;
  ++generation;
  job = http_job{};
  sink.reset();
  response.status = 0;
  response.headers.clear();
  response.body.clear();
  body_bytes = 0;
  max_body_bytes = 0;
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
    t.response.headers.clear();
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
  t.response.headers.push_back(
      header{std::string{trim(content.substr(0, colon))},
             std::string{trim(content.substr(colon + 1))}});
  return header_line_kind::field;
}

curl_slist* make_header_list(const header_list& headers) {
  curl_slist* list = nullptr;
  std::string line;
  for (const auto& h : headers) {
    line.clear();
    line += h.name;
    // libcurl drops "Name:" (no value); "Name;" sends an empty value.
    if (h.value.empty()) {
      line += ';';
    } else {
      line += ": ";
      line += h.value;
    }
    if (auto* next = curl_slist_append(list, line.c_str()); next != nullptr)
      list = next;
  }
  if (auto* next = curl_slist_append(list, "Expect:"); next != nullptr)
    list = next;
  return list;
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
