#pragma once

#include "histogram.hpp"
#include "switchyard/events.hpp"
#include "switchyard/time.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace switchyard::load {

/// What one request came back with, as the target saw it.
struct request_result {
  bool ok = false;
  /// Failure class ("rate_limited", "timeout", ...); empty when ok.
  std::string error;
  /// Who answered (a deployment, or the upstream's model name over HTTP).
  std::string deployment;
  /// Streams: when the first content arrived, and the gaps between pieces.
  std::optional<time_point> first_token;
  std::vector<timespan> gaps;
  uint32_t tokens = 0;
};

/// One second of the run (by scheduled time), for the timeline.
struct second_stats {
  uint64_t requests = 0;
  uint64_t ok = 0;
  uint64_t errors = 0;
  /// Completions whose answer arrived in this second.
  uint64_t completed = 0;
  log_histogram latency;
  std::map<std::string, uint64_t> by_deployment;
  std::map<std::string, uint64_t> errors_by_class;
};

/// A breaker transition as the driver saw it; `at` since the run started.
struct breaker_mark {
  timespan at{};
  std::string deployment;
  std::string from;
  std::string to;
};

/// What the engine reported (embedded target only).
struct engine_counts {
  uint64_t attempts = 0;
  uint64_t retries = 0;
  uint64_t retries_from_server = 0;
  uint64_t fallbacks = 0;
  std::map<std::string, uint64_t> fallbacks_by_reason;
  uint64_t hedges_fired = 0;
  uint64_t hedges_won = 0;
  std::vector<breaker_mark> breakers;
};

/// Counters the live progress line shows, since the last `take_tick`.
struct tick_stats {
  uint64_t completed = 0;
  uint64_t errors = 0;
  log_histogram latency;
  std::map<std::string, uint64_t> by_deployment;
};

/// Collects every outcome of a run. `record` and `on_event` may be called
/// from any thread (one mutex; a few hundred ns per call). Times are kept
/// relative to `start`; only requests scheduled in [warmup, warmup +
/// duration) count in the totals.
class recorder final : public event_sink {
public:
  recorder(time_point start, timespan warmup, timespan duration);

  /// Records one finished request scheduled at `scheduled` (its latency is
  /// measured from there) that was sent at `sent` and ended at `done`.
  void record(time_point scheduled, time_point sent, time_point done,
              const request_result& res);

  /// The driver's lateness in sending one request (open loop).
  void record_send_lateness(timespan late);

  void on_event(const engine_event& ev) override;

  /// Moves the start (before the run: the engine exists before the load
  /// begins, and its events before then count from the old start).
  void restart(time_point start);

  /// Moves out the progress counters.
  tick_stats take_tick();

  // -- read after the run (no more calls to record)
  // ----------------------------

  time_point start() const noexcept {
    return start_;
  }
  timespan warmup() const noexcept {
    return warmup_;
  }
  timespan duration() const noexcept {
    return duration_;
  }
  bool measured(time_point t) const noexcept {
    return t >= start_ + warmup_ && t < start_ + warmup_ + duration_;
  }

  /// Measured requests answered (ok or not) per second, over the window or,
  /// when answers came later, until the last one: in open loop never above
  /// the offered rate, however much warmup backlog the window started with.
  double achieved_rate() const noexcept {
    auto from = start_ + warmup_;
    auto span = std::max(duration_, last_done - from);
    auto secs = std::chrono::duration<double>(span).count();
    return secs > 0 ? static_cast<double>(requests) / secs : 0;
  }

  /// Totals over the measured window.
  uint64_t requests = 0;
  uint64_t ok = 0;
  /// When the last measured request was answered (ok or not).
  time_point last_done{};
  std::map<std::string, uint64_t> errors;
  std::map<std::string, uint64_t> by_deployment;
  log_histogram latency;
  log_histogram service_time;
  log_histogram send_lateness;
  log_histogram ttft;
  log_histogram token_gap;
  log_histogram tokens_per_second;
  uint64_t streams = 0;
  uint64_t tokens = 0;
  /// Per second since `start` (warmup seconds included).
  std::vector<second_stats> timeline;
  engine_counts engine;

private:
  second_stats& second_at(time_point t);

  mutable std::mutex mtx_;
  time_point start_;
  timespan warmup_;
  timespan duration_;
  tick_stats tick_;
};

/// Microseconds of a timespan, never negative.
uint64_t to_us(timespan d) noexcept;

} // namespace switchyard::load
