// The `state` section: snapshots and the shared Redis (see configs/README.md).

#include "keys.hpp"
#include "sections.hpp"

#include <charconv>

namespace switchyard {

std::optional<std::string> parse_redis_url(std::string_view url,
                                           redis_config& out) {
  constexpr std::string_view scheme = "redis://";
  if (url.substr(0, scheme.size()) != scheme)
    return "expected redis://[:password@]host[:port][/db]";
  auto rest = url.substr(scheme.size());
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    auto auth = rest.substr(0, at);
    if (auth.empty() || auth.front() != ':')
      return "expected \":password@\" before the host (Redis ACL user names "
             "are not supported)";
    out.password = std::string{auth.substr(1)};
    if (out.password.empty())
      return "empty password after \":\"";
    rest = rest.substr(at + 1);
  }
  auto slash = rest.find('/');
  auto hostport = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    auto db = rest.substr(slash + 1);
    uint32_t n = 0;
    auto [p, ec] = std::from_chars(db.data(), db.data() + db.size(), n);
    if (db.empty() || ec != std::errc{} || p != db.data() + db.size() || n > 15)
      return "database must be a number from 0 to 15, got \"" + std::string{db}
             + "\"";
    out.db = n;
  }
  auto colon = hostport.rfind(':');
  auto host = hostport.substr(0, colon);
  if (host.empty())
    return std::string{"missing host"};
  out.host = std::string{host};
  if (colon != std::string_view::npos) {
    auto port = hostport.substr(colon + 1);
    uint32_t n = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (port.empty() || ec != std::errc{} || p != port.data() + port.size()
        || n == 0 || n > 65535)
      return "port must be a number from 1 to 65535, got \"" + std::string{port}
             + "\"";
    out.port = static_cast<uint16_t>(n);
  }
  return std::nullopt;
}

namespace config_detail {

namespace {

const section_keys<snapshot_config>& snapshot_keys() {
  using S = snapshot_config;
  static const section_keys<S> keys{
      {"path", string_key(&S::path)},
      {"interval_ms", millis_key(&S::interval, 10)},
  };
  return keys;
}

const section_keys<redis_config>& redis_keys() {
  using S = redis_config;
  static const section_keys<S> keys{
      {"url",
       [](reader& rd, const json& v, const std::string& p, S& out) {
         auto url = rd.string(v, p);
         if (!url)
           return false;
         if (auto err = parse_redis_url(*url, out)) {
           rd.error(p, *err);
           return false;
         }
         out.url = std::move(*url);
         return true;
       }},
      {"key_prefix", string_key(&S::key_prefix)},
      {"connect_timeout_ms", millis_key(&S::connect_timeout, 1)},
      {"command_timeout_ms", millis_key(&S::command_timeout, 1)},
      {"poll_interval_ms", millis_key(&S::poll_interval, 10)},
      {"probe_lease_ms", millis_key(&S::probe_lease, 100)},
      {"limit_slices", integer_key(&S::limit_slices, 1, 1000)},
  };
  return keys;
}

} // namespace

void apply_state(reader& rd, const json& obj, const std::string& path,
                 state_config& out) {
  if (!rd.object(obj, path, {"snapshot", "redis"}))
    return;
  with(obj, "snapshot", [&](const json& v) {
    auto p = child(path, "snapshot");
    if (read_section(rd, v, p, snapshot_keys(), out.snapshot).object
        && out.snapshot.path.empty())
      rd.error(child(p, "path"), "missing required key");
  });
  with(obj, "redis", [&](const json& v) {
    auto p = child(path, "redis");
    auto r = read_section(rd, v, p, redis_keys(), out.redis);
    if (r.object && out.redis.url.empty() && !r.rejects("url"))
      rd.error(child(p, "url"), "missing required key");
    if (r.object && out.redis.command_timeout > out.redis.poll_interval)
      rd.error(child(p, "command_timeout_ms"),
               "must not exceed poll_interval_ms");
  });
}

} // namespace config_detail

} // namespace switchyard
