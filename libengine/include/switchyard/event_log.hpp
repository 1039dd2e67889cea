#pragma once

// The structured event log: every engine event as one JSON line, written by
// spdlog on its own thread (standard output or a rotated file), so that the
// engine's threads only format and enqueue. Configured by the `log` section
// (configs/README.md). Events name no secret: no key, no authorization
// header, no upstream message text.

#include "switchyard/config.hpp"
#include "switchyard/events.hpp"
#include "switchyard/expected.hpp"

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace switchyard {

/// An event as a JSON object: "event" names its kind (attempt_started,
/// attempt, retry, fallback, hedge, breaker, restart, refused, call), then
/// its fields; durations in milliseconds ("*_ms").
nlohmann::ordered_json to_json(const engine_event& ev);

/// The level an event is logged at: attempts started at debug; successful
/// attempts, calls, retries and hedges at info; failed attempts, fallbacks,
/// refusals, restarts and breakers opening at warn; a deployment marked
/// down at error.
log_level level_of(const engine_event& ev);

/// The fields of a `config_loaded` record: deployment count, each route's
/// targets in order, the default route (no key, no URL).
nlohmann::json describe_config(const engine_config& cfg);

/// Returns "debug", "info", "warn" or "error".
std::string_view to_string(log_level level) noexcept;

/// Writes engine events (and the program's own records) as JSON lines:
/// `{"ts":"2026-01-31T12:00:00.123Z","level":"info","event":...}`.
/// Thread-safe; `on_event` never blocks (a full queue drops its oldest
/// record).
class log_sink : public event_sink {
public:
  /// Opens the log; fails with a message naming the file when it cannot.
  static expected<std::shared_ptr<log_sink>, std::string>
  open(const log_settings& settings);

  /// Writes what is queued.
  ~log_sink() override;

  void on_event(const engine_event& ev) override;

  /// Writes a record of the program's own, e.g. "config_loaded" or
  /// "shutdown"; `fields` (an object) follow "event".
  void note(log_level level, std::string_view event,
            const nlohmann::json& fields = nlohmann::json::object());

  /// Writes what is queued and flushes the file.
  void flush();

  struct impl;

private:
  explicit log_sink(std::unique_ptr<impl> ptr);

  std::unique_ptr<impl> impl_;
};

} // namespace switchyard
