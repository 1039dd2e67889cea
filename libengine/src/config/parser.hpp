#pragma once

// Internal to the config parser: the parser's state, shared by the files
// that read providers, deployments and routes.

#include "reader.hpp"
#include "switchyard/config.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchyard::config_detail {

/// A provider plus what the user said explicitly (resolved per deployment).
struct provider_entry {
  provider_config cfg;
  std::optional<auth_style> explicit_auth;
  bool ok = true;
};

/// What a deployment needs after routes are known.
struct deployment_entry {
  const json* breaker = nullptr;
  std::string path;
};

/// Returns the keys of an object (empty for anything else).
std::vector<std::string_view> keys_of(const json& obj);

/// Renders `unknown <what> "<name>"` plus a suggestion or the known names.
std::string unknown_name(std::string_view what, std::string_view name,
                         const std::vector<std::string_view>& known);

/// Reads a whole configuration document into `cfg`, recording every error.
class config_parser {
public:
  config_parser(const env_lookup& env, std::vector<config_error>& errors)
      : env_(env), rd_(env, errors) {
    // nop
  }

  /// Reads `root` into `cfg`.
  void run(const json& root);

  /// The result; complete only when no error was recorded.
  engine_config cfg;

private:
  void parse_defaults(const json& obj);
  void parse_engine(const json& obj);
  void parse_provider(const std::string& name, const json& obj);
  void parse_deployment(const std::string& name, const json& obj);
  void parse_route(const std::string& name, const json& obj);
  /// Looks up a deployment for a route; reports unknown names.
  std::optional<route_target> resolve_target(const std::string& name,
                                             const std::string& path);
  /// Reads `context_fallbacks` or `content_policy_fallbacks`.
  std::vector<route_target> parse_fallbacks(const json& obj,
                                            const std::string& route_path,
                                            std::string_view key,
                                            const route_config& route);
  /// Gives each deployment its breaker once all routes are known.
  void resolve_breakers();
  void parse_default_route(const json* value);

  const env_lookup& env_;
  reader rd_;
  std::map<std::string, provider_entry, std::less<>> providers_;
  std::map<std::string, deployment_entry, std::less<>> deployments_;
  /// Names declared in `deployments`, including those that failed to parse.
  std::vector<std::string_view> declared_deployments_;
  /// For each deployment: (route path, route breaker) of the routes using it.
  std::map<std::string, std::vector<std::pair<std::string, const json*>>,
           std::less<>>
      route_breakers_;
};

} // namespace switchyard::config_detail
