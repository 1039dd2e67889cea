// libFuzzer target for the header parsers: Retry-After (seconds, fractions,
// HTTP dates, retry-after-ms), x-should-retry and the OpenAI / Anthropic
// rate-limit headers. Input: header lines `name: value`, separated by
// newlines. Invariant: no crash, no sanitizer report, no negative wait.
#include "switchyard/adapter.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

using namespace switchyard;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_headers: %s\n", what);
  std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in{reinterpret_cast<const char*>(data), size};
  header_list headers;
  while (!in.empty()) {
    auto nl = in.find('\n');
    auto line = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
    auto colon = line.find(':');
    if (colon == std::string_view::npos)
      continue;
    auto value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ')
      value.remove_prefix(1);
    headers.push_back({std::string{line.substr(0, colon)}, std::string{value}});
  }
  // A fixed "now", so that a crash reproduces from its input alone.
  auto now
      = std::chrono::system_clock::time_point{std::chrono::seconds{1780000000}};
  if (auto wait = parse_retry_after(headers, now); wait && wait->count() < 0)
    fail("negative retry-after");
  (void)parse_should_retry(headers);
  auto rl = parse_rate_limit_headers(headers, now);
  (void)rl;
  return 0;
}
