#pragma once

// The `gateway` section of the config file: listen address, keys, limits.

#include "switchyard/config.hpp"
#include "switchyard/expected.hpp"
#include "switchyard/time.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::gateway {

/// A client key and what it may do.
struct client_key {
  std::string key;
  /// Routes the key may use; empty means every route.
  std::vector<std::string> routes;
  /// Requests per minute; 0 means unlimited.
  int64_t requests_per_minute = 0;
};

/// Limits against slow or greedy clients.
struct gateway_limits {
  size_t max_body_bytes = size_t{4} << 20;
  size_t max_header_bytes = 16384;
  size_t max_connections = 10000;
  /// Bytes of a stream queued for one client before the call is cancelled
  /// (the engine's `slow_consumer`).
  size_t stream_buffer_bytes = size_t{1} << 20;
  /// Time to receive a whole request once its first byte arrived.
  timespan read_timeout = std::chrono::seconds{30};
  /// Time a keep-alive connection may stay silent between requests.
  timespan idle_timeout = std::chrono::seconds{60};
  /// Time a client may take to accept written bytes.
  timespan write_timeout = std::chrono::seconds{30};
};

/// The `gateway` section, resolved.
struct gateway_settings {
  /// "HOST:PORT"; empty means the command line's or 127.0.0.1:8080.
  std::string listen;
  std::vector<client_key> keys;
  /// Empty: admin endpoints are open only when no keys are configured.
  std::string admin_key;
  gateway_limits limits;
  /// How long in-flight calls may run on after SIGTERM / SIGINT.
  timespan drain_grace = std::chrono::seconds{10};
};

/// A config file split in the gateway's section and the engine's part.
struct gateway_file {
  gateway_settings settings;
  /// The engine's JSON (the file without `gateway`), for `engine::from_json`.
  std::string engine_json;
};

/// Parses a whole config file's text: validates the `gateway` section (every
/// problem as `path: message`, one per line) and returns the rest as text.
expected<gateway_file, std::string> parse_gateway_file(std::string_view text,
                                                       const env_lookup& env
                                                       = process_env());

/// A host and port.
struct listen_address {
  std::string host;
  uint16_t port = 0;
};

/// Parses "HOST:PORT" ("[::1]:80" for IPv6).
expected<listen_address, std::string> parse_listen(std::string_view text);

/// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback(std::string_view host);

} // namespace switchyard::gateway
