#include "recorder.hpp"

#include <variant>

namespace switchyard::load {

uint64_t to_us(timespan d) noexcept {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return us < 0 ? 0 : static_cast<uint64_t>(us);
}

recorder::recorder(time_point start, timespan warmup, timespan duration)
    : start_(start), warmup_(warmup), duration_(duration) {
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(
                  warmup + duration + std::chrono::milliseconds{999})
                  .count();
  timeline.resize(static_cast<size_t>(secs));
}

second_stats& recorder::second_at(time_point t) {
  auto i = std::chrono::duration_cast<std::chrono::seconds>(t - start_).count();
  if (i < 0)
    i = 0;
  auto idx = static_cast<size_t>(i);
  if (idx >= timeline.size())
    timeline.resize(idx + 1);
  return timeline[idx];
}

void recorder::record(time_point scheduled, time_point sent, time_point done,
                      const request_result& res) {
  auto lat = to_us(done - scheduled);
  std::lock_guard guard{mtx_};
  auto& sec = second_at(scheduled);
  ++sec.requests;
  sec.latency.record(lat);
  if (res.ok) {
    ++sec.ok;
    ++sec.by_deployment[res.deployment];
  } else {
    ++sec.errors;
    ++sec.errors_by_class[res.error];
  }
  // Answers after the last second count in no second (the timeline ends
  // with the run's schedule).
  auto done_sec
      = std::chrono::duration_cast<std::chrono::seconds>(done - start_);
  if (done_sec.count() >= 0
      && static_cast<size_t>(done_sec.count()) < timeline.size())
    ++timeline[static_cast<size_t>(done_sec.count())].completed;
  ++tick_.completed;
  tick_.latency.record(lat);
  if (res.ok)
    ++tick_.by_deployment[res.deployment];
  else
    ++tick_.errors;
  if (!measured(scheduled))
    return;
  ++requests;
  last_done = std::max(last_done, done);
  latency.record(lat);
  service_time.record(to_us(done - sent));
  if (res.ok) {
    ++ok;
    ++by_deployment[res.deployment];
  } else {
    ++errors[res.error];
  }
  if (res.first_token) {
    ++streams;
    ttft.record(to_us(*res.first_token - scheduled));
    for (auto gap : res.gaps)
      token_gap.record(to_us(gap));
    tokens += res.tokens;
    auto span = std::chrono::duration<double>(done - *res.first_token).count();
    if (span > 0 && res.tokens > 1)
      tokens_per_second.record(
          static_cast<uint64_t>((res.tokens - 1) / span + 0.5));
  }
}

void recorder::record_send_lateness(timespan late) {
  std::lock_guard guard{mtx_};
  send_lateness.record(to_us(late));
}

void recorder::restart(time_point start) {
  std::lock_guard guard{mtx_};
  start_ = start;
}

tick_stats recorder::take_tick() {
  std::lock_guard guard{mtx_};
  tick_stats out = std::move(tick_);
  tick_ = tick_stats{};
  return out;
}

void recorder::on_event(const engine_event& ev) {
  auto now = clock_type::now();
  std::lock_guard guard{mtx_};
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, attempt_started>) {
          ++engine.attempts;
        } else if constexpr (std::is_same_v<T, retry_scheduled>) {
          ++engine.retries;
          if (e.from_server)
            ++engine.retries_from_server;
        } else if constexpr (std::is_same_v<T, fallback_taken>) {
          ++engine.fallbacks;
          ++engine.fallbacks_by_reason[e.reason];
        } else if constexpr (std::is_same_v<T, hedge_event>) {
          if (e.phase == hedge_phase::fired)
            ++engine.hedges_fired;
          else if (e.phase == hedge_phase::won)
            ++engine.hedges_won;
        } else if constexpr (std::is_same_v<T, breaker_changed>) {
          engine.breakers.push_back({now - start_, e.deployment, e.from, e.to});
        }
      },
      ev);
}

} // namespace switchyard::load
