#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::mock {

/// 64-bit FNV-1a, stable across builds and platforms (std::hash is not).
constexpr uint64_t fnv1a(std::string_view bytes,
                         uint64_t hash = 0xcbf29ce484222325ULL) noexcept {
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

/// One message of a conversation, reduced to role and plain text.
struct message {
  /// "system", "user" or "assistant" (Gemini's "model" maps to "assistant").
  std::string role;
  std::string text;
};

/// The deterministic answer to a conversation and its token counts.
struct answer {
  /// The text the mock answers with (for a prefill: only the remainder).
  std::string text;
  /// Whitespace-separated words in all messages, prefill included.
  int64_t prompt_tokens = 0;
  /// Whitespace-separated words in `text`.
  int64_t completion_tokens = 0;
  /// Names the answer in its ids: fnv1a of the model, then of `text` (set by
  /// `name_answer` once the text is final, so that a stream's chunks do not
  /// hash the whole text each).
  uint64_t id_hash = 0;
};

/// Sets `ans.id_hash` for `model` and the answer's text.
inline void name_answer(answer& ans, std::string_view model) {
  ans.id_hash = fnv1a(ans.text, fnv1a(model));
}

/// Counts whitespace-separated words.
int64_t count_words(std::string_view text) noexcept;

/// The full answer text of `words` words for (seed, model, messages).
std::string answer_text(uint64_t seed, std::string_view model,
                        const std::vector<message>& messages, int64_t words);

/// Answers a conversation. When the last message is an assistant prefill,
/// the answer is the full answer to the conversation without it, minus the
/// prefill when the prefill is a prefix of it (else the full answer); with
/// `overlap` > 0 it then starts that many characters before the end of the
/// prefill (a continuation that repeats part of what it continues).
answer make_answer(uint64_t seed, std::string_view model,
                   const std::vector<message>& messages, int64_t words,
                   int64_t overlap = 0);

/// Splits text into stream pieces: a new piece starts at every space, so the
/// pieces are "first", " second", " third" and concatenate to the text.
std::vector<std::string_view> stream_pieces(std::string_view text);

} // namespace switchyard::mock
