#include "switchyard/sse.hpp"

#include <cstring>
#include <limits>

namespace switchyard {

namespace {

constexpr char bom[] = "\xEF\xBB\xBF";
constexpr uint8_t bom_size = 3;

/// The first `c` in [first, last), or `last`.
const char* find_byte(const char* first, const char* last, char c) noexcept {
  auto n = static_cast<size_t>(last - first);
  if (n == 0)
    return last;
  auto* hit = std::memchr(first, c, n);
  return hit != nullptr ? static_cast<const char*>(hit) : last;
}

/// Parses a `retry` value: one or more ASCII digits, fitting in int64_t.
std::optional<int64_t> parse_retry(std::string_view value) noexcept {
  if (value.empty())
    return std::nullopt;
  constexpr auto max = std::numeric_limits<int64_t>::max();
  int64_t result = 0;
  for (char c : value) {
    if (c < '0' || c > '9')
      return std::nullopt;
    auto digit = static_cast<int64_t>(c - '0');
    if (result > (max - digit) / 10)
      return std::nullopt;
    result = result * 10 + digit;
  }
  return result;
}

} // namespace

void sse_parser::feed(std::string_view bytes, std::vector<sse_event>& out) {
  if (!bom_done_) {
    // Match a leading BOM, which may arrive split across feeds.
    size_t i = 0;
    while (bom_matched_ < bom_size && i < bytes.size()
           && bytes[i] == bom[bom_matched_]) {
      ++bom_matched_;
      ++i;
    }
    if (bom_matched_ == bom_size) {
      bom_done_ = true;
      bom_matched_ = 0;
      bytes.remove_prefix(i);
    } else if (i < bytes.size()) {
      // Not a BOM after all: the bytes matched so far are ordinary input.
      bom_done_ = true;
      auto matched = bom_matched_;
      bom_matched_ = 0;
      consume(std::string_view{bom, matched}, out);
      bytes.remove_prefix(i);
    } else {
      return; // all bytes so far may still be the start of a BOM
    }
  }
  consume(bytes, out);
}

bool sse_parser::has_pending() const noexcept {
  return !line_.empty() || block_has_fields_ || bom_matched_ > 0;
}

void sse_parser::consume(std::string_view bytes, std::vector<sse_event>& out) {
  const char* pos = bytes.data();
  const char* end = pos + bytes.size();
  if (pos == end)
    return;
  if (pending_cr_) {
    pending_cr_ = false;
    if (*pos == '\n')
      ++pos;
  }
  // Next CR and next LF at or after `pos`; each is searched for again only
  // once `pos` passed it, so the whole chunk is scanned at most twice.
  const char* next_lf = find_byte(pos, end, '\n');
  const char* next_cr = find_byte(pos, end, '\r');
  while (pos != end) {
    const char* eol = next_lf < next_cr ? next_lf : next_cr;
    if (eol == end) {
      line_.append(pos, end);
      return;
    }
    if (line_.empty()) {
      process_line(std::string_view{pos, static_cast<size_t>(eol - pos)}, out);
    } else {
      line_.append(pos, eol);
      process_line(line_, out);
      line_.clear();
    }
    if (*eol == '\r') {
      if (eol + 1 == end) {
        pending_cr_ = true;
        return;
      }
      if (eol[1] == '\n')
        ++eol;
    }
    pos = eol + 1;
    if (next_lf < pos)
      next_lf = find_byte(pos, end, '\n');
    if (next_cr < pos)
      next_cr = find_byte(pos, end, '\r');
  }
}

void sse_parser::process_line(std::string_view line,
                              std::vector<sse_event>& out) {
  if (line.empty()) {
    dispatch(out);
    return;
  }
  if (line.front() == ':')
    return; // comment
  block_has_fields_ = true;
  std::string_view name = line;
  std::string_view value;
  if (auto colon = line.find(':'); colon != std::string_view::npos) {
    name = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ')
      value.remove_prefix(1);
  }
  if (name == "data") {
    data_.append(value);
    data_.push_back('\n');
  } else if (name == "event") {
    event_type_.assign(value);
  } else if (name == "id") {
    if (value.find('\0') == std::string_view::npos)
      last_id_.assign(value);
  } else if (name == "retry") {
    if (auto ms = parse_retry(value)) {
      retry_ = ms;
      block_retry_ = ms;
    }
  }
  // Any other field is ignored.
}

void sse_parser::dispatch(std::vector<sse_event>& out) {
  block_has_fields_ = false;
  if (data_.empty()) {
    event_type_.clear();
    block_retry_.reset();
    return;
  }
  data_.pop_back(); // the trailing LF of the last data line
  auto& ev = out.emplace_back();
  if (!event_type_.empty())
    ev.event = event_type_;
  ev.data = std::move(data_);
  ev.id = last_id_;
  ev.retry = block_retry_;
  data_.clear();
  event_type_.clear();
  block_retry_.reset();
}

} // namespace switchyard
