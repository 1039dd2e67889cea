#pragma once

#include "engine.hpp"

#include <cstdint>
#include <memory>

namespace switchyard::mock {

/// How the HTTP server listens and runs.
struct server_options {
  /// 0 picks a free port.
  uint16_t port = 0;
  /// I/O threads, each running its own event loop; connections are dealt
  /// out to them in turn.
  int threads = 1;
};

/// The HTTP/1.1 server on 127.0.0.1 (Boost.Beast, async). The only part of
/// the mock that knows about sockets; every decision comes from the engine.
class http_server {
public:
  /// Binds and listens; throws std::system_error when it cannot.
  http_server(server_options opts, mock_engine& engine);
  ~http_server();

  /// The port actually bound.
  uint16_t port() const noexcept;

  /// Serves until SIGTERM or SIGINT, then returns.
  void run();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace switchyard::mock
