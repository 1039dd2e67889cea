#include "deployment_runtime.hpp"

#include "engine_core.hpp"

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
  return out;
}

} // namespace switchyard
