#include "engine_core.hpp"

namespace switchyard {

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
