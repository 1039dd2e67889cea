#include "switchyard/policy/hedge.hpp"

#include <algorithm>
#include <cmath>

namespace switchyard {

hedge_policy::hedge_policy(hedge_settings settings) noexcept
    : settings_(settings) {
  // nop
}

std::optional<timespan> hedge_policy::hedge_delay() const noexcept {
  if (!settings_.enabled)
    return std::nullopt;
  if (!settings_.percentile || recorded_ == 0
      || recorded_ < settings_.min_samples)
    return settings_.delay;
  auto n = static_cast<size_t>(
      std::min<uint64_t>(recorded_, static_cast<uint64_t>(sample_capacity)));
  auto copy = ring_;
  auto p = std::clamp(*settings_.percentile, 0.0, 1.0);
  // Nearest rank: the smallest sample with at least p * n samples <= it.
  auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(n)));
  auto idx = rank == 0 ? size_t{0} : std::min(rank, n) - 1;
  auto first = copy.begin();
  auto nth = first + static_cast<std::ptrdiff_t>(idx);
  std::nth_element(first, nth, first + static_cast<std::ptrdiff_t>(n));
  return *nth;
}

void hedge_policy::record_latency(timespan latency) noexcept {
  ring_[recorded_ % sample_capacity] = latency;
  ++recorded_;
}

} // namespace switchyard
