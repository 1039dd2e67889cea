#include "switchyard/adapter.hpp"
#include "switchyard/stream.hpp"

#include <algorithm>

namespace switchyard {

// -- continuation styles ------------------------------------------------------

std::string_view to_string(continuation_style s) noexcept {
  switch (s) {
    case continuation_style::prefill:
      return "prefill";
    case continuation_style::instruction:
      break;
  }
  return "instruction";
}

std::optional<continuation_style>
parse_continuation_style(std::string_view name) noexcept {
  if (name == "prefill")
    return continuation_style::prefill;
  if (name == "instruction")
    return continuation_style::instruction;
  return std::nullopt;
}

continuation_style default_continuation(provider_kind kind) noexcept {
  switch (kind) {
    case provider_kind::anthropic_messages:
    case provider_kind::openai_compatible:
      return continuation_style::prefill;
    default:
      return continuation_style::instruction;
  }
}

const std::string_view continuation_instruction
    = "Continue your previous answer exactly where it stopped, even in the "
      "middle of a word or sentence. Do not repeat anything you already wrote "
      "and do not add any preamble or commentary: reply with the continuation "
      "only.";

chat_request make_continuation(const chat_request& original,
                               std::string_view partial,
                               continuation_style style) {
  if (partial.empty())
    return original;
  auto result = original;
  message answer;
  answer.from = role::assistant;
  answer.text = partial;
  result.messages.push_back(std::move(answer));
  if (style == continuation_style::instruction) {
    message ask;
    ask.from = role::user;
    ask.text = continuation_instruction;
    result.messages.push_back(std::move(ask));
  }
  return result;
}

// -- seam_joiner --------------------------------------------------------------

seam_joiner::seam_joiner(std::string_view delivered, size_t window,
                         size_t min_overlap)
    : min_overlap_(std::max(min_overlap, size_t{1})) {
  if (delivered.size() > window)
    delivered.remove_prefix(delivered.size() - window);
  tail_ = delivered;
  // Without room for the shortest overlap there is nothing to decide.
  decided_ = tail_.size() < min_overlap_;
}

std::string seam_joiner::feed(std::string_view piece) {
  if (decided_)
    return std::string{piece};
  held_ += piece;
  // An overlap longer than what is held is still possible while the held
  // text is a prefix of that suffix of the delivered text: wait for more.
  auto held = held_.size();
  auto longest = tail_.size();
  for (auto k = std::max(min_overlap_, held + 1); k <= longest; ++k)
    if (tail_.compare(longest - k, held, held_) == 0)
      return {};
  return decide();
}

std::string seam_joiner::flush() {
  if (decided_)
    return {};
  return decide();
}

std::string seam_joiner::decide() {
  auto longest = std::min(tail_.size(), held_.size());
  dropped_ = 0;
  for (auto k = longest; k >= min_overlap_; --k) {
    if (tail_.compare(tail_.size() - k, k, held_, 0, k) == 0) {
      dropped_ = k;
      break;
    }
  }
  decided_ = true;
  auto result = held_.substr(dropped_);
  held_.clear();
  held_.shrink_to_fit();
  tail_.clear();
  tail_.shrink_to_fit();
  return result;
}

} // namespace switchyard
