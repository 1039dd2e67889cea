#include "runtime.hpp"

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
  if (st == breaker_state::open)
    board.open_until_ns.store(to_ns(breaker.retry_at(now)),
                              std::memory_order_relaxed);
}

void deployment_runtime::mark_down(time_point until, failure why) noexcept {
  down_reason = std::move(why);
  board.down_until_ns.store(to_ns(until), std::memory_order_relaxed);
}

engine_core::engine_core(engine_config cfg, std::shared_ptr<http_client> http,
                         std::shared_ptr<event_sink> sink, uint64_t seed,
                         time_point now)
    : config(std::make_shared<const engine_config>(std::move(cfg))),
      client(std::move(http)), events(std::move(sink)),
      directory(config->deployments.size()) {
  size_t idx = 0;
  for (const auto& [name, dep] : config->deployments) {
    deployment_index.emplace(name, idx);
    deployments.push_back(std::make_shared<deployment_runtime>(
        idx, dep, config->defaults, seed + idx * 7919, now));
    ++idx;
  }
  auto resolve = [this](const std::vector<route_target>& ts) {
    std::vector<size_t> out;
    for (const auto& t : ts)
      if (auto i = deployment_index.find(t.deployment);
          i != deployment_index.end())
        out.push_back(i->second);
    return out;
  };
  for (const auto& [name, route] : config->routes) {
    route_plan plan;
    plan.config = std::make_shared<const route_config>(route);
    plan.targets = resolve(route.targets);
    for (auto dep : plan.targets)
      plan.target_ids.push_back(stable_hash(deployments[dep]->config.name));
    plan.context_fallbacks = resolve(route.context_fallbacks);
    plan.content_fallbacks = resolve(route.content_policy_fallbacks);
    for (const auto* list :
         {&plan.targets, &plan.context_fallbacks, &plan.content_fallbacks})
      for (auto dep : *list)
        deployments[dep]->route_slots.try_emplace(
            plan.config.get(),
            std::make_unique<route_slot>(plan.config->policy));
    routes.emplace(name, std::move(plan));
  }
}

const route_plan* engine_core::find_route(std::string_view name) const {
  if (name.empty())
    name = config->default_route;
  if (name.empty() && routes.size() == 1)
    return &routes.begin()->second;
  auto i = routes.find(name);
  return i != routes.end() ? &i->second : nullptr;
}

} // namespace switchyard
