#define CAF_SUITE stream_continuation

#include "switchyard/adapter.hpp"
#include "switchyard/random.hpp"
#include "switchyard/stream.hpp"

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <caf/test/unit_test.hpp>
#include <nlohmann/json.hpp>

using namespace switchyard;
using json = nlohmann::json;

namespace {

/// A request that sets every field, so a lost field shows.
chat_request full_request() {
  chat_request req;
  req.model = "gpt-4o";
  message sys;
  sys.from = role::system;
  sys.text = "Be brief.";
  message ask;
  ask.from = role::user;
  ask.parts = {content_part{"text", "Describe this:", {}},
               content_part{"image_url", "", json{{"type", "image_url"}}}};
  message tool_reply;
  tool_reply.from = role::tool;
  tool_reply.tool_call_id = "call_1";
  tool_reply.text = "{\"ok\":true}";
  req.messages = {sys, ask, tool_reply};
  req.temperature = 0.3;
  req.top_p = 0.9;
  req.max_tokens = 512;
  req.stop = {"END"};
  req.stream = true;
  req.tools = json::array({{{"type", "function"}}});
  req.tool_choice = "auto";
  req.response_format = {{"type", "text"}};
  req.user = "u-42";
  req.metadata = {{"team", "search"}};
  req.extra = {{"seed", 7}};
  return req;
}

/// Checks every field but `messages`.
void check_same_except_messages(const chat_request& x, const chat_request& y) {
  CAF_CHECK_EQUAL(x.model, y.model);
  CAF_CHECK(x.temperature == y.temperature);
  CAF_CHECK(x.top_p == y.top_p);
  CAF_CHECK(x.max_tokens == y.max_tokens);
  CAF_CHECK(x.stop == y.stop);
  CAF_CHECK_EQUAL(x.stream, y.stream);
  CAF_CHECK_EQUAL(x.tools, y.tools);
  CAF_CHECK_EQUAL(x.tool_choice, y.tool_choice);
  CAF_CHECK_EQUAL(x.response_format, y.response_format);
  CAF_CHECK_EQUAL(x.user, y.user);
  CAF_CHECK(x.metadata == y.metadata);
  CAF_CHECK_EQUAL(x.extra, y.extra);
}

/// Checks that `x` is `y` message by message (role, content, tool fields).
void check_same_messages(const std::vector<message>& x,
                         const std::vector<message>& y) {
  CAF_REQUIRE_EQUAL(x.size(), y.size());
  for (size_t i = 0; i < x.size(); ++i) {
    CAF_CHECK(x[i].from == y[i].from);
    CAF_CHECK_EQUAL(x[i].text, y[i].text);
    CAF_CHECK_EQUAL(x[i].parts.size(), y[i].parts.size());
    CAF_CHECK_EQUAL(x[i].plain_text(), y[i].plain_text());
    CAF_CHECK_EQUAL(x[i].tool_call_id, y[i].tool_call_id);
  }
}

/// What the joiner delivers of `pieces`, flush included.
struct joined {
  std::string text;
  size_t dropped = 0;
};

joined join(std::string_view delivered, const std::vector<std::string>& pieces,
            size_t window = 256, size_t min_overlap = 8) {
  seam_joiner joiner{delivered, window, min_overlap};
  joined result;
  for (auto& piece : pieces)
    result.text += joiner.feed(piece);
  result.text += joiner.flush();
  CAF_CHECK(joiner.decided());
  result.dropped = joiner.dropped();
  return result;
}

/// The longest overlap by definition: a suffix of the last `window` bytes of
/// `delivered` that `continuation` starts with, at least `min_overlap` long.
size_t expected_overlap(std::string_view delivered,
                        std::string_view continuation, size_t window,
                        size_t min_overlap) {
  auto longest = std::min({delivered.size(), window, continuation.size()});
  for (auto k = longest; k >= std::max(min_overlap, size_t{1}); --k)
    if (delivered.substr(delivered.size() - k) == continuation.substr(0, k))
      return k;
  return 0;
}

/// A random string over a tiny alphabet, so that overlaps happen often.
std::string random_text(random_generator& rng, size_t max_len) {
  static constexpr std::string_view alphabet = "ab ";
  auto len = rng.next() % (max_len + 1);
  std::string result;
  for (size_t i = 0; i < len; ++i)
    result += alphabet[rng.next() % alphabet.size()];
  return result;
}

} // namespace

// -- continuation styles ------------------------------------------------------

CAF_TEST(style names round trip) {
  for (auto s : {continuation_style::prefill, continuation_style::instruction})
    CAF_CHECK(parse_continuation_style(to_string(s)) == s);
  CAF_CHECK_EQUAL(to_string(continuation_style::prefill), "prefill");
  CAF_CHECK_EQUAL(to_string(continuation_style::instruction), "instruction");
  CAF_CHECK(!parse_continuation_style("Prefill"));
  CAF_CHECK(!parse_continuation_style(""));
}

CAF_TEST(prefill is the default only where the wire format supports it) {
  CAF_CHECK(default_continuation(provider_kind::anthropic_messages)
            == continuation_style::prefill);
  CAF_CHECK(default_continuation(provider_kind::openai_compatible)
            == continuation_style::prefill);
  for (auto kind :
       {provider_kind::openai_chat, provider_kind::gemini,
        provider_kind::azure_openai, provider_kind::openai_completions})
    CAF_CHECK(default_continuation(kind) == continuation_style::instruction);
}

// -- make_continuation --------------------------------------------------------

CAF_TEST(prefill appends the partial answer as the last message) {
  auto original = full_request();
  auto req = make_continuation(original, "The answer is 4",
                               continuation_style::prefill);
  check_same_except_messages(req, original);
  CAF_REQUIRE_EQUAL(req.messages.size(), original.messages.size() + 1);
  check_same_messages(
      std::vector<message>(req.messages.begin(), req.messages.end() - 1),
      original.messages);
  auto& last = req.messages.back();
  CAF_CHECK(last.from == role::assistant);
  CAF_CHECK_EQUAL(last.text, "The answer is 4");
  CAF_CHECK(last.parts.empty());
  CAF_CHECK(last.tool_calls.empty());
  // The original is a copy source, not a target.
  CAF_CHECK_EQUAL(original.messages.size(), 3u);
}

CAF_TEST(instruction appends the partial answer and then the instruction) {
  auto original = full_request();
  auto req = make_continuation(original, "The answer is 4",
                               continuation_style::instruction);
  check_same_except_messages(req, original);
  CAF_REQUIRE_EQUAL(req.messages.size(), original.messages.size() + 2);
  check_same_messages(
      std::vector<message>(req.messages.begin(), req.messages.end() - 2),
      original.messages);
  auto& partial = req.messages[req.messages.size() - 2];
  CAF_CHECK(partial.from == role::assistant);
  CAF_CHECK_EQUAL(partial.text, "The answer is 4");
  auto& ask = req.messages.back();
  CAF_CHECK(ask.from == role::user);
  CAF_CHECK_EQUAL(ask.text, continuation_instruction);
}

CAF_TEST(the instruction asks for the bare continuation) {
  std::string text{continuation_instruction};
  CAF_CHECK(text.find("exactly where") != std::string::npos);
  CAF_CHECK(text.find("middle of a word") != std::string::npos);
  CAF_CHECK(text.find("Do not repeat") != std::string::npos);
  CAF_CHECK(text.find("preamble") != std::string::npos);
}

CAF_TEST(an empty partial answer leaves the request as it was) {
  auto original = full_request();
  for (auto style :
       {continuation_style::prefill, continuation_style::instruction}) {
    auto req = make_continuation(original, "", style);
    check_same_except_messages(req, original);
    check_same_messages(req.messages, original.messages);
  }
}

// -- seam_joiner --------------------------------------------------------------

CAF_TEST(a continuation without overlap passes at once) {
  seam_joiner joiner{"The quick brown fox"};
  CAF_CHECK(!joiner.decided());
  CAF_CHECK_EQUAL(joiner.feed(" jumps over"), " jumps over");
  CAF_CHECK(joiner.decided());
  CAF_CHECK_EQUAL(joiner.dropped(), 0u);
  CAF_CHECK_EQUAL(joiner.feed(" the dog."), " the dog.");
  CAF_CHECK_EQUAL(joiner.flush(), "");
}

CAF_TEST(text is held only while a longer overlap is still possible) {
  // Shorter than min_overlap, but no suffix starts with "Z": nothing to wait
  // for.
  seam_joiner joiner{"The quick brown fox"};
  CAF_CHECK_EQUAL(joiner.feed("Zeb"), "Zeb");
  CAF_CHECK(joiner.decided());
}

CAF_TEST(an overlap across several feeds is dropped) {
  seam_joiner joiner{"Once upon a time, there was a dragon"};
  CAF_CHECK_EQUAL(joiner.feed("the"), "");
  CAF_CHECK_EQUAL(joiner.feed("re was a "), "");
  CAF_CHECK_EQUAL(joiner.feed("drag"), "");
  CAF_CHECK(!joiner.decided());
  CAF_CHECK_EQUAL(joiner.feed("on who loved"), " who loved");
  CAF_CHECK(joiner.decided());
  CAF_CHECK_EQUAL(joiner.dropped(), 18u); // "there was a dragon"
  CAF_CHECK_EQUAL(joiner.feed(" tea."), " tea.");
  CAF_CHECK_EQUAL(joiner.flush(), "");
}

CAF_TEST(the longest overlap wins) {
  // The continuation starts with two suffixes of the delivered text, "tick
  // tock" and "tick tock tick tock": only the longer one is dropped.
  auto r = join("tick tock tick tock", {"tick tock tick tock and on"}, 256, 4);
  CAF_CHECK_EQUAL(r.text, " and on");
  CAF_CHECK_EQUAL(r.dropped, 19u);
}

CAF_TEST(an overlap shorter than min_overlap is kept) {
  auto r = join("It was the end", {"end of it all"});
  CAF_CHECK_EQUAL(r.text, "end of it all");
  CAF_CHECK_EQUAL(r.dropped, 0u);
  // The same seam with a smaller minimum is dropped.
  r = join("It was the end", {"end of it all"}, 256, 3);
  CAF_CHECK_EQUAL(r.text, " of it all");
  CAF_CHECK_EQUAL(r.dropped, 3u);
}

CAF_TEST(only the last window bytes of the delivered text count) {
  std::string delivered = "xx0123456789ABCDEFGHIJ";
  std::string overlap = "0123456789ABCDEFGHIJ"; // 20 bytes
  auto r = join(delivered, {overlap + " rest"}, 32);
  CAF_CHECK_EQUAL(r.text, " rest");
  CAF_CHECK_EQUAL(r.dropped, 20u);
  r = join(delivered, {overlap + " rest"}, 16);
  CAF_CHECK_EQUAL(r.text, overlap + " rest");
  CAF_CHECK_EQUAL(r.dropped, 0u);
}

CAF_TEST(the window bounds how much is held) {
  seam_joiner joiner{std::string(32, 'a'), 16};
  for (int i = 1; i < 16; ++i) {
    CAF_CHECK_EQUAL(joiner.feed("a"), "");
    CAF_CHECK(!joiner.decided());
  }
  // The 16th byte matches the whole window: decided, all of it dropped.
  CAF_CHECK_EQUAL(joiner.feed("a"), "");
  CAF_CHECK(joiner.decided());
  CAF_CHECK_EQUAL(joiner.dropped(), 16u);
  CAF_CHECK_EQUAL(joiner.feed("a"), "a");
}

CAF_TEST(flush decides with what is held) {
  // "tick tock" could still grow into "tick tock tick tock ...".
  seam_joiner a{"tick tock tick tock tick tock"};
  CAF_CHECK_EQUAL(a.feed("tick tock"), "");
  CAF_CHECK(!a.decided());
  CAF_CHECK_EQUAL(a.flush(), "");
  CAF_CHECK(a.decided());
  CAF_CHECK_EQUAL(a.dropped(), 9u);
  CAF_CHECK_EQUAL(a.flush(), "");
  seam_joiner b{"tick tock tick tock tick tock"};
  CAF_CHECK_EQUAL(b.feed("tick tock tick"), "");
  CAF_CHECK_EQUAL(b.flush(), " tick");
  CAF_CHECK_EQUAL(b.dropped(), 9u);
  // Held text that is only the start of an overlap is not dropped.
  seam_joiner c{"Hello there, general Kenobi"};
  CAF_CHECK_EQUAL(c.feed("general Ke"), "");
  CAF_CHECK_EQUAL(c.flush(), "general Ke");
  CAF_CHECK_EQUAL(c.dropped(), 0u);
}

CAF_TEST(an empty delivered text lets everything through) {
  seam_joiner joiner{""};
  CAF_CHECK(joiner.decided());
  CAF_CHECK_EQUAL(joiner.feed("Hello"), "Hello");
  CAF_CHECK_EQUAL(joiner.flush(), "");
  CAF_CHECK_EQUAL(joiner.dropped(), 0u);
  // A delivered text shorter than min_overlap cannot overlap either.
  seam_joiner short_one{"Hi"};
  CAF_CHECK(short_one.decided());
  CAF_CHECK_EQUAL(short_one.feed("Hi there"), "Hi there");
}

CAF_TEST(an empty continuation gives nothing) {
  auto r = join("tick tock tick tock", {});
  CAF_CHECK_EQUAL(r.text, "");
  CAF_CHECK_EQUAL(r.dropped, 0u);
}

CAF_TEST(any split of the continuation gives the same result) {
  default_random_generator rng{20240611};
  for (int round = 0; round < 2000; ++round) {
    size_t windows[] = {4, 8, 16, 256};
    size_t minimums[] = {1, 3, 8};
    auto window = windows[rng.next() % 4];
    auto min_overlap = minimums[rng.next() % 3];
    auto delivered = random_text(rng, 40);
    // Half the time, start the continuation with a suffix of the delivered
    // text, so that real overlaps are common.
    std::string continuation;
    if (!delivered.empty() && rng.next() % 2 == 0)
      continuation = delivered.substr(rng.next() % delivered.size());
    continuation += random_text(rng, 30);
    auto whole = join(delivered, {continuation}, window, min_overlap);
    auto expected
        = expected_overlap(delivered, continuation, window, min_overlap);
    CAF_CHECK_EQUAL(whole.dropped, expected);
    CAF_CHECK_EQUAL(whole.text, continuation.substr(expected));
    // Byte by byte.
    std::vector<std::string> bytes;
    for (auto c : continuation)
      bytes.emplace_back(1, c);
    auto by_byte = join(delivered, bytes, window, min_overlap);
    CAF_CHECK_EQUAL(by_byte.text, whole.text);
    CAF_CHECK_EQUAL(by_byte.dropped, whole.dropped);
    // Random pieces, empty ones included.
    std::vector<std::string> pieces;
    for (size_t pos = 0; pos < continuation.size();) {
      auto n = std::min<size_t>(rng.next() % 6, continuation.size() - pos);
      pieces.push_back(continuation.substr(pos, n));
      pos += n;
    }
    auto split = join(delivered, pieces, window, min_overlap);
    CAF_CHECK_EQUAL(split.text, whole.text);
    CAF_CHECK_EQUAL(split.dropped, whole.dropped);
  }
}

CAF_TEST(the seam is decided once a window of text arrived) {
  default_random_generator rng{77};
  for (int round = 0; round < 500; ++round) {
    auto delivered = random_text(rng, 40);
    auto continuation = random_text(rng, 60);
    size_t window = 16;
    seam_joiner joiner{delivered, window};
    auto bound = std::min(delivered.size(), window);
    for (size_t i = 0; i < continuation.size(); ++i) {
      joiner.feed(continuation.substr(i, 1));
      if (i + 1 >= bound)
        CAF_CHECK(joiner.decided());
    }
  }
}
