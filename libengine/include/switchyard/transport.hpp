#pragma once

#include "switchyard/error.hpp"
#include "switchyard/http.hpp"
#include "switchyard/time.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace switchyard {

/// How a transfer ended below the HTTP level.
enum class transport_error : uint8_t {
  none,
  connect_failed,
  dns,
  tls,
  connect_timeout,
  first_byte_timeout,
  idle_timeout,
  total_timeout,
  too_large,
  cancelled,
  send_failed,
  recv_failed,
  other,
};

/// Returns a snake_case name of a transport error.
std::string_view to_string(transport_error e) noexcept;

/// Maps a transport error to the engine's error classes: the four timeouts to
/// `timeout`; connect_failed, dns, tls, send_failed, recv_failed and other to
/// `connection`; `too_large` to `malformed` (the answer is unusable as it is:
/// retry once, then fall back); `cancelled` to `cancelled`. `none` is not a
/// failure and maps to `server_error` only defensively. `code` is the
/// transport error's name, `message` the detail.
failure classify_transport_error(transport_error e, std::string detail);

/// Per-transfer timeouts; unset means "no limit". First-byte, idle and total
/// are enforced by the transport loop itself, within a millisecond or two of
/// their due time.
struct transfer_timeouts {
  /// TCP + TLS handshake (libcurl's; unset leaves libcurl's 300 s default).
  std::optional<timespan> connect = std::chrono::seconds{10};
  /// From `submit` to the first response byte (header or body); includes
  /// queueing and connecting.
  std::optional<timespan> first_byte;
  /// Between two received pieces (header lines or body chunks), counted from
  /// the first byte on; applies to streaming and non-streaming jobs.
  std::optional<timespan> idle;
  /// The whole transfer (non-streaming only; it would kill healthy streams).
  std::optional<timespan> total;
};

/// One HTTP exchange to run.
struct http_job {
  http_request request;
  transfer_timeouts timeouts;
  /// Deliver the body as chunks while it arrives instead of at the end.
  bool stream = false;
};

/// How a transfer ended: an HTTP response, or a transport error.
struct transfer_result {
  transport_error error = transport_error::none;
  std::string detail;
  /// Status, headers and (non-streaming, or non-2xx stream) body; status 0
  /// if none arrived. After an error it holds whatever had arrived.
  http_response response;
  timespan elapsed{};
};

/// Receives a transfer's progress. Called by the client that runs the job,
/// on the client's thread (the transport's loop thread; a test fake calls it
/// where the test drives it; a transport that could not start calls
/// `on_complete` inside `submit`): an implementation forwards by message and
/// never blocks. It may call `submit` and `cancel` on the client.
///
/// A stream gets `on_head` once its final head arrived (any status), then,
/// for a 2xx status, `on_chunk` per piece of body. A stream with a non-2xx
/// status gets no chunks: its (error) body is collected and delivered in
/// `on_complete`'s `response.body`, so the engine can classify it.
class transfer_sink {
public:
  virtual ~transfer_sink() = default;

  /// The final status line and headers arrived (streams only), before any
  /// body byte.
  virtual void on_head(int status, const header_list& headers) = 0;

  /// A piece of the body arrived (2xx streams only).
  virtual void on_chunk(std::string_view chunk) = 0;

  /// The transfer ended; called exactly once per submitted job.
  virtual void on_complete(transfer_result result) = 0;
};

/// Settings of the transport loop.
struct transport_config {
  /// libcurl multi loops, each on its own thread with its own connection
  /// cache; jobs go to them in turn. 0 = `default_transport_loops` of the
  /// machine's cores. At most 64.
  size_t loops = 0;
  /// Connections kept per host (CURLMOPT_MAX_HOST_CONNECTIONS), over all
  /// loops together (each gets an equal share, rounded up).
  long max_host_connections = 256;
  /// Connection cache size (CURLMOPT_MAXCONNECTS) over all loops; 0 = 4 ×
  /// per host.
  long max_connections = 0;
  /// CA bundle; empty means the system default.
  std::string ca_file;
  /// A directory of hashed CA certificates trusted besides the bundle;
  /// empty means none. With one, libcurl 7.88 cannot cache the CA store and
  /// loads it for every new TLS connection (about 18 ms and 800 KB with
  /// Debian's bundle), so it is off unless asked for.
  std::string ca_path;
  /// Skip TLS verification; needs explicit config. The transport does not
  /// print anything about it: warning the operator is the embedder's job.
  bool insecure_skip_verify = false;
  /// Larger response bodies fail with `too_large` (the transfer is aborted).
  size_t max_response_bytes = size_t{64} << 20;
};

/// The number of loops a transport runs when the config leaves it at 0: one
/// per four cores, at least 1 and at most 16.
size_t default_transport_loops(unsigned cores) noexcept;

/// Something that runs HTTP jobs: the real transport, or a test's fake.
/// Implementations are thread-safe.
class http_client {
public:
  virtual ~http_client() = default;

  /// Queues a job; the sink hears about it on the client's own thread.
  /// Returns the job id to cancel it with.
  virtual uint64_t submit(http_job job, std::shared_ptr<transfer_sink> sink)
      = 0;

  /// Cancels a job: its connection is freed at once and its sink gets
  /// `on_complete` with `transport_error::cancelled` (unless it completed).
  virtual void cancel(uint64_t id) = 0;
};

/// The HTTP client: one or more libcurl multi loops (`transport_config::
/// loops`), each on its own thread with its own connections; jobs are
/// spread over them in turn. Thread-safe: `submit` and `cancel` may be
/// called from any thread. A sink hears about its job on the thread of the
/// loop that runs it.
///
/// The first transport of the process initialises libcurl
/// (`curl_global_init`, once, thread-safe); embedders need not. It never
/// aborts and never writes to stdout or stderr: when no loop can start
/// (no eventfd, epoll or curl multi handle), `start_error()` says why and
/// every submitted job completes at once, inside `submit`, with
/// `transport_error::other` and a detail starting "transport unavailable: ".
/// (When only some of the loops start, it runs with those.) A job for which
/// libcurl cannot make a handle completes the same way.
/// HTTP/2 (multiplexed) over TLS, HTTP/1.1 keep-alive for plain http; TLS
/// verification on unless `insecure_skip_verify`; proxies from the usual
/// environment variables apply. The destructor completes every outstanding
/// job with `cancelled` and joins the loop.
class transport final : public http_client {
public:
  explicit transport(transport_config cfg = {});
  ~transport() override;

  transport(const transport&) = delete;
  transport& operator=(const transport&) = delete;

  uint64_t submit(http_job job, std::shared_ptr<transfer_sink> sink) override;

  void cancel(uint64_t id) override;

  /// Number of transfers currently running or queued.
  size_t in_flight() const noexcept;

  /// Number of loops running (0 when none could start).
  size_t loops() const noexcept;

  /// Why the loop could not start; empty when it runs.
  const std::string& start_error() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace switchyard
