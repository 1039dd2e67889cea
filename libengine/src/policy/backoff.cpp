#include "switchyard/policy/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace switchyard {

namespace {

timespan scale(timespan d, double x) noexcept {
  return timespan{
      static_cast<timespan::rep>(static_cast<double>(d.count()) * x)};
}

} // namespace

backoff::backoff(backoff_settings settings) noexcept
    : settings_(settings), previous_(settings.base) {
  // nop
}

timespan backoff::exponential(uint32_t attempt) const noexcept {
  auto base = static_cast<double>(settings_.base.count());
  auto cap = static_cast<double>(settings_.cap.count());
  auto d = base * std::pow(settings_.factor, static_cast<double>(attempt));
  if (!(d < cap)) // Also catches inf and NaN.
    return settings_.cap;
  return timespan{static_cast<timespan::rep>(d)};
}

timespan backoff::next_delay(uint32_t attempt, random_generator& rng) noexcept {
  switch (settings_.jitter) {
    case jitter_kind::none:
      return exponential(attempt);
    case jitter_kind::full:
      return scale(exponential(attempt), rng.uniform());
    case jitter_kind::decorrelated: {
      if (attempt == 0)
        previous_ = settings_.base;
      auto hi = std::max(previous_ * 3, settings_.base);
      auto d = settings_.base + scale(hi - settings_.base, rng.uniform());
      previous_ = std::min(settings_.cap, d);
      return previous_;
    }
  }
  return exponential(attempt);
}

std::optional<retry_wait>
backoff::wait_before_retry(std::optional<timespan> hint, timespan remaining,
                           uint32_t attempt, random_generator& rng) noexcept {
  if (hint && settings_.honour_retry_after && *hint <= settings_.max_retry_after
      && *hint < remaining)
    return retry_wait{std::max(*hint, timespan{0}), true};
  auto d = next_delay(attempt, rng);
  if (d < remaining)
    return retry_wait{d, false};
  return std::nullopt;
}

} // namespace switchyard
