#include "switchyard/policy/retry_budget.hpp"

#include <chrono>
#include <cmath>

namespace switchyard {

retry_budget::retry_budget(retry_budget_settings settings)
    : settings_(settings), window_(settings.window) {
  // nop
}

void retry_budget::record_request(time_point now) noexcept {
  window_.add(now, field_requests);
}

bool retry_budget::try_acquire_retry(time_point now) noexcept {
  auto t = window_.totals(now);
  if (static_cast<double>(t[field_retries]) >= limit(t[field_requests]))
    return false;
  window_.add(now, field_retries);
  return true;
}

uint64_t retry_budget::available(time_point now) const noexcept {
  auto t = window_.totals(now);
  auto room = std::ceil(limit(t[field_requests]))
              - static_cast<double>(t[field_retries]);
  return room > 0 ? static_cast<uint64_t>(room) : 0;
}

uint64_t retry_budget::requests(time_point now) const noexcept {
  return window_.totals(now)[field_requests];
}

uint64_t retry_budget::retries(time_point now) const noexcept {
  return window_.totals(now)[field_retries];
}

double retry_budget::limit(uint64_t requests) const noexcept {
  using secs = std::chrono::duration<double>;
  auto window_s = std::chrono::duration_cast<secs>(settings_.window).count();
  return settings_.ratio * static_cast<double>(requests)
         + settings_.min_retries_per_second * window_s;
}

} // namespace switchyard
