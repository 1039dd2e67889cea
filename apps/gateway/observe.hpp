#pragma once

// What the gateway shows operators besides /status: the recent notable
// engine events (/events, for the dashboard) and the dashboard page itself.

#include "switchyard/events.hpp"

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

namespace switchyard::gateway {

/// Keeps the last notable events (fallbacks, breaker transitions, restarts,
/// failed attempts), numbered, for the dashboard. Other events pass without
/// a lock.
class event_ring final : public event_sink {
public:
  explicit event_ring(size_t capacity = 200) : capacity_(capacity) {
    // nop
  }

  void on_event(const engine_event& ev) override;

  /// The kept events numbered above `after`, oldest first, as a JSON object
  /// `{"last": N, "events": [{"seq", "ts", "event", ...}]}`.
  std::string since(uint64_t after) const;

private:
  size_t capacity_;
  mutable std::mutex mtx_;
  uint64_t seq_ = 0;
  /// (seq, JSON text) pairs.
  std::deque<std::pair<uint64_t, std::string>> kept_;
};

/// The dashboard page, with Chart.js inlined when `chart_js` is non-empty.
std::string dashboard_page(const std::string& chart_js);

} // namespace switchyard::gateway
