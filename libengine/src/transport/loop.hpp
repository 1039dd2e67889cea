#pragma once

// Private to the transport: one libcurl multi loop on its own thread, driven
// by curl_multi_socket_action and epoll, with its own connection cache. The
// transport runs one or more of them and spreads jobs across them.

#include "switchyard/time.hpp"
#include "switchyard/transport.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace switchyard::transport_detail {

class loop {
public:
  /// Starts the loop thread; `start_error()` says why it could not.
  /// `cfg.max_host_connections` and `cfg.max_connections` are this loop's
  /// own shares.
  explicit loop(const transport_config& cfg);

  /// Completes every outstanding job with `cancelled` and joins the thread.
  ~loop();

  loop(const loop&) = delete;
  loop& operator=(const loop&) = delete;

  /// Queues job `id` (any thread). Wakes the loop only when it sleeps.
  void submit(uint64_t id, http_job job, std::shared_ptr<transfer_sink> sink);

  /// Cancels job `id` (any thread).
  void cancel(uint64_t id);

  /// Transfers running or queued here.
  size_t in_flight() const noexcept;

  /// Why the loop could not start; empty when it runs.
  const std::string& start_error() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace switchyard::transport_detail
