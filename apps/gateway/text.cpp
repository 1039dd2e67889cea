#include "text.hpp"

#include <atomic>
#include <charconv>
#include <chrono>
#include <random>

namespace switchyard::gateway {

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  out.reserve(out.size() + text.size() + 2);
  out += '"';
  size_t run = 0; // start of the pending run of plain bytes
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    out.append(text.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 0xf];
    }
  }
  out.append(text.data() + run, text.size() - run);
  out += '"';
}

void append_int(std::string& out, int64_t value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, end);
}

std::string make_id(std::string_view prefix) {
  // A per-process random base plus a counter: unique and cheap.
  static const uint64_t base = [] {
    std::random_device rd;
    return (uint64_t{rd()} << 32) ^ rd();
  }();
  static std::atomic<uint64_t> counter{0};
  uint64_t a = base;
  uint64_t b
      = counter.fetch_add(1, std::memory_order_relaxed) * 0x9e3779b97f4a7c15ULL;
  static constexpr char hex[] = "0123456789abcdef";
  std::string out{prefix};
  for (int i = 0; i < 12; ++i)
    out += hex[(a >> (i * 4)) & 0xf];
  for (int i = 0; i < 12; ++i)
    out += hex[(b >> (60 - i * 4)) & 0xf];
  return out;
}

bool same_key(std::string_view a, std::string_view b) noexcept {
  // Walks the whole candidate whatever matches, so timing tells nothing
  // about how much of a key was right.
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i])
            ^ static_cast<unsigned char>(b.empty() ? 0 : b[i % b.size()]);
  return diff == 0;
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace switchyard::gateway
