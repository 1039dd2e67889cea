#include "switchyard/policy/circuit_breaker.hpp"

#include <algorithm>
#include <cmath>

namespace switchyard {

std::string_view to_string(breaker_state x) noexcept {
  switch (x) {
    case breaker_state::closed:
      return "closed";
    case breaker_state::open:
      return "open";
    case breaker_state::half_open:
      return "half_open";
    case breaker_state::forced_open:
      return "forced_open";
    case breaker_state::forced_closed:
      return "forced_closed";
  }
  return "unknown";
}

circuit_breaker::circuit_breaker(breaker_settings settings)
    : settings_(settings),
      time_window_(settings.window == breaker_settings::window_kind::time
                       ? settings.window_duration
                       : timespan{1}) {
  if (settings_.window == breaker_settings::window_kind::count)
    ring_.resize(std::max<uint32_t>(settings_.window_size, 1));
}

bool circuit_breaker::allow(time_point now) {
  switch (state_) {
    case breaker_state::closed:
    case breaker_state::forced_closed:
      return true;
    case breaker_state::forced_open:
      return false;
    case breaker_state::open:
      if (now < open_until_)
        return false;
      transition(now, breaker_state::half_open);
      probes_in_flight_ = 0;
      probe_successes_ = 0;
      [[fallthrough]];
    case breaker_state::half_open:
      if (probes_in_flight_ >= settings_.half_open_probes)
        return false;
      ++probes_in_flight_;
      return true;
  }
  return false;
}

void circuit_breaker::on_success(time_point now, timespan latency) {
  switch (state_) {
    case breaker_state::closed:
      consecutive_failures_ = 0;
      record(now, false, latency > settings_.slow_call_duration);
      if (rates_exceeded(now))
        open(now, std::nullopt);
      return;
    case breaker_state::half_open:
      if (probes_in_flight_ > 0)
        --probes_in_flight_;
      if (++probe_successes_ >= settings_.half_open_successes) {
        clear_windows();
        reopens_ = 0;
        transition(now, breaker_state::closed);
      }
      return;
    default:
      // Open: a late result of a call admitted before opening says nothing
      // new. Overrides record nothing.
      return;
  }
}

void circuit_breaker::on_failure(time_point now, error_class cls,
                                 std::optional<timespan> retry_after) {
  if (!settings_.failure_classes.contains(cls)) {
    // Neutral: not recorded, but the probe has ended.
    if (state_ == breaker_state::half_open)
      release_probe();
    return;
  }
  switch (state_) {
    case breaker_state::closed:
      ++consecutive_failures_;
      record(now, true, false);
      if ((settings_.consecutive_failures > 0
           && consecutive_failures_ >= settings_.consecutive_failures)
          || rates_exceeded(now))
        open(now, retry_after);
      return;
    case breaker_state::half_open:
      ++reopens_;
      open(now, retry_after);
      return;
    default:
      return;
  }
}

void circuit_breaker::release_probe() noexcept {
  if (state_ == breaker_state::half_open && probes_in_flight_ > 0)
    --probes_in_flight_;
}

void circuit_breaker::force_open(time_point now) {
  transition(now, breaker_state::forced_open);
}

void circuit_breaker::force_closed(time_point now) {
  transition(now, breaker_state::forced_closed);
}

void circuit_breaker::reset(time_point now) {
  clear_windows();
  reopens_ = 0;
  probes_in_flight_ = 0;
  probe_successes_ = 0;
  open_until_ = time_point{};
  transition(now, breaker_state::closed);
}

void circuit_breaker::adopt(time_point now, breaker_state to,
                            time_point open_until, uint32_t reopens) noexcept {
  if (state_ == breaker_state::forced_open
      || state_ == breaker_state::forced_closed)
    return;
  clear_windows();
  probes_in_flight_ = 0;
  probe_successes_ = 0;
  reopens_ = reopens;
  if (to == breaker_state::open) {
    open_until_ = open_until;
    transition(now, breaker_state::open);
  } else {
    open_until_ = time_point{};
    transition(now, breaker_state::closed);
  }
}

time_point circuit_breaker::retry_at(time_point now) const noexcept {
  switch (state_) {
    case breaker_state::closed:
    case breaker_state::forced_closed:
      return now;
    case breaker_state::open:
      return std::max(now, open_until_);
    case breaker_state::half_open:
      return probes_in_flight_ < settings_.half_open_probes ? now
                                                            : time_point::max();
    case breaker_state::forced_open:
      return time_point::max();
  }
  return time_point::max();
}

timespan circuit_breaker::next_open_duration() const noexcept {
  auto base = static_cast<double>(settings_.open_duration.count());
  auto cap = static_cast<double>(settings_.max_open_duration.count());
  auto d
      = base * std::pow(settings_.open_factor, static_cast<double>(reopens_));
  if (!(d < cap)) // Also catches inf and NaN.
    d = cap;
  return timespan{static_cast<timespan::rep>(d)};
}

void circuit_breaker::record(time_point now, bool failure, bool slow) {
  if (!ring_.empty()) {
    auto& slot = ring_[ring_pos_];
    if (slot & flag_recorded) {
      --ring_calls_;
      ring_failures_ -= (slot & flag_failure) ? 1 : 0;
      ring_slow_ -= (slot & flag_slow) ? 1 : 0;
    }
    slot = static_cast<uint8_t>(flag_recorded | (failure ? flag_failure : 0)
                                | (slow ? flag_slow : 0));
    ++ring_calls_;
    ring_failures_ += failure ? 1 : 0;
    ring_slow_ += slow ? 1 : 0;
    ring_pos_ = (ring_pos_ + 1) % ring_.size();
    return;
  }
  time_window_.add(now, field_calls);
  if (failure)
    time_window_.add(now, field_failures);
  if (slow)
    time_window_.add(now, field_slow);
}

bool circuit_breaker::rates_exceeded(time_point now) const noexcept {
  uint64_t calls = 0;
  uint64_t failures = 0;
  uint64_t slow = 0;
  if (!ring_.empty()) {
    calls = ring_calls_;
    failures = ring_failures_;
    slow = ring_slow_;
  } else {
    auto t = time_window_.totals(now);
    calls = t[field_calls];
    failures = t[field_failures];
    slow = t[field_slow];
  }
  if (calls == 0 || calls < settings_.minimum_calls)
    return false;
  auto n = static_cast<double>(calls);
  if (settings_.failure_rate > 0
      && static_cast<double>(failures) / n >= settings_.failure_rate)
    return true;
  return settings_.slow_call_rate > 0
         && static_cast<double>(slow) / n >= settings_.slow_call_rate;
}

void circuit_breaker::clear_windows() noexcept {
  std::fill(ring_.begin(), ring_.end(), uint8_t{0});
  ring_pos_ = 0;
  ring_calls_ = 0;
  ring_failures_ = 0;
  ring_slow_ = 0;
  time_window_.clear();
  consecutive_failures_ = 0;
}

void circuit_breaker::transition(time_point now, breaker_state to) noexcept {
  if (state_ == to)
    return;
  last_transition_ = breaker_transition{state_, to, now};
  ++transition_count_;
  state_ = to;
}

void circuit_breaker::open(time_point now,
                           std::optional<timespan> retry_after) noexcept {
  auto d = next_open_duration();
  if (retry_after && *retry_after > d)
    d = *retry_after;
  open_until_ = now + d;
  probes_in_flight_ = 0;
  probe_successes_ = 0;
  transition(now, breaker_state::open);
}

} // namespace switchyard
