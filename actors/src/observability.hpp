#pragma once

// What `engine_options` asks the engine to observe itself with (a metrics
// registry, an event log): the sinks it adds to the engine's events and the
// link through which a registry's scrape reads `engine::status()`.

#include "switchyard/engine.hpp"
#include "switchyard/event_log.hpp"

#include <memory>
#include <mutex>

namespace switchyard {

/// Lets a registry's collector reach the engine while it lives.
struct status_link {
  std::mutex mtx;
  const engine* eng = nullptr;

  void bind(const engine* e) {
    std::lock_guard guard{mtx};
    eng = e;
  }
};

/// What observes an engine besides its caller's sink.
struct observers {
  /// Bound to the engine once it runs, unbound before it is destroyed.
  std::shared_ptr<status_link> link;
  /// The event log (`engine_options::log`, or opened from the config's
  /// `log` section); null when there is none.
  std::shared_ptr<log_sink> log;
};

/// Adds the sinks `opts` and the config ask for (metrics, log) to
/// `opts.events`; fails when the config's log file cannot be opened.
expected<observers, std::string> attach_observers(const engine_config& cfg,
                                                  engine_options& opts);

} // namespace switchyard
