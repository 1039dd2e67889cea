#pragma once

#include "switchyard/adapter.hpp"
#include "switchyard/cache.hpp"
#include "switchyard/expected.hpp"
#include "switchyard/policy/settings.hpp"
#include "switchyard/stream.hpp"
#include "switchyard/time.hpp"
#include "switchyard/transport.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

// -- errors and environment ---------------------------------------------------

/// One problem found in a configuration: where (a JSON path such as
/// `routes.chat.targets[2]`, or a file name) and what was expected.
struct config_error {
  std::string path;
  std::string message;

  friend bool operator==(const config_error&, const config_error&) = default;
};

/// Renders an error as `path: message` (just `message` when the path is
/// empty).
std::string to_string(const config_error& err);

/// Renders a list of errors, one per line.
std::string to_string(const std::vector<config_error>& errs);

/// Looks up an environment variable for `${NAME}` substitution; nullopt when
/// it is not set.
using env_lookup
    = std::function<std::optional<std::string>(const std::string&)>;

/// Returns a lookup that reads the process environment (getenv).
env_lookup process_env();

// -- resolved configuration ---------------------------------------------------

/// A provider account as configured: wire format, address and credentials
/// shared by its deployments.
struct provider_config {
  std::string name;
  provider_kind kind = provider_kind::openai_chat;
  std::string base_url;
  std::string api_key;
  std::string api_version;
  auth_style auth = auth_style::bearer;
  std::string auth_header;
  header_list headers;
  int64_t default_max_tokens = 4096;
  /// Per-transfer timeouts; the route's ladder may shorten them per attempt.
  transfer_timeouts timeouts;
  /// How a `continue` fallback asks this provider to go on with a partial
  /// answer; unset means the kind's default (`default_continuation`).
  std::optional<continuation_style> continuation;
};

/// Admission limits of one deployment.
struct deployment_limits {
  /// Token buckets; 0 means unlimited.
  rate_limit_settings rate;
  /// Calls in flight at once; 0 means unlimited.
  uint32_t max_in_flight = 0;
  /// Calls waiting for an in-flight slot; 0 means "do not wait, go on to the
  /// next target".
  uint32_t max_queue = 0;
};

/// One provider + model (+ key): the unit that owns a breaker and limits.
struct deployment_config {
  std::string name;
  /// Name of the provider in `engine_config::providers`.
  std::string provider;
  /// Fully resolved address, ready for `adapter::build_request`.
  endpoint ep;
  transfer_timeouts timeouts;
  /// The provider's continuation style, resolved (never unset).
  continuation_style continuation = continuation_style::instruction;
  /// Defaults for the targets that name this deployment.
  double weight = 1.0;
  int32_t priority = 0;
  /// Price in currency units per 1000 tokens (0 = unknown / free).
  double cost_per_1k_input = 0;
  double cost_per_1k_output = 0;
  /// Context window in tokens (0 = unknown).
  int64_t context_window = 0;
  deployment_limits limits;
  /// defaults.breaker, then the breaker of the routes that target it, then
  /// the deployment's own overrides.
  breaker_settings breaker;
};

/// One target of a route, resolved against its deployment.
struct route_target {
  /// Name of the deployment in `engine_config::deployments` (its breaker,
  /// limits, costs and context window live there).
  std::string deployment;
  /// The deployment's endpoint, ready to use.
  endpoint ep;
  transfer_timeouts timeouts;
  /// Relative share for `weighted_random`.
  double weight = 1.0;
  /// Lower is tried first for `priority`; ties keep list order.
  int32_t priority = 0;
};

/// The policies of a route, with `defaults` applied.
struct route_policy {
  balance_strategy strategy = balance_strategy::priority;
  /// Deadline of a call that does not bring its own.
  timespan deadline = std::chrono::seconds{60};
  /// Timeout of attempt i is ladder[i] (the last entry for later attempts),
  /// clipped to what is left of the deadline.
  std::vector<timespan> ladder{std::chrono::seconds{15},
                               std::chrono::seconds{30},
                               std::chrono::seconds{60}};
  retry_settings retry = default_retry_settings();
  backoff_settings backoff;
  retry_budget_settings retry_budget;
  hedge_settings hedge;
  /// What to do when a stream fails after tokens reached the caller.
  stream_failover stream_failover_mode = stream_failover::error;
  /// Time-to-first-token ladder, idle and total limits, reader buffer.
  stream_settings stream;
  /// Response cache and coalescing of identical calls.
  cache_settings cache;
};

/// Most targets a route may list: the router orders a route's candidates in
/// a fixed buffer of this size, so a longer list is rejected at load.
inline constexpr size_t max_route_targets = 32;

/// A named route: where calls go and how they fail over.
struct route_config {
  std::string name;
  /// The fallback chain, in list order; at most `max_route_targets`.
  std::vector<route_target> targets;
  /// Larger-context targets, used only after `context_length`.
  std::vector<route_target> context_fallbacks;
  /// Targets used only after `content_filter`.
  std::vector<route_target> content_policy_fallbacks;
  route_policy policy;
};

/// The `defaults` section, applied wherever a route or deployment is silent.
struct config_defaults {
  route_policy route;
  breaker_settings breaker;
  deployment_limits limits;
};

/// Process-wide settings.
struct engine_settings {
  /// Worker threads; 0 means one per core.
  uint32_t threads = 0;
  transport_config transport;
  /// Bounds of the response cache all routes share.
  cache_limits cache;
};

/// How much the event log writes: records at this level and above.
enum class log_level : uint8_t { debug, info, warn, error };

/// The structured event log (the top-level `log` section): JSON lines
/// written asynchronously, to standard output or a rotated file.
struct log_settings {
  /// True when the config has a `log` section (the engine then logs).
  bool enabled = false;
  log_level level = log_level::info;
  /// Empty: standard output; else the file, rotated at `max_size` bytes.
  std::string file;
  uint64_t max_size = uint64_t{100} << 20;
  /// Rotated files kept besides the current one.
  uint32_t max_files = 5;
  /// Records waiting for the writer thread; when full, the oldest waiting
  /// record is dropped (the engine never waits on the log).
  uint32_t queue_size = 8192;
};

/// Where breaker and marked-down state is snapshotted (`state.snapshot`).
struct snapshot_config {
  /// The snapshot file; empty = no snapshots.
  std::string path;
  /// How often the snapshot is written (also at shutdown).
  timespan interval = std::chrono::seconds{5};
};

/// A Redis shared by replicas (`state.redis`).
struct redis_config {
  /// The `url` as given (empty = no Redis); parsed into the fields below.
  std::string url;
  std::string host;
  uint16_t port = 6379;
  /// AUTH password (empty = none).
  std::string password;
  uint32_t db = 0;
  /// Prefix of every key and channel.
  std::string key_prefix = "switchyard:";
  timespan connect_timeout = std::chrono::milliseconds{5};
  /// Bound of every command round trip.
  timespan command_timeout = std::chrono::milliseconds{5};
  /// How often shared breaker and marked-down state is read back.
  timespan poll_interval = std::chrono::milliseconds{200};
  /// How long a replica holds the half-open probe lease at most.
  timespan probe_lease = std::chrono::seconds{10};
  /// Share of a rate limit taken from Redis at once (limit / slices).
  uint32_t limit_slices = 20;
};

/// State kept beyond one process (`state`).
struct state_config {
  snapshot_config snapshot;
  redis_config redis;
};

/// Parses `redis://[:password@]host[:port][/db]`; an error message on
/// failure. Fills host, port, password and db of `out`.
std::optional<std::string> parse_redis_url(std::string_view url,
                                           redis_config& out);

/// A complete, validated configuration.
struct engine_config {
  std::map<std::string, provider_config, std::less<>> providers;
  std::map<std::string, deployment_config, std::less<>> deployments;
  std::map<std::string, route_config, std::less<>> routes;
  config_defaults defaults;
  engine_settings engine;
  log_settings log;
  state_config state;
  /// Route used when a call names none; empty when there is no such route.
  std::string default_route;

  /// Returns the route named `name`, or nullptr.
  const route_config* find_route(std::string_view name) const;

  /// Returns the deployment named `name`, or nullptr.
  const deployment_config* find_deployment(std::string_view name) const;
};

// -- parsing ------------------------------------------------------------------

/// Parses and validates a JSON configuration (comments allowed). Collects
/// every error it can find instead of stopping at the first.
expected<engine_config, std::vector<config_error>>
parse_config(std::string_view json, const env_lookup& env = process_env());

/// Reads `path` and parses it; errors without a JSON path, and I/O errors,
/// name the file.
expected<engine_config, std::vector<config_error>>
load_config_file(const std::string& path,
                 const env_lookup& env = process_env());

} // namespace switchyard
