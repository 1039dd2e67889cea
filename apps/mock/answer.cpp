#include "answer.hpp"

#include <algorithm>
#include <array>

namespace switchyard::mock {

namespace {

// The vocabulary of every answer; changing it changes every answer.
constexpr std::array<std::string_view, 64> vocabulary = {
    "amber",  "basalt",  "cedar",   "delta",   "ember",   "fjord",   "garnet",
    "harbor", "iris",    "juniper", "kestrel", "lagoon",  "meadow",  "nectar",
    "onyx",   "prairie", "quartz",  "river",   "saffron", "tundra",  "umber",
    "valley", "willow",  "xenon",   "yarrow",  "zephyr",  "anchor",  "beacon",
    "canyon", "dune",    "estuary", "falcon",  "glacier", "heron",   "island",
    "jasper", "kelp",    "lantern", "marble",  "nimbus",  "orchard", "pebble",
    "quill",  "reef",    "summit",  "thistle", "upland",  "vessel",  "wharf",
    "yonder", "zenith",  "aurora",  "bramble", "comet",   "drift",   "echo",
    "fern",   "grove",   "hollow",  "inlet",   "jetty",   "knoll",   "lichen",
    "mesa",
};

constexpr bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
         || c == '\v';
}

// SplitMix64 finalizer: spreads one hash into a sequence of word indexes.
constexpr uint64_t mix(uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

} // namespace

int64_t count_words(std::string_view text) noexcept {
  int64_t result = 0;
  bool in_word = false;
  for (char c : text) {
    if (is_space(c)) {
      in_word = false;
    } else if (!in_word) {
      in_word = true;
      ++result;
    }
  }
  return result;
}

std::string answer_text(uint64_t seed, std::string_view model,
                        const std::vector<message>& messages, int64_t words) {
  char seed_bytes[8];
  for (int i = 0; i < 8; ++i)
    seed_bytes[i] = static_cast<char>((seed >> (8 * i)) & 0xff);
  auto h = fnv1a({seed_bytes, 8});
  h = fnv1a(model, h);
  for (const auto& msg : messages) {
    h = fnv1a({"\x1f", 1}, h);
    h = fnv1a(msg.role, h);
    h = fnv1a({"\x1e", 1}, h);
    h = fnv1a(msg.text, h);
  }
  std::string result;
  result.reserve(static_cast<size_t>(words) * 8);
  for (int64_t i = 0; i < words; ++i) {
    if (i > 0)
      result += ' ';
    result += vocabulary[mix(h + static_cast<uint64_t>(i)) % vocabulary.size()];
  }
  return result;
}

answer make_answer(uint64_t seed, std::string_view model,
                   const std::vector<message>& messages, int64_t words,
                   int64_t overlap) {
  answer result;
  for (const auto& msg : messages)
    result.prompt_tokens += count_words(msg.text);
  if (!messages.empty() && messages.back().role == "assistant") {
    std::vector<message> head(messages.begin(), messages.end() - 1);
    auto full = answer_text(seed, model, head, words);
    const auto& prefill = messages.back().text;
    if (full.compare(0, prefill.size(), prefill) == 0)
      result.text = full.substr(
          prefill.size()
          - std::min(prefill.size(), static_cast<size_t>(overlap)));
    else
      result.text = std::move(full);
  } else {
    result.text = answer_text(seed, model, messages, words);
  }
  result.completion_tokens = count_words(result.text);
  return result;
}

std::vector<std::string_view> stream_pieces(std::string_view text) {
  std::vector<std::string_view> result;
  size_t begin = 0;
  for (size_t i = 1; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == ' ') {
      if (i > begin)
        result.push_back(text.substr(begin, i - begin));
      begin = i;
    }
  }
  return result;
}

} // namespace switchyard::mock
