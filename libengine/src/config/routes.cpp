#include "parser.hpp"
#include "sections.hpp"

#include <algorithm>

namespace switchyard::config_detail {

std::optional<route_target>
config_parser::resolve_target(const std::string& name,
                              const std::string& path) {
  auto i = cfg.deployments.find(name);
  if (i == cfg.deployments.end()) {
    // A declared deployment with errors of its own was reported already.
    if (std::find(declared_deployments_.begin(), declared_deployments_.end(),
                  name)
        == declared_deployments_.end())
      rd_.error(path, unknown_name("deployment", name, declared_deployments_));
    return std::nullopt;
  }
  auto& d = i->second;
  return route_target{d.name, d.ep, d.timeouts, d.weight, d.priority};
}

void config_parser::parse_route(const std::string& name, const json& obj) {
  auto path = child("routes", name);
  auto at = [&](std::string_view key) { return child(path, key); };
  route_config route;
  route.name = name;
  route.policy = cfg.defaults.route;
  if (!apply_route_policy(rd_, obj, path, route.policy,
                          {"targets", "breaker", "context_fallbacks",
                           "content_policy_fallbacks"}))
    return;
  auto tp = at("targets");
  auto targets = member(obj, "targets");
  if (targets == nullptr) {
    rd_.error(tp, "missing required key");
  } else if (rd_.array(*targets, tp)) {
    if (targets->empty())
      rd_.error(tp, "expected at least one target");
    else if (targets->size() > max_route_targets)
      rd_.error(tp, "expected at most " + std::to_string(max_route_targets)
                        + " targets, got " + std::to_string(targets->size())
                        + " (the router orders at most "
                        + std::to_string(max_route_targets)
                        + " candidates per call)");
    std::map<std::string, size_t> seen;
    for (size_t i = 0; i < targets->size(); ++i) {
      auto& t = (*targets)[i];
      auto ep = element(tp, i);
      std::optional<std::string> dname;
      const json* weight = nullptr;
      const json* priority = nullptr;
      auto name_path = ep;
      if (t.is_string()) {
        dname = rd_.string(t, ep);
      } else if (t.is_object()) {
        if (!rd_.object(t, ep, {"deployment", "weight", "priority"}))
          continue;
        name_path = child(ep, "deployment");
        if (auto dv = member(t, "deployment"))
          dname = rd_.string(*dv, name_path);
        else
          rd_.error(name_path, "missing required key");
        weight = member(t, "weight");
        priority = member(t, "priority");
      } else {
        rd_.error(ep, "expected a deployment name or an object, got "
                          + describe(t));
        continue;
      }
      if (!dname)
        continue;
      if (auto [it, added] = seen.emplace(*dname, i); !added) {
        rd_.error(name_path, "duplicate target \"" + *dname + "\" (also "
                                 + element("targets", it->second) + ")");
        continue;
      }
      auto target = resolve_target(*dname, name_path);
      if (weight != nullptr)
        if (auto w = rd_.number(*weight, child(ep, "weight"), 0, 1e6))
          if (target)
            target->weight = *w;
      if (priority != nullptr)
        if (auto n = rd_.integer(*priority, child(ep, "priority"), -1'000'000,
                                 1'000'000))
          if (target)
            target->priority = static_cast<int32_t>(*n);
      if (target)
        route.targets.push_back(std::move(*target));
    }
    if (route.policy.strategy == balance_strategy::weighted_random
        && !route.targets.empty() && route.targets.size() == targets->size()
        && std::all_of(route.targets.begin(), route.targets.end(),
                       [](const route_target& x) { return x.weight <= 0; }))
      rd_.error(tp, "every target has weight 0; weighted_random needs a "
                    "positive weight");
  }
  route.context_fallbacks
      = parse_fallbacks(obj, path, "context_fallbacks", route);
  route.content_policy_fallbacks
      = parse_fallbacks(obj, path, "content_policy_fallbacks", route);
  const json* breaker = member(obj, "breaker");
  if (breaker != nullptr) {
    // Validate once here; the values land in the deployments' breakers.
    breaker_settings scratch = cfg.defaults.breaker;
    apply_breaker(rd_, *breaker, at("breaker"), scratch);
    for (auto* list : {&route.targets, &route.context_fallbacks,
                       &route.content_policy_fallbacks})
      for (auto& t : *list)
        route_breakers_[t.deployment].emplace_back(path, breaker);
  }
  cfg.routes.emplace(name, std::move(route));
}

std::vector<route_target>
config_parser::parse_fallbacks(const json& obj, const std::string& route_path,
                               std::string_view key,
                               const route_config& route) {
  std::vector<route_target> result;
  auto value = member(obj, key);
  auto path = child(route_path, key);
  if (value == nullptr || !rd_.array(*value, path))
    return result;
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < value->size(); ++i) {
    auto ep = element(path, i);
    auto dname = rd_.string((*value)[i], ep);
    if (!dname)
      continue;
    if (auto [it, added] = seen.emplace(*dname, i); !added) {
      rd_.error(ep, "duplicate fallback \"" + *dname + "\" (also "
                        + element(std::string{key}, it->second) + ")");
      continue;
    }
    auto target = resolve_target(*dname, ep);
    if (!target)
      continue;
    if (key == "context_fallbacks") {
      // A context fallback must hold more than every regular target.
      auto window = cfg.deployments.at(*dname).context_window;
      for (auto& t : route.targets) {
        auto other = cfg.deployments.at(t.deployment).context_window;
        if (window > 0 && other > 0 && window <= other) {
          rd_.error(ep, "deployment \"" + *dname + "\" has a context window of "
                            + std::to_string(window)
                            + " tokens, not larger than target \""
                            + t.deployment + "\" (" + std::to_string(other)
                            + ")");
          break;
        }
      }
    }
    result.push_back(std::move(*target));
  }
  return result;
}

void config_parser::resolve_breakers() {
  for (auto& [name, d] : cfg.deployments) {
    d.breaker = cfg.defaults.breaker;
    auto& entry = deployments_[name];
    if (auto i = route_breakers_.find(name); i != route_breakers_.end()) {
      // A deployment has one breaker: the routes sharing it must agree.
      auto& [first_path, first] = i->second.front();
      bool agree = true;
      for (auto& [route_path, b] : i->second) {
        if (*b == *first)
          continue;
        rd_.error(child(route_path, "breaker"),
                  "conflicts with " + child(first_path, "breaker")
                      + " for shared deployment \"" + name
                      + "\" (a deployment has one breaker; set "
                      + child(entry.path, "breaker") + " instead)");
        agree = false;
        break;
      }
      if (agree) {
        std::vector<config_error> ignored;
        reader quiet{env_, ignored};
        apply_breaker(quiet, *first, "", d.breaker);
      }
    }
    if (entry.breaker != nullptr)
      apply_breaker(rd_, *entry.breaker, child(entry.path, "breaker"),
                    d.breaker);
  }
}

void config_parser::parse_default_route(const json* value) {
  if (value == nullptr) {
    if (cfg.routes.size() == 1)
      cfg.default_route = cfg.routes.begin()->first;
    return;
  }
  auto name = rd_.string(*value, "default_route");
  if (!name)
    return;
  if (cfg.routes.count(*name) == 0) {
    std::vector<std::string_view> known;
    for (auto& [k, _] : cfg.routes)
      known.push_back(k);
    rd_.error("default_route", unknown_name("route", *name, known));
    return;
  }
  cfg.default_route = std::move(*name);
}

} // namespace switchyard::config_detail
