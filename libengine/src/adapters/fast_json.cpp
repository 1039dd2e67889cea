#include "fast_json.hpp"

#include <algorithm>
#include <cstring>
#include <memory>

namespace switchyard::wire::fast::detail {

namespace {

/// Documents above this size get a parser of their own, freed afterwards,
/// so that one huge answer does not pin its memory to a thread for good.
constexpr size_t large_document = size_t{1} << 20;

/// A thread's parser and the padded buffer simdjson reads from.
struct reader {
  simdjson::dom::parser parser;
  std::unique_ptr<char[]> buf;
  size_t capacity = 0;
};

thread_local std::unique_ptr<reader> current;

} // namespace

bool parse(std::string_view text, element& out) {
  if (!current)
    current = std::make_unique<reader>();
  auto& rd = *current;
  auto need = text.size() + simdjson::SIMDJSON_PADDING;
  if (rd.capacity < need) {
    rd.capacity = std::max(need, size_t{4096});
    rd.buf = std::make_unique<char[]>(rd.capacity);
  }
  std::memcpy(rd.buf.get(), text.data(), text.size());
  std::memset(rd.buf.get() + text.size(), 0, simdjson::SIMDJSON_PADDING);
  return !rd.parser.parse(rd.buf.get(), text.size(), false).get(out);
}

void release_after(size_t size) {
  if (size > large_document)
    current.reset();
}

} // namespace switchyard::wire::fast::detail
