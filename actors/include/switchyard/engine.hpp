#pragma once

#include "switchyard/config.hpp"
#include "switchyard/error.hpp"
#include "switchyard/events.hpp"
#include "switchyard/expected.hpp"
#include "switchyard/model.hpp"
#include "switchyard/transport.hpp"

#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace switchyard {

/// Per-call options of the embedding API.
struct call_options {
  /// Route to use; empty means the config's default route.
  std::string route;
  /// Overrides the route's deadline.
  std::optional<timespan> deadline;
  /// Pins the call to one deployment: no fallback, no hedging.
  std::string pin;
  /// Sends calls with the same key to the same deployment while it is
  /// healthy (used by the `sticky` strategy).
  std::string session_key;
  /// Caller's metadata, reported with events.
  std::map<std::string, std::string> metadata;
};

/// Why a call failed as a whole.
struct call_error {
  /// The failure that ended the call (for fast fails: why no target could
  /// take it).
  switchyard::failure failure;
  /// Every attempt, in order.
  std::vector<attempt_record> attempts;
  /// When every target was unavailable: the soonest one may take calls.
  std::optional<timespan> retry_in;
};

/// The outcome of one call.
using call_result = expected<chat_response, call_error>;

/// Called once with the outcome of a call, on an engine thread: it must not
/// block.
using call_callback = std::function<void(call_result)>;

/// Receives the events of a streamed call, in order, on an engine thread; it
/// must not block. Every stream ends with exactly one `stream_end` or
/// `stream_error`; content is always preceded by a `stream_start`.
class stream_sink {
public:
  virtual ~stream_sink() = default;

  /// Takes one event. Returns false when it cannot take more (its buffer is
  /// full): the engine then cancels the call upstream and ends the stream
  /// with a `stream_error` of class `overloaded`, code `slow_consumer`,
  /// which `on_event` must accept.
  virtual bool on_event(stream_event ev) = 0;
};

/// A push-style stream consumer (never refuses an event).
using stream_callback = std::function<void(stream_event)>;

class engine;

/// The pull side of a streamed call, with a bounded buffer: it holds at most
/// the route's `stream.buffer_events` unread events. When the engine has one
/// more to deliver, the call is cancelled upstream and the reader ends with a
/// `slow_consumer` error after the events it holds (nothing is dropped
/// silently). Thread-safe; must not outlive its engine.
class stream_reader {
public:
  /// Cancels the call if it has not ended.
  ~stream_reader();

  stream_reader(const stream_reader&) = delete;
  stream_reader& operator=(const stream_reader&) = delete;

  /// Waits up to `timeout` for the next event; nullopt on timeout and after
  /// the terminal event was returned.
  std::optional<stream_event> next(timespan timeout);

  /// True once the terminal event was returned by `next`.
  bool done() const;

  /// The call's id (for `engine::cancel`).
  uint64_t call_id() const noexcept {
    return id_;
  }

  /// Cancels the call; the stream then ends with a `cancelled` error.
  void cancel();

  struct buffer;

private:
  friend class engine;

  stream_reader(engine* owner, uint64_t id, std::shared_ptr<buffer> buf);

  engine* owner_;
  uint64_t id_;
  std::shared_ptr<buffer> buf_;
};

/// A deployment's health, as `engine::status()` reports it.
struct deployment_status {
  std::string name;
  std::string provider;
  std::string model;
  /// Breaker state name (closed, open, half_open, forced_open, disabled).
  std::string breaker;
  uint32_t in_flight = 0;
  uint32_t queued = 0;
  uint64_t calls = 0;
  uint64_t failures = 0;
  /// Failure share of the last calls (0..1).
  double recent_error_rate = 0;
  /// Smoothed latency of successful attempts (zero when none yet).
  timespan latency_ewma{};
  uint32_t restarts = 0;
  /// True after auth failures, quota exhaustion or too many restarts.
  bool marked_down = false;
};

/// What the engine is built with besides its configuration.
struct engine_options {
  /// Receives every engine event; may be null.
  std::shared_ptr<event_sink> events;
  /// Runs the HTTP jobs; null means a real transport from the config.
  std::shared_ptr<http_client> client;
  /// Seed for jitter and weighted choices; 0 means random.
  uint64_t seed = 0;
};

/// The embedding API: a thread-safe engine that sends chat requests through
/// the configured routes with retries, breakers and fallbacks.
class engine {
public:
  /// Builds an engine from a validated configuration.
  static expected<std::unique_ptr<engine>, std::string>
  create(engine_config cfg, engine_options opts = {});

  /// Builds an engine from a JSON configuration file.
  static expected<std::unique_ptr<engine>, std::string>
  from_file(const std::string& path, engine_options opts = {});

  /// Builds an engine from JSON configuration text.
  static expected<std::unique_ptr<engine>, std::string>
  from_json(std::string_view json, engine_options opts = {});

  /// Shuts down (draining for at most 5 s) if `shutdown` was not called.
  ~engine();

  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  /// Starts a call; `done` runs once with its outcome. Returns the call id.
  uint64_t complete(chat_request req, call_options opts, call_callback done);

  /// Starts a call and returns a future of its outcome.
  std::future<call_result> complete(chat_request req, call_options opts = {});

  /// Starts a streamed call (the request's `stream` flag is set); events go
  /// to `sink` as they arrive. Returns the call id.
  uint64_t stream(chat_request req, call_options opts,
                  std::shared_ptr<stream_sink> sink);

  /// Starts a streamed call whose events go to `on_event`.
  uint64_t stream(chat_request req, call_options opts,
                  stream_callback on_event);

  /// Starts a streamed call read through a bounded `stream_reader`.
  std::unique_ptr<stream_reader> stream(chat_request req,
                                        call_options opts = {});

  /// Cancels a call: its upstream transfers are freed and it completes with
  /// `cancelled` (a stream ends with a `cancelled` error). Unknown or
  /// finished ids are ignored.
  void cancel(uint64_t call_id);

  /// Returns the health of every deployment.
  std::vector<deployment_status> status() const;

  /// Stops taking calls, waits up to `drain` for running calls, cancels the
  /// rest, and stops every actor. Idempotent; never hangs.
  void shutdown(timespan drain = std::chrono::seconds{5});

  /// Test-only: makes the provider actor of `deployment` fail with an
  /// exception, as a bug would. Returns false for an unknown name.
  bool crash_provider(const std::string& deployment);

  /// Returns the configuration the engine runs on.
  const engine_config& config() const noexcept;

  struct impl;

private:
  explicit engine(std::unique_ptr<impl> ptr);

  uint64_t start(chat_request req, call_options opts, call_callback done,
                 std::shared_ptr<stream_sink> sink);

  std::unique_ptr<impl> impl_;
};

} // namespace switchyard
