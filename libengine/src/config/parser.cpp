#include "parser.hpp"

#include "sections.hpp"

namespace switchyard::config_detail {

std::vector<std::string_view> keys_of(const json& obj) {
  std::vector<std::string_view> result;
  if (obj.is_object())
    for (auto& [key, _] : obj.items())
      result.push_back(key);
  return result;
}

std::string unknown_name(std::string_view what, std::string_view name,
                         const std::vector<std::string_view>& known) {
  std::string msg = "unknown ";
  msg += what;
  msg += " \"";
  msg += name;
  msg += '"';
  if (known.empty()) {
    msg += " (no ";
    msg += what;
    msg += "s are defined)";
  } else {
    msg += hint(name, known);
  }
  return msg;
}

void config_parser::run(const json& root) {
  if (!rd_.object(root, "",
                  {"providers", "deployments", "routes", "defaults", "engine",
                   "default_route", "log", "state"}))
    return;
  if (auto d = member(root, "defaults"))
    parse_defaults(*d);
  if (auto e = member(root, "engine"))
    parse_engine(*e);
  if (auto l = member(root, "log"))
    apply_log(rd_, *l, "log", cfg.log);
  if (auto s = member(root, "state"))
    apply_state(rd_, *s, "state", cfg.state);
  if (auto ps = member(root, "providers");
      ps && rd_.any_object(*ps, "providers"))
    for (auto& [name, obj] : ps->items())
      parse_provider(name, obj);
  if (auto ds = member(root, "deployments");
      ds && rd_.any_object(*ds, "deployments")) {
    declared_deployments_ = keys_of(*ds);
    for (auto& [name, obj] : ds->items())
      parse_deployment(name, obj);
  }
  auto rs = member(root, "routes");
  if (rs == nullptr)
    rd_.error("routes", "missing required key");
  else if (rd_.any_object(*rs, "routes")) {
    if (rs->empty())
      rd_.error("routes", "expected at least one route");
    for (auto& [name, obj] : rs->items())
      parse_route(name, obj);
  }
  resolve_breakers();
  parse_default_route(member(root, "default_route"));
}

void config_parser::parse_defaults(const json& obj) {
  if (!apply_route_policy(rd_, obj, "defaults", cfg.defaults.route,
                          {"breaker", "limits"}))
    return;
  with(obj, "breaker", [&](const json& v) {
    apply_breaker(rd_, v, "defaults.breaker", cfg.defaults.breaker);
  });
  with(obj, "limits", [&](const json& v) {
    apply_limits(rd_, v, "defaults.limits", cfg.defaults.limits);
  });
}

void config_parser::parse_engine(const json& obj) {
  if (!rd_.object(obj, "engine", {"threads", "transport", "cache"}))
    return;
  with(obj, "threads", [&](const json& v) {
    if (auto n = rd_.integer(v, "engine.threads", 0, 1024))
      cfg.engine.threads = static_cast<uint32_t>(*n);
  });
  with(obj, "transport", [&](const json& v) {
    apply_transport(rd_, v, "engine.transport", cfg.engine.transport);
  });
  with(obj, "cache", [&](const json& v) {
    apply_cache_limits(rd_, v, "engine.cache", cfg.engine.cache);
  });
}

} // namespace switchyard::config_detail
