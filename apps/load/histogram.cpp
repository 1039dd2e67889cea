#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace switchyard::load {

namespace {

constexpr uint64_t exact_limit = uint64_t{1} << log_histogram::sub_bits;
constexpr uint64_t half = exact_limit / 2;
constexpr uint64_t largest = (uint64_t{1} << log_histogram::max_bits) - 1;

} // namespace

log_histogram::log_histogram() : counts_(bucket_count, 0) {
  // nop
}

size_t log_histogram::index_of(uint64_t us) noexcept {
  us = std::min(us, largest);
  if (us < exact_limit)
    return static_cast<size_t>(us);
  // msb >= sub_bits; keep the top (sub_bits) bits: us >> shift in [half,
  // 2*half).
  auto msb = static_cast<unsigned>(63 - std::countl_zero(us));
  auto shift = msb - (sub_bits - 1);
  return static_cast<size_t>(exact_limit + (shift - 1) * half
                             + ((us >> shift) - half));
}

uint64_t log_histogram::lower_bound(size_t index) noexcept {
  if (index < exact_limit)
    return index;
  auto rel = index - exact_limit;
  auto shift = rel / half + 1;
  auto top = rel % half + half;
  return top << shift;
}

uint64_t log_histogram::upper_bound(size_t index) noexcept {
  if (index < exact_limit)
    return index;
  auto rel = index - exact_limit;
  auto shift = rel / half + 1;
  auto top = rel % half + half;
  return ((top + 1) << shift) - 1;
}

void log_histogram::record(uint64_t us) noexcept {
  ++counts_[index_of(us)];
  ++count_;
  sum_ += us;
  min_ = std::min(min_, us);
  max_ = std::max(max_, us);
}

void log_histogram::merge(const log_histogram& other) noexcept {
  for (size_t i = 0; i < bucket_count; ++i)
    counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void log_histogram::clear() noexcept {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  sum_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
}

uint64_t log_histogram::quantile(double q) const noexcept {
  if (count_ == 0)
    return 0;
  q = std::clamp(q, 0.0, 1.0);
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::max<uint64_t>(rank, 1);
  uint64_t seen = 0;
  for (size_t i = 0; i < bucket_count; ++i) {
    seen += counts_[i];
    if (seen >= rank)
      return std::clamp(upper_bound(i), min(), max_);
  }
  return max_;
}

std::vector<log_histogram::bucket> log_histogram::buckets() const {
  std::vector<bucket> out;
  for (size_t i = 0; i < bucket_count; ++i)
    if (counts_[i] > 0)
      out.push_back({lower_bound(i), upper_bound(i), counts_[i]});
  return out;
}

} // namespace switchyard::load
