#pragma once

#include "switchyard/http.hpp"
#include "switchyard/policy/settings.hpp"
#include "switchyard/time.hpp"

#include <cstdint>

namespace switchyard {

/// The answer of `rate_limiter::acquire`.
struct rate_decision {
  /// True when the call may go now (and its cost was taken).
  bool granted = false;
  /// When the call would be granted: `now` if granted, else the earliest
  /// time both buckets hold enough (time_point::max() when unknown).
  time_point ready_at{};
};

/// One token bucket that refills continuously; capacity 0 means unlimited.
/// A bucket told by the provider to refill on another schedule (via
/// `observe`) uses that rate until it is full again.
class token_bucket {
public:
  /// Creates an unlimited bucket.
  token_bucket() = default;

  /// Creates a full bucket of `per_minute` units refilling at that rate.
  token_bucket(double per_minute, time_point now) noexcept;

  /// Returns true when the bucket has no capacity limit (it may still be
  /// blocked until a provider's reset time).
  bool unlimited() const noexcept {
    return capacity_ <= 0;
  }

  /// Returns the level at `now` (may be negative after an under-estimate).
  double level(time_point now) const noexcept;

  /// Returns the earliest time the bucket holds `amount` (clamped to its
  /// capacity); `now` when it already does.
  time_point ready_at(time_point now, double amount) const noexcept;

  /// Refills up to `now`, then adds `delta` (negative takes), at most to full.
  void adjust(time_point now, double delta) noexcept;

  /// Lowers the level to `remaining` and, with `reset`, refills so that the
  /// bucket is full again `reset` from `now`. A `limit` below the capacity
  /// (or on an unlimited bucket) is adopted as the new per-minute limit; an
  /// unlimited bucket without one blocks until the reset when nothing remains.
  void observe(time_point now, int64_t remaining, std::optional<int64_t> limit,
               std::optional<timespan> reset) noexcept;

  /// Returns the capacity (0 = unlimited).
  double capacity() const noexcept {
    return capacity_;
  }

private:
  void refill(time_point now) noexcept;

  double capacity_ = 0;
  double base_rate_ = 0; // units per nanosecond
  double rate_ = 0;      // current units per nanosecond
  double level_ = 0;
  time_point updated_{};
  time_point blocked_until_{};
};

/// Client-side limits of one deployment: requests per minute and tokens per
/// minute as two token buckets, lowered by the provider's rate-limit headers.
/// Pure and allocation-free.
class rate_limiter {
public:
  /// Creates full buckets at `now`.
  rate_limiter(rate_limit_settings settings, time_point now) noexcept;

  /// Takes one request and `estimated_tokens` if both buckets allow it now,
  /// else takes nothing and says when they would. A cost above a bucket's
  /// capacity waits for a full bucket (then drives it negative).
  rate_decision acquire(time_point now, uint32_t estimated_tokens) noexcept;

  /// Corrects the token bucket once the real usage is known.
  void commit(time_point now, uint32_t estimated_tokens,
              uint32_t actual_tokens) noexcept;

  /// Applies what the provider's headers said remains (if follow_headers).
  void observe(const rate_limit_snapshot& snapshot, time_point now) noexcept;

  /// Returns the request bucket.
  const token_bucket& requests() const noexcept {
    return requests_;
  }

  /// Returns the token bucket.
  const token_bucket& tokens() const noexcept {
    return tokens_;
  }

private:
  rate_limit_settings settings_;
  token_bucket requests_;
  token_bucket tokens_;
};

} // namespace switchyard
