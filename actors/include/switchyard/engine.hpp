#pragma once

#include "switchyard/config.hpp"
#include "switchyard/error.hpp"
#include "switchyard/events.hpp"
#include "switchyard/expected.hpp"
#include "switchyard/model.hpp"
#include "switchyard/policy/circuit_breaker.hpp"
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
  /// Overrides the route's deadline; counted from the moment `complete` or
  /// `stream` was called, not from when the engine picked the call up.
  std::optional<timespan> deadline;
  /// An absolute deadline (steady clock); when `deadline` is set too, the
  /// earlier of the two applies.
  std::optional<time_point> deadline_at;
  /// Pins the call to one deployment: no fallback, no hedging.
  std::string pin;
  /// Sends calls with the same key to the same deployment while it is
  /// healthy (used by the `sticky` strategy).
  std::string session_key;
  /// Caller's metadata (request ids, tenants...): every engine event of
  /// this call carries it (`engine_event` metadata), so logs and metrics can
  /// name it.
  std::map<std::string, std::string> metadata;
  /// Neither serve this call from the response cache nor let it share an
  /// identical call in flight; its answer still refreshes the cache. The
  /// outcome says `cache_outcome::bypass` (on routes with a `cache`
  /// section).
  bool bypass_cache = false;
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
  /// The last upstream's own wait hint (`retry-after-ms` / `retry-after`)
  /// when the call failed because its targets rate-limited it.
  std::optional<timespan> retry_after;
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

  /// Takes the call's id (the one `engine::stream` returns and the engine's
  /// events carry) once, before any event and before `stream` returns.
  virtual void on_call_id(uint64_t id) {
    (void)id;
  }
};

/// A push-style stream consumer (never refuses an event).
using stream_callback = std::function<void(stream_event)>;

class engine;
class log_sink;
class metric_registry;

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

/// An operator's command for one deployment (the gateway's
/// `/admin/deployments/{name}/{command}`).
enum class deployment_command : uint8_t {
  /// Reject every call until `reset` (breaker forced open).
  force_open,
  /// Admit every call and count nothing until `reset` (breaker forced
  /// closed).
  force_closed,
  /// Take the deployment out of every route until `enable`.
  disable,
  /// Undo `disable`.
  enable,
  /// Close the breaker, clear forced states and marked-down state.
  reset,
};

/// Returns the command's name as the gateway's admin path spells it
/// ("force-open", "force-closed", "disable", "enable", "reset").
std::string_view to_string(deployment_command cmd) noexcept;

/// Parses a name produced by `to_string`.
std::optional<deployment_command>
parse_deployment_command(std::string_view name) noexcept;

/// A deployment's health, as `engine::status()` reports it.
struct deployment_status {
  std::string name;
  std::string provider;
  std::string model;
  /// Breaker state (`to_string` gives closed, open, half_open,
  /// forced_open, forced_closed).
  breaker_state breaker = breaker_state::closed;
  /// Taken out of every route by an operator (`deployment_command::disable`).
  bool disabled = false;
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
  /// Why it is marked down: error class, upstream status and code (empty
  /// when it is not marked down).
  std::string down_reason;
  /// Latency percentiles of the recent successful attempts (a stream's:
  /// to its first token; zero when none).
  timespan latency_p50{};
  timespan latency_p90{};
  timespan latency_p99{};
  /// How many recent attempts (at most 128) the figures below cover.
  uint32_t recent_samples = 0;
  /// Share of those attempts that failed, per error class (only classes
  /// that occurred).
  std::map<std::string, double> recent_errors;
  /// Wall-clock time of the breaker's last transition (none yet: nullopt).
  std::optional<std::chrono::system_clock::time_point> last_transition;
  /// The upstream's last `x-ratelimit-remaining-requests` / `-tokens`.
  std::optional<int64_t> ratelimit_remaining_requests;
  std::optional<int64_t> ratelimit_remaining_tokens;
};

/// A route as `engine::status()` reports it.
struct route_status {
  std::string name;
  /// The targets' deployment names, in the route's order.
  std::vector<std::string> targets;
  /// The deployment a call on this route would be sent to now (empty when
  /// every target is unavailable).
  std::string current;
};

/// The engine's health: its calls, routes and deployments.
struct engine_status {
  /// Calls started and not yet answered.
  uint64_t calls_running = 0;
  /// Calls waiting for an in-flight slot on some deployment.
  uint64_t calls_queued = 0;
  std::vector<route_status> routes;
  std::vector<deployment_status> deployments;
};

/// A call started by `engine::complete` without a callback: its id and its
/// outcome, and a way to cancel it. Must not outlive its engine.
class call_handle {
public:
  call_handle() = default;

  /// The call's id (for `engine::cancel`); 0 when the engine refused it.
  uint64_t id() const noexcept {
    return id_;
  }

  /// Waits for the outcome and returns it (once).
  call_result get() {
    return result_.get();
  }

  /// Waits up to `timeout` for the outcome.
  std::future_status wait_for(timespan timeout) const {
    return result_.wait_for(timeout);
  }

  /// Cancels the call; its outcome is then a `cancelled` error.
  void cancel();

  /// The outcome as a future.
  std::future<call_result>& future() noexcept {
    return result_;
  }

private:
  friend class engine;

  call_handle(engine* owner, uint64_t id, std::future<call_result> result)
      : owner_(owner), id_(id), result_(std::move(result)) {
    // nop
  }

  engine* owner_ = nullptr;
  uint64_t id_ = 0;
  std::future<call_result> result_;
};

/// What the engine is built with besides its configuration.
struct engine_options {
  /// Receives every engine event; may be null.
  std::shared_ptr<event_sink> events;
  /// When set, the engine counts its work in this registry: a
  /// `metrics_sink` gets its events (after `events`), and every render of
  /// the registry refreshes the status gauges from `status()` while the
  /// engine lives (<switchyard/metrics.hpp>).
  std::shared_ptr<metric_registry> metrics;
  /// The structured event log (<switchyard/event_log.hpp>); null means the
  /// one the config's `log` section describes, if any. The engine writes its
  /// events and its `shutdown` record to it, and `config_loaded` to a log it
  /// opened itself (a program passing its own writes that one).
  std::shared_ptr<log_sink> log;
  /// Runs the HTTP jobs; null means a real transport from the config.
  std::shared_ptr<http_client> client;
  /// Seed of the deployments' generators (backoff jitter); 0 means random.
  /// Random and weighted target choices are drawn per call from its id, so
  /// they do not depend on it.
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

  /// Starts a call and returns its handle (id, future outcome, cancel).
  call_handle complete(chat_request req, call_options opts = {});

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

  /// Returns the health of the engine, its routes and deployments. Reads
  /// what the deployments publish: never waits on an engine thread.
  engine_status status() const;

  /// Applies an operator command to a deployment and returns once it is
  /// applied (so the next `status()` or call sees it): it waits on the
  /// calling thread, so it must not be called from an engine callback.
  /// Returns false for an unknown name (or after shutdown).
  bool control(std::string_view deployment, deployment_command cmd);

  /// Stops taking calls, waits up to `drain` for running calls, cancels the
  /// rest, and stops every actor. Idempotent; never hangs.
  void shutdown(timespan drain = std::chrono::seconds{5});

  /// Returns the configuration the engine runs on.
  const engine_config& config() const noexcept;

  struct impl;

private:
  /// Reaches the internals for the test hooks (actors/src/testing.hpp).
  friend struct engine_access;

  explicit engine(std::unique_ptr<impl> ptr);

  uint64_t start(chat_request req, call_options opts, call_callback done,
                 std::shared_ptr<stream_sink> sink);

  std::unique_ptr<impl> impl_;
};

} // namespace switchyard
