// libFuzzer target for sse_parser. Input: two bytes that choose where to cut,
// then the stream. Invariant: feeding the stream whole, cut in two, cut in
// three and byte by byte gives the same events, reconnection time and pending
// state; no event holds a line ending where none can be.
#include "switchyard/sse.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using switchyard::sse_event;
using switchyard::sse_parser;

struct outcome {
  std::vector<sse_event> events;
  std::optional<int64_t> retry;
  bool pending = false;

  friend bool operator==(const outcome&, const outcome&) = default;
};

outcome parse_cut(std::string_view input, std::initializer_list<size_t> cuts) {
  sse_parser parser;
  outcome result;
  size_t pos = 0;
  for (auto cut : cuts) {
    parser.feed(input.substr(pos, cut - pos), result.events);
    pos = cut;
  }
  parser.feed(input.substr(pos), result.events);
  result.retry = parser.reconnection_time();
  result.pending = parser.has_pending();
  return result;
}

outcome parse_bytewise(std::string_view input) {
  sse_parser parser;
  outcome result;
  for (size_t i = 0; i < input.size(); ++i)
    parser.feed(input.substr(i, 1), result.events);
  result.retry = parser.reconnection_time();
  result.pending = parser.has_pending();
  return result;
}

[[noreturn]] void fail(const char* what, size_t a, size_t b) {
  std::fprintf(stderr, "fuzz_sse: %s (cuts %zu, %zu)\n", what, a, b);
  std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2)
    return 0;
  auto sel = static_cast<size_t>(data[0]) | static_cast<size_t>(data[1]) << 8;
  std::string_view input{reinterpret_cast<const char*>(data + 2), size - 2};
  auto n = input.size();
  auto cut = sel % (n + 1);
  auto cut2 = cut + (sel >> 3) % (n - cut + 1);
  auto whole = parse_cut(input, {});
  for (auto& ev : whole.events) {
    if (ev.data.find('\r') != std::string::npos
        || ev.event.find_first_of("\r\n") != std::string::npos
        || ev.id.find_first_of(std::string_view{"\r\n\0", 3})
               != std::string::npos
        || ev.event.empty())
      fail("malformed event", cut, cut2);
  }
  if (parse_cut(input, {cut}) != whole)
    fail("one cut differs", cut, cut);
  if (parse_cut(input, {cut, cut2}) != whole)
    fail("two cuts differ", cut, cut2);
  if (n <= 4096 && parse_bytewise(input) != whole)
    fail("byte by byte differs", 0, 0);
  return 0;
}
