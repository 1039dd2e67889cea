#define CAF_SUITE config_state

#include "switchyard/config.hpp"

#include <map>
#include <string>
#include <vector>

#include <caf/test/unit_test.hpp>
#include <nlohmann/json.hpp>

using namespace switchyard;
using json = nlohmann::json;
using strings = std::vector<std::string>;

namespace {

env_lookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](
             const std::string& name) -> std::optional<std::string> {
    if (auto i = vars.find(name); i != vars.end())
      return i->second;
    return std::nullopt;
  };
}

/// A valid config with a `state` section that each test breaks in one place.
json good() {
  return json::parse(R"({
    "providers": { "openai": { "kind": "openai_chat" } },
    "deployments": { "gpt": { "provider": "openai", "model": "gpt-4o" } },
    "routes": { "chat": { "targets": ["gpt"] } },
    "state": {
      "snapshot": { "path": "/tmp/state.json", "interval_ms": 1000 },
      "redis": { "url": "redis://:${REDIS_PASSWORD}@10.0.0.7:6380/2",
                 "key_prefix": "sy:", "command_timeout_ms": 3 }
    }
  })");
}

env_lookup env() {
  return fake_env({{"REDIS_PASSWORD", "s3cret"}});
}

strings errors_of(const json& cfg) {
  auto result = parse_config(cfg.dump(), env());
  strings out;
  if (!result)
    for (auto& e : result.error())
      out.push_back(to_string(e));
  return out;
}

} // namespace

CAF_TEST(a state section is read with its defaults) {
  auto cfg = parse_config(good().dump(), env());
  CAF_REQUIRE(cfg.has_value());
  auto& st = cfg->state;
  CAF_CHECK_EQUAL(st.snapshot.path, "/tmp/state.json");
  CAF_CHECK(st.snapshot.interval == std::chrono::milliseconds{1000});
  CAF_CHECK_EQUAL(st.redis.host, "10.0.0.7");
  CAF_CHECK_EQUAL(st.redis.port, 6380);
  CAF_CHECK_EQUAL(st.redis.db, 2u);
  CAF_CHECK_EQUAL(st.redis.password, "s3cret");
  CAF_CHECK_EQUAL(st.redis.key_prefix, "sy:");
  CAF_CHECK(st.redis.command_timeout == std::chrono::milliseconds{3});
  CAF_CHECK(st.redis.connect_timeout == std::chrono::milliseconds{5});
  CAF_CHECK(st.redis.poll_interval == std::chrono::milliseconds{200});
}

CAF_TEST(without a state section nothing is persisted or shared) {
  auto cfg = good();
  cfg.erase("state");
  auto parsed = parse_config(cfg.dump(), env());
  CAF_REQUIRE(parsed.has_value());
  CAF_CHECK(parsed->state.snapshot.path.empty());
  CAF_CHECK(parsed->state.redis.url.empty());
}

CAF_TEST(a url without port or db takes the defaults) {
  redis_config out;
  CAF_CHECK(!parse_redis_url("redis://localhost", out).has_value());
  CAF_CHECK_EQUAL(out.host, "localhost");
  CAF_CHECK_EQUAL(out.port, 6379);
  CAF_CHECK_EQUAL(out.db, 0u);
  CAF_CHECK(out.password.empty());
}

CAF_TEST(unknown keys get a hint) {
  auto cfg = good();
  cfg["state"]["redis"]["sentinels"] = json::array({"a:26379"});
  cfg["state"]["snapshot"]["intervall_ms"] = 5;
  CAF_CHECK_EQUAL(errors_of(cfg),
                  (strings{"state.snapshot.intervall_ms: unknown key (did "
                           "you mean \"interval_ms\"?)",
                           "state.redis.sentinels: unknown key (expected "
                           "one of: url, key_prefix, connect_timeout_ms, "
                           "command_timeout_ms, poll_interval_ms, "
                           "probe_lease_ms, limit_slices)"}));
  cfg = good();
  cfg["state"]["cache"] = true;
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"state.cache: unknown key (expected one of: "
                          "snapshot, redis)"});
}

CAF_TEST(bad urls say what is wrong) {
  auto with_url = [](std::string url) {
    auto cfg = good();
    cfg["state"]["redis"]["url"] = std::move(url);
    return errors_of(cfg);
  };
  CAF_CHECK_EQUAL(with_url("http://x:1"),
                  strings{"state.redis.url: expected "
                          "redis://[:password@]host[:port][/db]"});
  CAF_CHECK_EQUAL(with_url("redis://x:99999"),
                  strings{"state.redis.url: port must be a number from 1 to "
                          "65535, got \"99999\""});
  CAF_CHECK_EQUAL(with_url("redis://x:6379/16"),
                  strings{"state.redis.url: database must be a number from 0 "
                          "to 15, got \"16\""});
  CAF_CHECK_EQUAL(with_url("redis://user:pw@x"),
                  strings{"state.redis.url: expected \":password@\" before "
                          "the host (Redis ACL user names are not supported)"});
  CAF_CHECK_EQUAL(with_url("redis://:6379"),
                  strings{"state.redis.url: missing host"});
  CAF_CHECK_EQUAL(with_url("redis://:${NOPE}@x"),
                  strings{"state.redis.url: environment variable NOPE is not "
                          "set"});
}

CAF_TEST(required keys and bounds) {
  auto cfg = good();
  cfg["state"]["redis"].erase("url");
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"state.redis.url: missing required key"});
  cfg = good();
  cfg["state"]["snapshot"].erase("path");
  CAF_CHECK_EQUAL(errors_of(cfg),
                  strings{"state.snapshot.path: missing required key"});
  cfg = good();
  cfg["state"]["redis"]["command_timeout_ms"] = 500;
  CAF_CHECK_EQUAL(errors_of(cfg), strings{"state.redis.command_timeout_ms: "
                                          "must not exceed poll_interval_ms"});
  cfg = good();
  cfg["state"]["snapshot"]["interval_ms"] = 0;
  CAF_CHECK_EQUAL(errors_of(cfg).size(), 1u);
}
