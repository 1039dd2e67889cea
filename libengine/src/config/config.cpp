#include "switchyard/config.hpp"

#include "parser.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace switchyard {

using config_detail::config_parser;
using config_detail::json;

namespace {

/// Turns nlohmann's "[json.exception.parse_error.101] parse error at line 3,
/// column 5: syntax error ..." into "invalid JSON at line 3, column 5: ...".
std::string syntax_message(const std::string& what) {
  auto pos = what.find("at line ");
  if (pos == std::string::npos)
    return "invalid JSON: " + what;
  return "invalid JSON " + what.substr(pos);
}

} // namespace

// -- public API ---------------------------------------------------------------

std::string to_string(const config_error& err) {
  if (err.path.empty())
    return err.message;
  return err.path + ": " + err.message;
}

std::string to_string(const std::vector<config_error>& errs) {
  std::string result;
  for (auto& err : errs) {
    result += to_string(err);
    result += '\n';
  }
  return result;
}

env_lookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (auto* value = std::getenv(name.c_str()))
      return std::string{value};
    return std::nullopt;
  };
}

const route_config* engine_config::find_route(std::string_view name) const {
  auto i = routes.find(name);
  return i == routes.end() ? nullptr : &i->second;
}

const deployment_config*
engine_config::find_deployment(std::string_view name) const {
  auto i = deployments.find(name);
  return i == deployments.end() ? nullptr : &i->second;
}

expected<engine_config, std::vector<config_error>>
parse_config(std::string_view text, const env_lookup& env) {
  std::vector<config_error> errors;
  json root;
  try {
    root = json::parse(text.begin(), text.end(), nullptr, true, true);
  } catch (const json::parse_error& e) {
    errors.push_back(config_error{"", syntax_message(e.what())});
    return unexpected{std::move(errors)};
  } catch (const std::exception& e) {
    errors.push_back(
        config_error{"", std::string{"invalid JSON: "} + e.what()});
    return unexpected{std::move(errors)};
  }
  try {
    config_parser parser{env, errors};
    parser.run(root);
    if (!errors.empty())
      return unexpected{std::move(errors)};
    return std::move(parser.cfg);
  } catch (const std::exception& e) {
    errors.push_back(
        config_error{"", std::string{"internal error: "} + e.what()});
    return unexpected{std::move(errors)};
  }
}

expected<engine_config, std::vector<config_error>>
load_config_file(const std::string& path, const env_lookup& env) {
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    std::vector<config_error> errors{config_error{
        path, std::string{"cannot open file: "} + std::strerror(errno)}};
    return unexpected{std::move(errors)};
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    std::vector<config_error> errors{config_error{path, "cannot read file"}};
    return unexpected{std::move(errors)};
  }
  auto result = parse_config(buf.str(), env);
  if (!result)
    for (auto& err : result.error())
      if (err.path.empty())
        err.path = path;
  return result;
}

} // namespace switchyard