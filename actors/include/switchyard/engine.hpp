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

  /// Cancels a call: its upstream transfers are freed and it completes with
  /// `cancelled`. Unknown or finished ids are ignored.
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

  std::unique_ptr<impl> impl_;
};

} // namespace switchyard
