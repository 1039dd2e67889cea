#pragma once

// Internal to the config parser: the policy sections shared by `defaults`,
// routes and deployments. Each `apply_*` overlays the keys present in a JSON
// object onto settings that already hold the inherited values.

#include "reader.hpp"
#include "switchyard/config.hpp"
#include "switchyard/policy/settings.hpp"
#include "switchyard/transport.hpp"

#include <string>

namespace switchyard::config_detail {

/// Config names of the balance strategies.
const name_table<balance_strategy>& strategy_names();

/// Config names of the stream failover modes.
const name_table<stream_failover>& stream_failover_names();

/// Overlays a `breaker` object.
void apply_breaker(reader& rd, const json& obj, const std::string& path,
                   breaker_settings& out);

/// Overlays a `backoff` object.
void apply_backoff(reader& rd, const json& obj, const std::string& path,
                   backoff_settings& out);

/// Overlays a `retry` object: `max_retries` per class, `fall_back_on` whole.
void apply_retry(reader& rd, const json& obj, const std::string& path,
                 retry_settings& out);

/// Overlays a `retry_budget` object.
void apply_retry_budget(reader& rd, const json& obj, const std::string& path,
                        retry_budget_settings& out);

/// Overlays a `hedge` object.
void apply_hedge(reader& rd, const json& obj, const std::string& path,
                 hedge_settings& out);

/// Overlays a `limits` object.
void apply_limits(reader& rd, const json& obj, const std::string& path,
                  deployment_limits& out);

/// Overlays a `timeouts` object (`*_ms`, null = no limit).
void apply_timeouts(reader& rd, const json& obj, const std::string& path,
                    transfer_timeouts& out);

/// Reads the `log` section (config/log.cpp).
void apply_log(reader& rd, const json& obj, const std::string& path,
               log_settings& out);

/// Overlays an `engine.transport` object.
void apply_transport(reader& rd, const json& obj, const std::string& path,
                     transport_config& out);

/// Overlays an `engine.cache` object (the cache's global bounds).
void apply_cache_limits(reader& rd, const json& obj, const std::string& path,
                        cache_limits& out);
/// Reads the top-level `state` object (snapshot and Redis).
void apply_state(reader& rd, const json& obj, const std::string& path,
                 state_config& out);

/// Reads a route or `defaults` object: checks that it holds only the
/// route-policy keys (strategy, deadline_ms, ladder_ms, retry, backoff,
/// retry_budget, hedge, stream_failover, stream, cache) and `own_keys`, which
/// the caller reads itself, and overlays the policy keys onto `out`. Returns
/// false when `obj` is no object.
bool apply_route_policy(reader& rd, const json& obj, const std::string& path,
                        route_policy& out,
                        std::initializer_list<std::string_view> own_keys);

} // namespace switchyard::config_detail
