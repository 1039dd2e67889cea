#pragma once

#include "switchyard/policy/settings.hpp"
#include "switchyard/policy/time_window.hpp"
#include "switchyard/time.hpp"

#include <cstdint>

namespace switchyard {

/// Caps retries at a share of recent traffic so that retries cannot multiply
/// the load on a failing provider (Finagle's RetryBudget). Over the sliding
/// `window` it counts original requests R and granted retries N, and grants a
/// retry iff N < ratio * R + min_retries_per_second * window_seconds (the
/// second term is a reserve so that low traffic can still retry). Retries do
/// not count as requests. Pure; allocates only when constructed.
class retry_budget {
public:
  /// Creates an empty budget (only the reserve is available).
  explicit retry_budget(retry_budget_settings settings);

  /// Records one original request (not a retry) at `now`.
  void record_request(time_point now) noexcept;

  /// Grants and records one retry at `now` if the budget allows it.
  bool try_acquire_retry(time_point now) noexcept;

  /// Returns how many retries would be granted at `now` (floored, >= 0).
  uint64_t available(time_point now) const noexcept;

  /// Returns the original requests counted in the window at `now`.
  uint64_t requests(time_point now) const noexcept;

  /// Returns the retries counted in the window at `now`.
  uint64_t retries(time_point now) const noexcept;

  /// Returns the settings this budget runs on.
  const retry_budget_settings& settings() const noexcept {
    return settings_;
  }

private:
  static constexpr size_t field_requests = 0;
  static constexpr size_t field_retries = 1;

  double limit(uint64_t requests) const noexcept;

  retry_budget_settings settings_;
  time_window<2> window_;
};

} // namespace switchyard
