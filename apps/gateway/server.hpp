#pragma once

#include "http.hpp"
#include "settings.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace switchyard::gateway {

/// How the HTTP server listens and runs.
struct server_options {
  std::string host = "127.0.0.1";
  /// 0 picks a free port.
  uint16_t port = 0;
  /// I/O threads, each running its own event loop; connections are dealt
  /// out to them in turn.
  int threads = 1;
  gateway_limits limits;
};

/// The HTTP/1.1 server (Boost.Beast for parsing, keep-alive, chunked SSE
/// answers). The only part of the gateway that knows about sockets.
class http_server {
public:
  /// Binds and listens; throws std::system_error when it cannot.
  http_server(server_options opts, request_handler& handler);
  ~http_server();

  /// The port actually bound.
  uint16_t port() const noexcept;

  /// Serves until `stop`. Calls `on_signal` (on an I/O thread) at the first
  /// SIGTERM or SIGINT; a second one stops at once.
  void run(std::function<void()> on_signal);

  /// Closes the listening socket; answers from now on close their
  /// connection. Thread-safe.
  void stop_accepting();

  /// Requests read and not yet completely answered.
  size_t open_exchanges() const noexcept;

  /// Ends `run` (connections are dropped). Thread-safe.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace switchyard::gateway
