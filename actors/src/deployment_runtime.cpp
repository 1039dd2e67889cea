#include "deployment_runtime.hpp"

#include "engine_core.hpp"

#include <algorithm>
#include <chrono>

namespace switchyard {

deployment_runtime::deployment_runtime(size_t idx, const deployment_config& cfg,
                                       const config_defaults& defaults,
                                       uint64_t seed, time_point now)
    : index(idx), config(cfg), codec(&adapter_for(cfg.ep.kind)),
      breaker(cfg.breaker), limiter(cfg.limits.rate, now), rng(seed),
      default_slot(defaults.route) {
  // nop
}

bool deployment_runtime::unavailable(time_point now) const noexcept {
  return available_at(now) > now;
}

time_point deployment_runtime::available_at(time_point now) const noexcept {
  if (board.disabled.load(std::memory_order_relaxed))
    return time_point::max();
  auto down = board.down_until_ns.load(std::memory_order_relaxed);
  if (down != 0 && from_ns(down) > now)
    return from_ns(down);
  switch (static_cast<breaker_state>(
      board.breaker.load(std::memory_order_relaxed))) {
    case breaker_state::open: {
      auto until = from_ns(board.open_until_ns.load(std::memory_order_relaxed));
      return until > now ? until : now;
    }
    case breaker_state::forced_open:
      return time_point::max();
    default:
      return now;
  }
}

void deployment_runtime::publish_breaker(time_point now) noexcept {
  auto st = breaker.state();
  board.breaker.store(static_cast<uint8_t>(st), std::memory_order_relaxed);
  board.reopens.store(breaker.reopens(), std::memory_order_relaxed);
  if (st == breaker_state::open)
    board.open_until_ns.store(to_ns(breaker.retry_at(now)),
                              std::memory_order_relaxed);
}

void deployment_runtime::mark_down(time_point until, failure why) noexcept {
  auto text = std::string{to_string(why.cls)};
  if (why.status != 0)
    text += " (" + std::to_string(why.status) + ")";
  if (!why.code.empty())
    text += ": " + why.code;
  {
    std::lock_guard guard{down_mtx};
    down_text = std::move(text);
  }
  board.down_class.store(static_cast<uint8_t>(why.cls),
                         std::memory_order_relaxed);
  down_reason = std::move(why);
  board.down_until_ns.store(to_ns(until), std::memory_order_relaxed);
}

bool deployment_runtime::take_adopted(uint64_t id, uint32_t dispatch) {
  std::lock_guard guard{handover_mtx};
  return adopted.erase({id, dispatch}) != 0;
}

void deployment_runtime::clear_down() noexcept {
  {
    std::lock_guard guard{down_mtx};
    down_text.clear();
  }
  down_reason = failure{};
  board.down_until_ns.store(0, std::memory_order_relaxed);
}

std::optional<timespan>
deployment_view::hedge_delay(const route_config* route) const noexcept {
  auto ns = rt_->slot(route).hedge_delay_ns.load(std::memory_order_relaxed);
  if (ns <= 0)
    return std::nullopt;
  return from_ns(ns) - time_point{};
}

namespace {

/// Percentiles of the recent successful attempts and the recent failure
/// share per class, from the board's ring.
void recent_summary(const deployment_board& b, deployment_status& out) {
  std::vector<int64_t> ok;
  std::array<uint32_t, error_class_count> failed{};
  size_t samples = 0;
  for (size_t i = 0; i < deployment_board::recent_samples; ++i) {
    auto o = b.recent_outcome[i].load(std::memory_order_relaxed);
    if (o == deployment_board::no_sample)
      continue;
    ++samples;
    if (o == 0)
      ok.push_back(b.recent_latency_ns[i].load(std::memory_order_relaxed));
    else if (o <= error_class_count)
      ++failed[o - 1];
  }
  out.recent_samples = static_cast<uint32_t>(samples);
  for (size_t c = 0; c < error_class_count; ++c)
    if (failed[c] > 0)
      out.recent_errors[std::string{to_string(all_error_classes[c])}]
          = static_cast<double>(failed[c]) / static_cast<double>(samples);
  if (ok.empty())
    return;
  std::sort(ok.begin(), ok.end());
  auto at = [&](double q) {
    auto idx = static_cast<size_t>(q * static_cast<double>(ok.size() - 1));
    return timespan{ok[idx]};
  };
  out.latency_p50 = at(0.50);
  out.latency_p90 = at(0.90);
  out.latency_p99 = at(0.99);
}

} // namespace

deployment_status deployment_view::status(time_point now) const {
  const auto& b = rt_->board;
  auto relaxed = std::memory_order_relaxed;
  deployment_status out;
  out.name = rt_->config.name;
  out.provider = rt_->config.provider;
  out.model = rt_->config.ep.model;
  out.breaker = static_cast<breaker_state>(b.breaker.load(relaxed));
  out.disabled = b.disabled.load(relaxed);
  out.in_flight = b.in_flight.load(relaxed);
  out.queued = b.queued.load(relaxed);
  out.calls = b.calls.load(relaxed);
  out.failures = b.failures.load(relaxed);
  out.recent_error_rate = b.error_rate.load(relaxed);
  out.latency_ewma = from_ns(b.latency_ewma_ns.load(relaxed)) - time_point{};
  out.restarts = b.restarts.load(relaxed);
  auto down = b.down_until_ns.load(relaxed);
  out.marked_down = down != 0 && from_ns(down) > now;
  if (out.marked_down) {
    std::lock_guard guard{rt_->down_mtx};
    out.down_reason = rt_->down_text;
  }
  if (auto v = b.remaining_requests.load(relaxed); v >= 0)
    out.ratelimit_remaining_requests = v;
  if (auto v = b.remaining_tokens.load(relaxed); v >= 0)
    out.ratelimit_remaining_tokens = v;
  if (auto ms = b.last_transition_ms.load(relaxed); ms != 0)
    out.last_transition
        = std::chrono::system_clock::time_point{std::chrono::milliseconds{ms}};
  recent_summary(b, out);
  return out;
}

} // namespace switchyard
