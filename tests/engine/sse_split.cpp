// Property: however the input is split into feeds, the parser sees the same
// events, the same reconnection time and the same pending state.
#define CAF_SUITE sse_split
#include "engine/sse_samples.hpp"
#include "switchyard/sse.hpp"

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using switchyard::test::all_sse_samples;
using switchyard::test::parse_sse;
using switchyard::test::sse_sample;

namespace {

/// What a parser shows after some input.
struct outcome {
  std::vector<sse_event> events;
  std::optional<int64_t> retry;
  bool pending = false;

  friend bool operator==(const outcome&, const outcome&) = default;
};

/// Feeds `input` in pieces ending at each of `cuts` (ascending), then the
/// rest.
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

/// Feeds `input` in pieces of `sizes`, cycling through them.
outcome parse_chunked(std::string_view input,
                      const std::vector<size_t>& sizes) {
  sse_parser parser;
  outcome result;
  size_t i = 0;
  while (!input.empty()) {
    auto n = std::min(sizes[i++ % sizes.size()], input.size());
    parser.feed(input.substr(0, n), result.events);
    input.remove_prefix(n);
  }
  result.retry = parser.reconnection_time();
  result.pending = parser.has_pending();
  return result;
}

/// The sample named `name`; fails the test if there is none.
sse_sample sample(const std::string& name) {
  for (auto& s : all_sse_samples())
    if (s.name == name)
      return s;
  CAF_FAIL("no sample named " << name);
}

/// Pairs of cuts are cubic in the input size: only for short samples.
constexpr size_t max_pair_size = 400;

} // namespace

CAF_TEST(the samples are what the property needs) {
  auto samples = all_sse_samples();
  // 4 wire bodies and 3 handwritten ones, each in 4 variants.
  CAF_CHECK_EQUAL(samples.size(), 28u);
  for (auto& s : samples) {
    CAF_MESSAGE("sample " << s.name << ": " << s.body.size() << " bytes");
    CAF_CHECK(!parse_sse(s.body).empty());
  }
  auto utf8 = parse_sse(sample("utf8").body);
  CAF_REQUIRE(!utf8.empty());
  CAF_CHECK_EQUAL(utf8[0].data,
                  "h\xC3\xA9llo \xE2\x80\x94 \xE4\xB8\x96\xE7\x95\x8C "
                  "\xF0\x9F\x99\x82");
  CAF_CHECK(sample("fields").body.ends_with("unterminated"));
}

CAF_TEST(line ending variants and a BOM give the same events) {
  auto samples = all_sse_samples();
  for (auto& s : samples) {
    if (s.name.find('/') != std::string::npos)
      continue;
    auto expected = parse_cut(s.body, {});
    for (auto variant : {"/crlf", "/cr", "/bom"}) {
      auto other = sample(s.name + variant);
      CAF_CHECK_NOT_EQUAL(other.body, s.body);
      if (parse_cut(other.body, {}) != expected)
        CAF_FAIL(other.name << " differs from " << s.name);
    }
  }
}

CAF_TEST(every split position gives the same outcome) {
  for (auto& s : all_sse_samples()) {
    auto expected = parse_cut(s.body, {});
    size_t failures = 0;
    for (size_t i = 0; i <= s.body.size(); ++i)
      if (parse_cut(s.body, {i}) != expected) {
        if (failures++ == 0)
          CAF_ERROR(s.name << ": split at " << i << " differs");
      }
    CAF_CHECK_EQUAL(failures, 0u);
  }
}

CAF_TEST(every pair of split positions gives the same outcome) {
  size_t tested = 0;
  for (auto& s : all_sse_samples()) {
    if (s.body.size() > max_pair_size)
      continue;
    ++tested;
    auto expected = parse_cut(s.body, {});
    size_t failures = 0;
    for (size_t i = 0; i <= s.body.size(); ++i)
      for (size_t j = i; j <= s.body.size(); ++j)
        if (parse_cut(s.body, {i, j}) != expected) {
          if (failures++ == 0)
            CAF_ERROR(s.name << ": splits at " << i << ", " << j << " differ");
        }
    CAF_CHECK_EQUAL(failures, 0u);
  }
  // The short samples: anthropic's error variant and the handwritten ones,
  // each in 4 variants.
  CAF_CHECK_EQUAL(tested, 16u);
}

CAF_TEST(byte by byte and odd chunk sizes give the same outcome) {
  for (auto& s : all_sse_samples()) {
    auto expected = parse_cut(s.body, {});
    for (auto& sizes : std::vector<std::vector<size_t>>{
             {1}, {2}, {3}, {7}, {1, 2}, {2, 1, 5}, {64}, {13, 1, 1, 29}})
      if (parse_chunked(s.body, sizes) != expected)
        CAF_ERROR(s.name << ": chunks of " << sizes[0] << "... differ");
  }
}

CAF_TEST(the outcome of a split includes pending state) {
  // Guards the property against a comparison that ignores the tail.
  auto s = sample("fields");
  auto whole = parse_cut(s.body, {});
  CAF_CHECK(whole.pending);
  CAF_CHECK_EQUAL(whole.retry, std::optional<int64_t>{2500});
  auto cut = parse_cut(s.body.substr(0, s.body.find("data: unterminated")), {});
  CAF_CHECK(!cut.pending);
  CAF_CHECK(cut.events == whole.events);
  CAF_CHECK(cut != whole);
}
