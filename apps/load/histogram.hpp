#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace switchyard::load {

/// A latency histogram in microseconds with bounded relative error: values
/// below 256 µs are exact, larger ones fall in log-spaced buckets (128 per
/// power of two), so any reported value is within 1/128 (< 0.8 %) of a value
/// that was recorded. Covers 1 µs to 2^40 µs (about 12 days); larger values
/// are clamped. Plain data, not thread-safe: merge per-thread copies.
class log_histogram {
public:
  log_histogram();

  /// Records one value (µs).
  void record(uint64_t us) noexcept;

  /// Adds every value of `other`.
  void merge(const log_histogram& other) noexcept;

  /// Forgets every value.
  void clear() noexcept;

  uint64_t count() const noexcept {
    return count_;
  }

  /// Largest recorded value (exact); 0 when empty.
  uint64_t max() const noexcept {
    return max_;
  }

  /// Smallest recorded value (exact); 0 when empty.
  uint64_t min() const noexcept {
    return count_ == 0 ? 0 : min_;
  }

  double mean() const noexcept {
    return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_;
  }

  /// The value at quantile `q` in [0, 1] (the bucket's upper bound, clipped
  /// to the maximum); 0 when empty.
  uint64_t quantile(double q) const noexcept;

  /// Non-empty buckets as (lower bound µs, upper bound µs, count).
  struct bucket {
    uint64_t lo;
    uint64_t hi;
    uint64_t count;
  };
  std::vector<bucket> buckets() const;

  /// Bucket index of a value, and a bucket's bounds (exposed for tests).
  static size_t index_of(uint64_t us) noexcept;
  static uint64_t lower_bound(size_t index) noexcept;
  static uint64_t upper_bound(size_t index) noexcept;

  static constexpr unsigned sub_bits = 8;
  static constexpr unsigned max_bits = 40;
  static constexpr size_t bucket_count
      = (size_t{1} << sub_bits)
        + (max_bits - sub_bits) * (size_t{1} << (sub_bits - 1));

private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

} // namespace switchyard::load
