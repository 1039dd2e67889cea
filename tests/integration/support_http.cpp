#include "integration/support_http.hpp"

#include <algorithm>
#include <cctype>
#include <memory>

#include <curl/curl.h>

namespace switchyard::test {

namespace {

struct transfer {
  http_result result;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<transfer*>(user);
  t->result.body.append(data, size * count);
  return size * count;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<transfer*>(user);
  std::string_view line{data, size * count};
  if (line.rfind("HTTP/", 0) == 0) {
    t->result.headers.clear(); // a new response (e.g. after 100-continue)
    return size * count;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos)
    return size * count;
  std::string name{line.substr(0, colon)};
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  auto value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
    value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n'))
    value.remove_suffix(1);
  t->result.headers.emplace_back(std::move(name), std::string{value});
  return size * count;
}

http_result perform(const std::string& url, const std::string* body,
                    const http_headers& headers,
                    std::chrono::milliseconds timeout) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl{curl_easy_init(),
                                                           curl_easy_cleanup};
  transfer t;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_slist* list = nullptr;
  bool has_content_type = false;
  for (const auto& [k, v] : headers) {
    auto line = k + ": " + v;
    list = curl_slist_append(list, line.c_str());
    std::string lower = k;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    has_content_type = has_content_type || lower == "content-type";
  }
  if (body != nullptr && !has_content_type)
    list = curl_slist_append(list, "Content-Type: application/json");
  list = curl_slist_append(list, "Expect:");
  auto* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  if (body != nullptr) {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body->size()));
  }
  auto rc = curl_easy_perform(h);
  t.result.curl_code = static_cast<int>(rc);
  if (rc != CURLE_OK)
    t.result.error = errbuf[0] != 0 ? errbuf : curl_easy_strerror(rc);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &t.result.status);
  curl_off_t total_us = 0;
  curl_off_t first_us = 0;
  curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &total_us);
  curl_easy_getinfo(h, CURLINFO_STARTTRANSFER_TIME_T, &first_us);
  t.result.elapsed = std::chrono::milliseconds{total_us / 1000};
  t.result.first_byte = std::chrono::milliseconds{first_us / 1000};
  curl_slist_free_all(list);
  return std::move(t.result);
}

} // namespace

bool http_result::timed_out() const noexcept {
  return curl_code == CURLE_OPERATION_TIMEDOUT;
}

std::optional<std::string> http_result::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name)
      return v;
  return std::nullopt;
}

http_result http_get(const std::string& url, std::chrono::milliseconds timeout,
                     const http_headers& headers) {
  return perform(url, nullptr, headers, timeout);
}

http_result http_post(const std::string& url, const std::string& body,
                      const http_headers& headers,
                      std::chrono::milliseconds timeout) {
  return perform(url, &body, headers, timeout);
}

} // namespace switchyard::test
