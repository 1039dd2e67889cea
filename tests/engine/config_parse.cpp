#define CAF_SUITE config_parse

#include "switchyard/config.hpp"

#include <map>
#include <string>

#include <caf/test/unit_test.hpp>
#include <nlohmann/json.hpp>

using namespace switchyard;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

/// An environment holding exactly `vars`.
env_lookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](
             const std::string& name) -> std::optional<std::string> {
    if (auto i = vars.find(name); i != vars.end())
      return i->second;
    return std::nullopt;
  };
}

/// The smallest useful config: one provider, one deployment, one route.
json minimal() {
  return json::parse(R"({
    "providers": { "openai": { "kind": "openai_chat" } },
    "deployments": { "gpt": { "provider": "openai", "model": "gpt-4o" } },
    "routes": { "chat": { "targets": ["gpt"] } }
  })");
}

engine_config parse_ok(const json& cfg, const env_lookup& env = fake_env({})) {
  auto result = parse_config(cfg.dump(), env);
  if (!result)
    CAF_FAIL("unexpected errors: " << to_string(result.error()));
  return std::move(result).value();
}

/// Path of a shipped file under configs/, derived from the absolute wire
/// directory the build passes in (`__FILE__` may be relative to the build
/// directory, e.g. under ccache's base_dir).
std::string shipped(const std::string& name) {
  std::string wire = SWITCHYARD_WIRE_DIR;
  return wire.substr(0, wire.rfind("/tests/")) + "/configs/" + name;
}

} // namespace

CAF_TEST(a minimal config resolves with built - in defaults) {
  auto cfg = parse_ok(minimal());
  CAF_CHECK_EQUAL(cfg.default_route, "chat");
  auto* route = cfg.find_route("chat");
  CAF_REQUIRE(route != nullptr);
  CAF_REQUIRE_EQUAL(route->targets.size(), 1u);
  auto& t = route->targets[0];
  CAF_CHECK_EQUAL(t.deployment, "gpt");
  CAF_CHECK(t.ep.kind == provider_kind::openai_chat);
  CAF_CHECK_EQUAL(t.ep.base_url, "https://api.openai.com");
  CAF_CHECK_EQUAL(t.ep.model, "gpt-4o");
  // No key anywhere: the endpoint sends no credentials.
  CAF_CHECK(t.ep.auth == auth_style::none);
  CAF_CHECK_EQUAL(t.weight, 1.0);
  CAF_CHECK_EQUAL(t.priority, 0);
  auto& p = route->policy;
  CAF_CHECK(p.strategy == balance_strategy::priority);
  CAF_CHECK(p.deadline == 60s);
  CAF_CHECK(p.ladder == (std::vector<timespan>{15s, 30s, 60s}));
  CAF_CHECK(p.retry.max_retries == default_retry_settings().max_retries);
  CAF_CHECK(p.retry.fall_back_on == default_retry_settings().fall_back_on);
  CAF_CHECK(p.stream_failover_mode == stream_failover::error);
  CAF_CHECK(!p.hedge.enabled);
  auto* dep = cfg.find_deployment("gpt");
  CAF_REQUIRE(dep != nullptr);
  CAF_CHECK_EQUAL(dep->breaker.consecutive_failures, 5u);
  CAF_CHECK(dep->breaker.open_duration == 5s);
  CAF_CHECK_EQUAL(dep->limits.rate.requests_per_minute, 0.0);
  CAF_CHECK_EQUAL(dep->limits.max_in_flight, 0u);
  CAF_CHECK(dep->timeouts.connect == std::optional<timespan>{10s});
  CAF_CHECK_EQUAL(cfg.engine.threads, 0u);
  CAF_CHECK_EQUAL(cfg.engine.transport.max_host_connections, 256);
  CAF_CHECK_EQUAL(cfg.engine.transport.loops, 0u);
}

CAF_TEST(comments are allowed) {
  auto text = R"(// a comment
  {
    /* providers */ "providers": { "o": { "kind": "openai_chat" } },
    "deployments": { "d": { "provider": "o", "model": "m" } }, // trailing
    "routes": { "r": { "targets": ["d"] } }
  })";
  auto result = parse_config(text, fake_env({}));
  CAF_REQUIRE(result.has_value());
  CAF_CHECK(result->find_route("r") != nullptr);
}

CAF_TEST(defaults apply where routes are silent and routes override them) {
  auto cfg = minimal();
  cfg["routes"]["batch"] = {
      {"targets", {"gpt"}},
      {"deadline_ms", 120000},
      {"backoff", {{"cap_ms", 8000}}},
      {"strategy", "cheapest"},
      {"stream_failover", "continue"},
      {"retry",
       {{"max_retries", {{"timeout", 3}}}, {"fall_back_on", {"overloaded"}}}}};
  cfg["defaults"] = {
      {"deadline_ms", 30000},
      {"ladder_ms", {1000, 2000}},
      {"strategy", "least_in_flight"},
      {"stream_failover", "restart"},
      {"backoff", {{"base_ms", 250}, {"cap_ms", 4000}, {"jitter", "none"}}},
      {"retry", {{"max_retries", {{"server_error", 5}}}}},
      {"retry_budget", {{"ratio", 0.1}}},
      {"hedge", {{"enabled", true}, {"delay_ms", 750}}},
  };
  cfg["default_route"] = "batch";
  auto c = parse_ok(cfg);
  CAF_CHECK_EQUAL(c.default_route, "batch");
  auto& chat = c.find_route("chat")->policy;
  CAF_CHECK(chat.deadline == 30s);
  CAF_CHECK(chat.ladder == (std::vector<timespan>{1s, 2s}));
  CAF_CHECK(chat.strategy == balance_strategy::least_in_flight);
  CAF_CHECK(chat.stream_failover_mode == stream_failover::restart);
  CAF_CHECK(chat.backoff.base == 250ms);
  CAF_CHECK(chat.backoff.cap == 4s);
  CAF_CHECK(chat.backoff.jitter == jitter_kind::none);
  CAF_CHECK_EQUAL(chat.retry_budget.ratio, 0.1);
  CAF_CHECK(chat.hedge.enabled);
  CAF_CHECK(chat.hedge.delay == 750ms);
  auto server = static_cast<size_t>(error_class::server_error);
  auto timeout = static_cast<size_t>(error_class::timeout);
  auto rate = static_cast<size_t>(error_class::rate_limited);
  CAF_CHECK_EQUAL(chat.retry.max_retries[server], 5u);
  // Untouched classes keep the built-in defaults.
  CAF_CHECK_EQUAL(chat.retry.max_retries[rate], 2u);
  CAF_CHECK(chat.retry.fall_back_on == default_retry_settings().fall_back_on);
  auto& batch = c.find_route("batch")->policy;
  CAF_CHECK(batch.deadline == 120s);
  CAF_CHECK(batch.ladder == (std::vector<timespan>{1s, 2s}));
  CAF_CHECK(batch.strategy == balance_strategy::cheapest);
  CAF_CHECK(batch.stream_failover_mode == stream_failover::continue_);
  // Field-by-field overlay: base from defaults, cap from the route.
  CAF_CHECK(batch.backoff.base == 250ms);
  CAF_CHECK(batch.backoff.cap == 8s);
  CAF_CHECK_EQUAL(batch.retry.max_retries[server], 5u);
  CAF_CHECK_EQUAL(batch.retry.max_retries[timeout], 3u);
  // fall_back_on replaces the whole set.
  CAF_CHECK(batch.retry.fall_back_on
            == (error_class_set{error_class::overloaded}));
}

CAF_TEST(breaker settings layer defaults then route then deployment) {
  auto cfg = minimal();
  cfg["deployments"]["claude"] = {{"provider", "openai"},
                                  {"model", "c"},
                                  {"breaker", {{"open_duration_ms", 1000}}}};
  cfg["deployments"]["spare"] = {{"provider", "openai"}, {"model", "s"}};
  cfg["routes"]["chat"]["targets"] = {"gpt", "claude"};
  cfg["routes"]["chat"]["breaker"]
      = {{"consecutive_failures", 2}, {"failure_classes", {"timeout"}}};
  cfg["routes"]["other"] = {{"targets", {"spare"}}};
  cfg["defaults"]["breaker"] = {{"consecutive_failures", 7},
                                {"failure_rate", 0.25},
                                {"window", "time"},
                                {"window_duration_ms", 60000}};
  auto c = parse_ok(cfg);
  auto& gpt = c.find_deployment("gpt")->breaker;
  CAF_CHECK_EQUAL(gpt.consecutive_failures, 2u);
  CAF_CHECK_EQUAL(gpt.failure_rate, 0.25);
  CAF_CHECK(gpt.window == breaker_settings::window_kind::time);
  CAF_CHECK(gpt.window_duration == 60s);
  CAF_CHECK(gpt.failure_classes == (error_class_set{error_class::timeout}));
  CAF_CHECK(gpt.open_duration == 5s);
  auto& claude = c.find_deployment("claude")->breaker;
  CAF_CHECK_EQUAL(claude.consecutive_failures, 2u);
  CAF_CHECK(claude.open_duration == 1s);
  auto& spare = c.find_deployment("spare")->breaker;
  CAF_CHECK_EQUAL(spare.consecutive_failures, 7u);
  CAF_CHECK(spare.failure_classes == default_breaker_failures);
  CAF_CHECK(c.default_route.empty());
}

CAF_TEST(limits layer defaults then deployment) {
  auto cfg = minimal();
  cfg["defaults"]["limits"] = {{"max_in_flight", 32}, {"max_queue", 8}};
  cfg["deployments"]["gpt"]["limits"] = {{"requests_per_minute", 600},
                                         {"tokens_per_minute", 90000.5},
                                         {"follow_headers", false},
                                         {"max_queue", 2}};
  cfg["deployments"]["other"] = {{"provider", "openai"}, {"model", "o"}};
  auto c = parse_ok(cfg);
  auto& gpt = c.find_deployment("gpt")->limits;
  CAF_CHECK_EQUAL(gpt.rate.requests_per_minute, 600.0);
  CAF_CHECK_EQUAL(gpt.rate.tokens_per_minute, 90000.5);
  CAF_CHECK(!gpt.rate.follow_headers);
  CAF_CHECK_EQUAL(gpt.max_in_flight, 32u);
  CAF_CHECK_EQUAL(gpt.max_queue, 2u);
  auto& other = c.find_deployment("other")->limits;
  CAF_CHECK_EQUAL(other.max_queue, 8u);
  CAF_CHECK(other.rate.follow_headers);
}

CAF_TEST(target objects override the deployment weight and priority) {
  auto cfg = minimal();
  cfg["deployments"]["gpt"]["weight"] = 3;
  cfg["deployments"]["gpt"]["priority"] = 2;
  cfg["deployments"]["b"] = {
      {"provider", "openai"}, {"model", "b"}, {"weight", 5}, {"priority", -1}};
  cfg["routes"]["chat"]
      = {{"targets", {"gpt", {{"deployment", "b"}, {"weight", 0.5}}}},
         {"strategy", "weighted_random"}};
  auto c = parse_ok(cfg);
  auto& ts = c.find_route("chat")->targets;
  CAF_REQUIRE_EQUAL(ts.size(), 2u);
  CAF_CHECK_EQUAL(ts[0].deployment, "gpt");
  CAF_CHECK_EQUAL(ts[0].weight, 3.0);
  CAF_CHECK_EQUAL(ts[0].priority, 2);
  CAF_CHECK_EQUAL(ts[1].deployment, "b");
  CAF_CHECK_EQUAL(ts[1].weight, 0.5);
  CAF_CHECK_EQUAL(ts[1].priority, -1);
  CAF_CHECK(c.find_route("chat")->policy.strategy
            == balance_strategy::weighted_random);
}

CAF_TEST(auth follows the provider kind unless configured) {
  auto cfg = json::parse(R"({
    "providers": {
      "anthropic": { "kind": "anthropic_messages", "api_key": "sk-ant" },
      "openai": { "kind": "openai_chat", "api_key": "sk-oai",
                  "headers": { "OpenAI-Organization": "org-1" } },
      "gemini": { "kind": "gemini", "api_key": "g" },
      "custom": { "kind": "openai_compatible", "base_url": "http://h:1/v1/",
                  "api_key": "k", "auth": "header",
                  "auth_header": "X-Token" },
      "azure": { "kind": "azure_openai",
                 "base_url": "https://r.openai.azure.com", "api_key": "az" }
    },
    "deployments": {
      "claude": { "provider": "anthropic", "model": "claude" },
      "gpt": { "provider": "openai", "model": "gpt" },
      "flash": { "provider": "gemini", "model": "gemini-2.0-flash" },
      "self": { "provider": "custom", "model": "m" },
      "az": { "provider": "azure", "deployment": "my-gpt4o" }
    },
    "routes": { "all": { "targets": ["claude", "gpt", "flash", "self", "az"] } }
  })");
  auto c = parse_ok(cfg);
  CAF_REQUIRE_EQUAL(c.providers.size(), 5u);
  auto& anthropic = c.providers.at("anthropic");
  CAF_CHECK(anthropic.kind == provider_kind::anthropic_messages);
  CAF_CHECK_EQUAL(anthropic.api_key, "sk-ant");
  CAF_CHECK(anthropic.auth == auth_style::header);
  CAF_CHECK(c.providers.at("custom").kind == provider_kind::openai_compatible);
  auto& claude = c.find_deployment("claude")->ep;
  CAF_CHECK(claude.auth == auth_style::header);
  CAF_CHECK_EQUAL(claude.auth_header, "x-api-key");
  CAF_CHECK_EQUAL(claude.api_version, "2023-06-01");
  CAF_CHECK_EQUAL(claude.base_url, "https://api.anthropic.com");
  auto& gpt = c.find_deployment("gpt")->ep;
  CAF_CHECK(gpt.auth == auth_style::bearer);
  CAF_CHECK_EQUAL(gpt.api_key, "sk-oai");
  CAF_REQUIRE_EQUAL(gpt.extra_headers.size(), 1u);
  CAF_CHECK_EQUAL(gpt.extra_headers[0].name, "OpenAI-Organization");
  CAF_CHECK_EQUAL(gpt.extra_headers[0].value, "org-1");
  auto& flash = c.find_deployment("flash")->ep;
  CAF_CHECK(flash.auth == auth_style::header);
  CAF_CHECK_EQUAL(flash.auth_header, "x-goog-api-key");
  auto& self = c.find_deployment("self")->ep;
  CAF_CHECK(self.auth == auth_style::header);
  CAF_CHECK_EQUAL(self.auth_header, "X-Token");
  // Trailing slashes are dropped so the adapter can append its path.
  CAF_CHECK_EQUAL(self.base_url, "http://h:1/v1");
  auto& az = c.find_deployment("az")->ep;
  CAF_CHECK(az.kind == provider_kind::azure_openai);
  CAF_CHECK_EQUAL(az.deployment, "my-gpt4o");
  CAF_CHECK_EQUAL(az.api_version, "2024-10-21");
  CAF_CHECK_EQUAL(az.auth_header, "api-key");
  CAF_CHECK(az.auth == auth_style::header);
}

CAF_TEST(deployments of one provider can balance several keys) {
  auto cfg = minimal();
  cfg["providers"]["openai"]["api_key"] = "${KEY_A}";
  cfg["deployments"]["gpt-b"]
      = {{"provider", "openai"}, {"model", "gpt-4o"}, {"api_key", "${KEY_B}"}};
  cfg["routes"]["chat"]
      = {{"targets", {"gpt", "gpt-b"}}, {"strategy", "weighted_random"}};
  auto c = parse_ok(cfg, fake_env({{"KEY_A", "sk-a"}, {"KEY_B", "sk-b"}}));
  auto& ts = c.find_route("chat")->targets;
  CAF_REQUIRE_EQUAL(ts.size(), 2u);
  CAF_CHECK_EQUAL(ts[0].ep.api_key, "sk-a");
  CAF_CHECK_EQUAL(ts[1].ep.api_key, "sk-b");
  CAF_CHECK(ts[1].ep.auth == auth_style::bearer);
  CAF_CHECK_EQUAL(ts[0].ep.model, ts[1].ep.model);
}

CAF_TEST(environment references are substituted in any string) {
  auto cfg = minimal();
  cfg["providers"]["openai"]["base_url"] = "http://127.0.0.1:${PORT}/x";
  cfg["providers"]["openai"]["headers"]
      = {{"X-Team", "${TEAM:-core}"}, {"X-Lit", "$${NOT_A_VAR}"}};
  cfg["deployments"]["gpt"]["model"] = "${MODEL}";
  cfg["routes"]["chat"]["strategy"] = "${STRATEGY}";
  auto c = parse_ok(cfg, fake_env({{"PORT", "18080"},
                                   {"MODEL", "gpt-4.1"},
                                   {"STRATEGY", "sticky"}}));
  auto& ep = c.find_deployment("gpt")->ep;
  CAF_CHECK_EQUAL(ep.base_url, "http://127.0.0.1:18080/x");
  CAF_CHECK_EQUAL(ep.model, "gpt-4.1");
  CAF_REQUIRE_EQUAL(ep.extra_headers.size(), 2u);
  // nlohmann orders object keys: X-Lit before X-Team.
  CAF_CHECK_EQUAL(ep.extra_headers[0].value, "${NOT_A_VAR}");
  CAF_CHECK_EQUAL(ep.extra_headers[1].value, "core");
  CAF_CHECK(c.find_route("chat")->policy.strategy == balance_strategy::sticky);
}

CAF_TEST(a set variable wins over the inline default) {
  auto cfg = minimal();
  cfg["deployments"]["gpt"]["model"] = "${MODEL:-fallback}";
  auto c = parse_ok(cfg, fake_env({{"MODEL", "chosen"}}));
  CAF_CHECK_EQUAL(c.find_deployment("gpt")->ep.model, "chosen");
}

CAF_TEST(timeouts come from the provider and deployments refine them) {
  auto cfg = minimal();
  cfg["providers"]["openai"]["timeouts"]
      = {{"connect_ms", 2500}, {"idle_ms", 20000}};
  cfg["deployments"]["gpt"]["timeouts"]
      = {{"connect_ms", nullptr}, {"total_ms", 90000}};
  cfg["deployments"]["plain"] = {{"provider", "openai"}, {"model", "p"}};
  auto c = parse_ok(cfg);
  auto& gpt = c.find_deployment("gpt")->timeouts;
  CAF_CHECK(!gpt.connect.has_value());
  CAF_CHECK(gpt.idle == std::optional<timespan>{20s});
  CAF_CHECK(gpt.total == std::optional<timespan>{90s});
  CAF_CHECK(!gpt.first_byte.has_value());
  auto& plain = c.find_deployment("plain")->timeouts;
  CAF_CHECK(plain.connect == std::optional<timespan>{2500ms});
  CAF_CHECK(!plain.total.has_value());
  CAF_CHECK(c.find_route("chat")->targets[0].timeouts.total
            == std::optional<timespan>{90s});
}

CAF_TEST(engine and hedge settings are read) {
  auto cfg = minimal();
  cfg["engine"] = {{"threads", 6},
                   {"transport",
                    {{"loops", 3},
                     {"max_host_connections", 64},
                     {"max_connections", 512},
                     {"ca_file", "/etc/ssl/ca.pem"},
                     {"ca_path", "/etc/ssl/extra"},
                     {"insecure_skip_verify", true},
                     {"max_response_bytes", 1048576}}}};
  cfg["routes"]["chat"]["hedge"] = {{"enabled", true},
                                    {"percentile", 0.9},
                                    {"min_samples", 50},
                                    {"max_attempts", 3}};
  auto c = parse_ok(cfg);
  CAF_CHECK_EQUAL(c.engine.threads, 6u);
  auto& tr = c.engine.transport;
  CAF_CHECK_EQUAL(tr.loops, 3u);
  CAF_CHECK_EQUAL(tr.max_host_connections, 64);
  CAF_CHECK_EQUAL(tr.max_connections, 512);
  CAF_CHECK_EQUAL(tr.ca_file, "/etc/ssl/ca.pem");
  CAF_CHECK_EQUAL(tr.ca_path, "/etc/ssl/extra");
  CAF_CHECK(tr.insecure_skip_verify);
  CAF_CHECK_EQUAL(tr.max_response_bytes, 1048576u);
  auto& h = c.find_route("chat")->policy.hedge;
  CAF_CHECK(h.enabled);
  CAF_CHECK(h.percentile == std::optional<double>{0.9});
  CAF_CHECK_EQUAL(h.min_samples, 50u);
  CAF_CHECK_EQUAL(h.max_attempts, 3u);
}

CAF_TEST(a route reads its own budget hedge and retry settings) {
  auto cfg = minimal();
  cfg["defaults"] = {
      {"retry_budget",
       {{"ratio", 0.1}, {"min_retries_per_second", 2}, {"window_ms", 5000}}},
      {"hedge", {{"enabled", true}, {"percentile", 0.5}}},
  };
  cfg["routes"]["chat"]["retry_budget"]
      = {{"ratio", 0.4}, {"min_retries_per_second", 7}, {"window_ms", 30000}};
  cfg["routes"]["chat"]["hedge"] = {{"percentile", 0.95}};
  cfg["routes"]["chat"]["retry"]
      = {{"max_retries", {{"auth", 1}}},
         {"fall_back_on", {"bad_request", "server_error"}}};
  cfg["routes"]["other"] = {{"targets", {"gpt"}}};
  auto c = parse_ok(cfg);
  auto& chat = c.find_route("chat")->policy;
  CAF_CHECK_EQUAL(chat.retry_budget.ratio, 0.4);
  CAF_CHECK_EQUAL(chat.retry_budget.min_retries_per_second, 7.0);
  CAF_CHECK(chat.retry_budget.window == 30s);
  CAF_CHECK(chat.hedge.enabled); // from defaults
  CAF_CHECK(chat.hedge.percentile == std::optional<double>{0.95});
  auto auth = static_cast<size_t>(error_class::auth);
  auto server = static_cast<size_t>(error_class::server_error);
  CAF_CHECK_EQUAL(chat.retry.max_retries[auth], 1u);
  CAF_CHECK_EQUAL(chat.retry.max_retries[server], 2u);
  CAF_CHECK(chat.retry.fall_back_on
            == (error_class_set{error_class::bad_request,
                                error_class::server_error}));
  // A route without its own sections keeps the defaults.
  auto& other = c.find_route("other")->policy;
  CAF_CHECK_EQUAL(other.retry_budget.ratio, 0.1);
  CAF_CHECK_EQUAL(other.retry_budget.min_retries_per_second, 2.0);
  CAF_CHECK(other.retry_budget.window == 5s);
  CAF_CHECK(other.hedge.percentile == std::optional<double>{0.5});
  CAF_CHECK_EQUAL(other.retry.max_retries[auth], 0u);
  CAF_CHECK(!other.retry.fall_back_on.contains(error_class::bad_request));
}

CAF_TEST(fallback lists resolve to targets) {
  auto cfg = minimal();
  cfg["deployments"]["gpt"]["context_window"] = 128000;
  cfg["deployments"]["big"]
      = {{"provider", "openai"}, {"model", "big"}, {"context_window", 1000000}};
  cfg["deployments"]["lenient"] = {{"provider", "openai"}, {"model", "l"}};
  cfg["routes"]["chat"]["context_fallbacks"] = {"big"};
  cfg["routes"]["chat"]["content_policy_fallbacks"] = {"lenient", "big"};
  auto c = parse_ok(cfg);
  auto& r = *c.find_route("chat");
  CAF_REQUIRE_EQUAL(r.context_fallbacks.size(), 1u);
  CAF_CHECK_EQUAL(r.context_fallbacks[0].deployment, "big");
  CAF_CHECK_EQUAL(r.context_fallbacks[0].ep.model, "big");
  CAF_REQUIRE_EQUAL(r.content_policy_fallbacks.size(), 2u);
  CAF_CHECK_EQUAL(r.content_policy_fallbacks[0].deployment, "lenient");
  CAF_CHECK_EQUAL(r.content_policy_fallbacks[1].deployment, "big");
  CAF_CHECK_EQUAL(c.find_deployment("big")->context_window, 1000000);
}

CAF_TEST(the shipped demo config loads) {
  auto env = fake_env({{"MOCK_PRIMARY_PORT", "40001"},
                       {"MOCK_SECONDARY_PORT", "40002"},
                       {"MOCK_LOCAL_PORT", "40003"}});
  auto result = load_config_file(shipped("demo.json"), env);
  if (!result)
    CAF_FAIL(to_string(result.error()));
  auto& c = *result;
  CAF_CHECK_EQUAL(c.default_route, "chat");
  auto* chat = c.find_route("chat");
  CAF_REQUIRE(chat != nullptr);
  CAF_REQUIRE_EQUAL(chat->targets.size(), 3u);
  CAF_CHECK(chat->targets[0].ep.kind == provider_kind::openai_chat);
  CAF_CHECK_EQUAL(chat->targets[0].ep.base_url, "http://127.0.0.1:40001");
  CAF_CHECK(chat->targets[1].ep.kind == provider_kind::anthropic_messages);
  CAF_CHECK_EQUAL(chat->targets[1].ep.base_url, "http://127.0.0.1:40002");
  CAF_CHECK(chat->targets[2].ep.kind == provider_kind::openai_compatible);
  CAF_CHECK_EQUAL(chat->targets[2].ep.base_url, "http://127.0.0.1:40003/v1");
  for (auto& t : chat->targets)
    CAF_CHECK(t.ep.auth == auth_style::none);
  CAF_CHECK(chat->policy.ladder == (std::vector<timespan>{2s, 5s, 15s}));
  CAF_CHECK(chat->policy.deadline == 20s);
  CAF_CHECK_EQUAL(
      c.find_deployment("primary-gpt")->breaker.consecutive_failures, 3u);
  CAF_CHECK(c.find_deployment("local-model")->breaker.open_duration == 500ms);
  auto* stream = c.find_route("stream");
  CAF_REQUIRE(stream != nullptr);
  CAF_CHECK(stream->policy.stream_failover_mode == stream_failover::continue_);
  CAF_CHECK(stream->policy.stream.first_token
            == (std::vector<timespan>{2s, 5s}));
  CAF_CHECK(c.find_deployment("local-stream")->continuation
            == continuation_style::prefill);
}

CAF_TEST(the demo config names its missing port variable) {
  auto env = fake_env(
      {{"MOCK_PRIMARY_PORT", "40001"}, {"MOCK_SECONDARY_PORT", "40002"}});
  auto result = load_config_file(shipped("demo.json"), env);
  CAF_REQUIRE(!result.has_value());
  // Both providers on the local mock say so.
  CAF_REQUIRE_EQUAL(result.error().size(), 2u);
  CAF_CHECK_EQUAL(to_string(result.error()[0]),
                  "providers.local.base_url: environment variable "
                  "MOCK_LOCAL_PORT is not set");
  CAF_CHECK_EQUAL(to_string(result.error()[1]),
                  "providers.local-streaming.base_url: environment variable "
                  "MOCK_LOCAL_PORT is not set");
}

CAF_TEST(the shipped provider example loads) {
  auto env = fake_env({{"OPENAI_API_KEY", "sk-test-openai"},
                       {"ANTHROPIC_API_KEY", "sk-test-anthropic"},
                       {"GEMINI_API_KEY", "test-gemini"}});
  auto result = load_config_file(shipped("providers.example.json"), env);
  if (!result)
    CAF_FAIL(to_string(result.error()));
  auto& c = *result;
  CAF_CHECK_EQUAL(c.default_route, "chat");
  CAF_CHECK_EQUAL(c.routes.size(), 2u);
  auto& gpt = c.find_deployment("gpt-4o")->ep;
  CAF_CHECK_EQUAL(gpt.api_key, "sk-test-openai");
  CAF_CHECK(gpt.auth == auth_style::bearer);
  auto& claude = c.find_deployment("claude-sonnet")->ep;
  CAF_CHECK_EQUAL(claude.api_key, "sk-test-anthropic");
  CAF_CHECK(claude.auth == auth_style::header);
  auto& flash = c.find_deployment("gemini-flash")->ep;
  CAF_CHECK(flash.kind == provider_kind::gemini);
  CAF_CHECK_EQUAL(flash.api_key, "test-gemini");
  auto& local = c.find_deployment("local-llama")->ep;
  CAF_CHECK_EQUAL(local.base_url, "http://127.0.0.1:11434/v1");
  CAF_CHECK(local.auth == auth_style::none);
  auto* cheap = c.find_route("cheap");
  CAF_REQUIRE(cheap != nullptr);
  CAF_CHECK(cheap->policy.strategy == balance_strategy::cheapest);
  CAF_CHECK(cheap->policy.hedge.percentile == std::optional<double>{0.95});
  auto* chat = c.find_route("chat");
  CAF_CHECK(chat->policy.stream_failover_mode == stream_failover::continue_);
  CAF_REQUIRE_EQUAL(chat->context_fallbacks.size(), 1u);
  CAF_CHECK_EQUAL(chat->context_fallbacks[0].deployment, "gemini-flash");
}

CAF_TEST(the provider example names every missing key) {
  auto result
      = load_config_file(shipped("providers.example.json"), fake_env({}));
  CAF_REQUIRE(!result.has_value());
  std::vector<std::string> got;
  for (auto& e : result.error())
    got.push_back(to_string(e));
  CAF_CHECK_EQUAL(got, (std::vector<std::string>{
                           "providers.anthropic.api_key: environment variable "
                           "ANTHROPIC_API_KEY is not set",
                           "providers.gemini.api_key: environment variable "
                           "GEMINI_API_KEY is not set",
                           "providers.openai.api_key: environment variable "
                           "OPENAI_API_KEY is not set",
                       }));
}
