#pragma once

#include "switchyard/time.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace switchyard {

/// Counts events over the last `window` of time in fixed buckets, so that a
/// policy can ask "how many in the last 30 s" without storing each event.
/// Buckets are 1 s wide for windows of 10 s or more, else a tenth of the
/// window (at most 600 buckets). An event recorded at `t` is counted until the
/// bucket holding `t` falls out, i.e. for a time in (window - width, window].
/// Allocates only in the constructor.
template <size_t Fields>
class time_window {
public:
  /// The totals of each field over the window.
  using totals_type = std::array<uint64_t, Fields>;

  /// Creates an empty window of (at least) `window` length.
  explicit time_window(timespan window) {
    using namespace std::chrono;
    auto w = std::max(window, timespan{1});
    width_ = w >= 10s ? timespan{1s} : std::max(w / 10, timespan{1});
    auto n = (w + width_ - timespan{1}) / width_;
    if (n > 600) {
      width_ = (w + timespan{599}) / 600;
      n = (w + width_ - timespan{1}) / width_;
    }
    buckets_.resize(static_cast<size_t>(std::max<int64_t>(n, 1)));
  }

  /// Adds `n` to `field` at time `now`.
  void add(time_point now, size_t field, uint64_t n = 1) noexcept {
    current(now).counts[field] += n;
  }

  /// Returns the totals of the buckets still inside the window at `now`.
  totals_type totals(time_point now) const noexcept {
    totals_type result{};
    auto idx = index_of(now);
    auto n = static_cast<int64_t>(buckets_.size());
    for (const auto& b : buckets_)
      if (b.index <= idx && b.index > idx - n)
        for (size_t i = 0; i < Fields; ++i)
          result[i] += b.counts[i];
    return result;
  }

  /// Forgets every event.
  void clear() noexcept {
    for (auto& b : buckets_)
      b = bucket{};
  }

  /// Returns the width of one bucket.
  timespan bucket_width() const noexcept {
    return width_;
  }

  /// Returns the number of buckets.
  size_t bucket_count() const noexcept {
    return buckets_.size();
  }

private:
  struct bucket {
    int64_t index = INT64_MIN;
    totals_type counts{};
  };

  int64_t index_of(time_point t) const noexcept {
    auto since = t.time_since_epoch();
    auto q = since / width_;
    // Floor division, so that times before the epoch still bucket correctly.
    if (since.count() < 0 && q * width_ != since)
      --q;
    return static_cast<int64_t>(q);
  }

  bucket& current(time_point now) noexcept {
    auto idx = index_of(now);
    auto n = static_cast<int64_t>(buckets_.size());
    auto slot = static_cast<size_t>(((idx % n) + n) % n);
    auto& b = buckets_[slot];
    if (b.index != idx) {
      b.index = idx;
      b.counts = totals_type{};
    }
    return b;
  }

  timespan width_;
  std::vector<bucket> buckets_;
};

} // namespace switchyard
