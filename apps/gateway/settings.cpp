#include "settings.hpp"

#include "config/reader.hpp"

#include <charconv>

namespace switchyard::gateway {

namespace {

using json = nlohmann::json;
using config_detail::child;
using config_detail::element;
using config_detail::member;
using config_detail::reader;

void parse_key(reader& rd, const json& obj, const std::string& path,
               std::vector<client_key>& out) {
  if (!rd.object(obj, path, {"key", "routes", "requests_per_minute"}))
    return;
  client_key k;
  if (auto v = member(obj, "key")) {
    if (auto s = rd.string(*v, child(path, "key"))) {
      if (s->empty())
        rd.error(child(path, "key"), "expected a non-empty key");
      k.key = std::move(*s);
    }
  } else {
    rd.error(child(path, "key"), "missing required key");
  }
  if (auto v = member(obj, "routes"); v && rd.array(*v, child(path, "routes")))
    for (size_t i = 0; i < v->size(); ++i)
      if (auto s = rd.string((*v)[i], element(child(path, "routes"), i))) {
        if (*s != "*")
          k.routes.push_back(std::move(*s));
      }
  if (auto v = member(obj, "requests_per_minute"))
    if (auto n
        = rd.integer(*v, child(path, "requests_per_minute"), 0, 1000000000))
      k.requests_per_minute = *n;
  out.push_back(std::move(k));
}

void parse_limits(reader& rd, const json& obj, gateway_limits& lim) {
  const std::string path = "gateway.limits";
  if (!rd.object(obj, path,
                 {"max_body_bytes", "max_header_bytes", "max_connections",
                  "stream_buffer_bytes", "read_timeout_ms", "idle_timeout_ms",
                  "write_timeout_ms"}))
    return;
  auto size = [&](std::string_view key, size_t& out, int64_t min, int64_t max) {
    if (auto v = member(obj, key))
      if (auto n = rd.integer(*v, child(path, key), min, max))
        out = static_cast<size_t>(*n);
  };
  size("max_body_bytes", lim.max_body_bytes, 1024, int64_t{1} << 30);
  size("max_header_bytes", lim.max_header_bytes, 1024, int64_t{1} << 20);
  size("max_connections", lim.max_connections, 1, 1000000);
  size("stream_buffer_bytes", lim.stream_buffer_bytes, 1024, int64_t{1} << 30);
  auto ms = [&](std::string_view key, timespan& out) {
    if (auto v = member(obj, key))
      if (auto t = rd.millis(*v, child(path, key), 1))
        out = *t;
  };
  ms("read_timeout_ms", lim.read_timeout);
  ms("idle_timeout_ms", lim.idle_timeout);
  ms("write_timeout_ms", lim.write_timeout);
}

void parse_section(reader& rd, const json& obj, gateway_settings& out) {
  if (!rd.object(obj, "gateway",
                 {"listen", "keys", "admin_key", "limits", "drain_grace_ms"}))
    return;
  if (auto v = member(obj, "listen"))
    if (auto s = rd.string(*v, "gateway.listen")) {
      if (auto addr = parse_listen(*s); !addr)
        rd.error("gateway.listen", addr.error());
      out.listen = std::move(*s);
    }
  if (auto v = member(obj, "keys"); v && rd.array(*v, "gateway.keys"))
    for (size_t i = 0; i < v->size(); ++i)
      parse_key(rd, (*v)[i], element("gateway.keys", i), out.keys);
  if (auto v = member(obj, "admin_key"))
    if (auto s = rd.string(*v, "gateway.admin_key")) {
      if (s->empty())
        rd.error("gateway.admin_key", "expected a non-empty key");
      out.admin_key = std::move(*s);
    }
  if (auto v = member(obj, "limits"))
    parse_limits(rd, *v, out.limits);
  if (auto v = member(obj, "drain_grace_ms"))
    if (auto t = rd.millis(*v, "gateway.drain_grace_ms", 0))
      out.drain_grace = *t;
  for (size_t i = 0; i < out.keys.size(); ++i) {
    if (!out.admin_key.empty() && out.keys[i].key == out.admin_key)
      rd.error(child(element("gateway.keys", i), "key"),
               "equals gateway.admin_key (use distinct keys)");
    for (size_t j = 0; j < i; ++j)
      if (!out.keys[i].key.empty() && out.keys[i].key == out.keys[j].key)
        rd.error(child(element("gateway.keys", i), "key"),
                 "duplicate of gateway.keys[" + std::to_string(j) + "].key");
  }
}

} // namespace

expected<gateway_file, std::string> parse_gateway_file(std::string_view text,
                                                       const env_lookup& env) {
  json root = json::parse(text, nullptr, false, true);
  if (root.is_discarded())
    return unexpected<std::string>{
        "invalid JSON (the engine's parser names the position)"};
  gateway_file out;
  std::vector<config_error> errors;
  reader rd{env, errors};
  if (root.is_object()) {
    if (auto i = root.find("gateway"); i != root.end()) {
      parse_section(rd, *i, out.settings);
      root.erase(i);
    }
  }
  // Routes named by keys must exist in the engine's part.
  if (auto rs = member(root, "routes"); rs && rs->is_object())
    for (size_t i = 0; i < out.settings.keys.size(); ++i) {
      const auto& routes = out.settings.keys[i].routes;
      for (size_t j = 0; j < routes.size(); ++j)
        if (!rs->contains(routes[j])) {
          std::vector<std::string_view> known;
          for (auto& [name, _] : rs->items())
            known.push_back(name);
          rd.error(element(child(element("gateway.keys", i), "routes"), j),
                   "unknown route \"" + routes[j] + "\""
                       + config_detail::hint(routes[j], known));
        }
    }
  if (!errors.empty())
    return unexpected<std::string>{to_string(errors)};
  out.engine_json = root.dump();
  return out;
}

expected<listen_address, std::string> parse_listen(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return unexpected<std::string>{"expected HOST:PORT, got \""
                                   + std::string{text} + '"'};
  listen_address out;
  auto host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  out.host = std::string{host};
  auto port = text.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec]
      = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size() || value > 65535
      || port.empty())
    return unexpected<std::string>{"invalid port \"" + std::string{port}
                                   + "\" (expected 0..65535)"};
  out.port = static_cast<uint16_t>(value);
  return out;
}

bool is_loopback(std::string_view host) {
  return host == "localhost" || host == "::1" || host.substr(0, 4) == "127.";
}

} // namespace switchyard::gateway
