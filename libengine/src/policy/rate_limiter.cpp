#include "switchyard/policy/rate_limiter.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace switchyard {

namespace {

constexpr double ns_per_minute = 60e9;

/// Absorbs rounding of the continuous refill, so that a call is granted at
/// the very time `ready_at` named.
constexpr double epsilon = 1e-6;

} // namespace

token_bucket::token_bucket(double per_minute, time_point now) noexcept
    : capacity_(per_minute > 0 ? per_minute : 0),
      base_rate_(capacity_ / ns_per_minute), rate_(base_rate_),
      level_(capacity_), updated_(now) {
  // nop
}

double token_bucket::level(time_point now) const noexcept {
  if (capacity_ <= 0)
    return 0;
  if (now <= updated_)
    return level_;
  auto dt = static_cast<double>((now - updated_).count());
  return std::min(capacity_, level_ + rate_ * dt);
}

time_point token_bucket::ready_at(time_point now,
                                  double amount) const noexcept {
  auto earliest = std::max(now, blocked_until_);
  if (capacity_ <= 0)
    return earliest;
  amount = std::min(amount, capacity_);
  auto lvl = level(now);
  if (lvl + epsilon >= amount)
    return earliest;
  if (rate_ <= 0)
    return time_point::max();
  auto wait = std::ceil((amount - lvl) / rate_);
  return std::max(earliest, now + timespan{static_cast<timespan::rep>(wait)});
}

void token_bucket::adjust(time_point now, double delta) noexcept {
  if (capacity_ <= 0)
    return;
  refill(now);
  level_ = std::min(capacity_, level_ + delta);
}

void token_bucket::observe(time_point now, int64_t remaining,
                           std::optional<int64_t> limit,
                           std::optional<timespan> reset) noexcept {
  if (limit && *limit > 0
      && (capacity_ <= 0 || static_cast<double>(*limit) < capacity_)) {
    refill(now);
    auto old_level = capacity_ > 0 ? level_ : static_cast<double>(*limit);
    *this = token_bucket{static_cast<double>(*limit), now};
    level_ = std::min(capacity_, old_level);
  }
  if (capacity_ <= 0) {
    if (remaining <= 0 && reset && *reset > timespan{0})
      blocked_until_ = std::max(blocked_until_, now + *reset);
    return;
  }
  refill(now);
  auto r = static_cast<double>(std::max<int64_t>(remaining, 0));
  if (r >= level_)
    return;
  level_ = r;
  if (reset && *reset > timespan{0})
    rate_ = (capacity_ - level_) / static_cast<double>(reset->count());
}

void token_bucket::refill(time_point now) noexcept {
  if (now <= updated_)
    return;
  level_ = level(now);
  if (level_ + epsilon >= capacity_) {
    level_ = capacity_;
    rate_ = base_rate_;
  }
  updated_ = now;
}

rate_limiter::rate_limiter(rate_limit_settings settings,
                           time_point now) noexcept
    : settings_(settings), requests_(settings.requests_per_minute, now),
      tokens_(settings.tokens_per_minute, now) {
  // nop
}

rate_decision rate_limiter::acquire(time_point now,
                                    uint32_t estimated_tokens) noexcept {
  auto est = static_cast<double>(estimated_tokens);
  auto ready = std::max(requests_.ready_at(now, 1), tokens_.ready_at(now, est));
  if (ready > now)
    return {false, ready};
  requests_.adjust(now, -1);
  tokens_.adjust(now, -est);
  return {true, now};
}

void rate_limiter::commit(time_point now, uint32_t estimated_tokens,
                          uint32_t actual_tokens) noexcept {
  tokens_.adjust(now, static_cast<double>(estimated_tokens)
                          - static_cast<double>(actual_tokens));
}

void rate_limiter::observe(const rate_limit_snapshot& snapshot,
                           time_point now) noexcept {
  if (!settings_.follow_headers)
    return;
  if (snapshot.remaining_requests)
    requests_.observe(now, *snapshot.remaining_requests,
                      snapshot.limit_requests, snapshot.reset_requests);
  if (snapshot.remaining_tokens)
    tokens_.observe(now, *snapshot.remaining_tokens, snapshot.limit_tokens,
                    snapshot.reset_tokens);
}

} // namespace switchyard
