#pragma once

// Breaker and marked-down state kept across restarts (`state.snapshot`):
// restored into the deployment runtimes before the provider actors start,
// written by a thread of its own from what the deployments publish on
// their boards, and once more at shutdown.

#include "switchyard/config.hpp"
#include "switchyard/state_snapshot.hpp"
#include "switchyard/time.hpp"

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace switchyard {

struct engine_core;

/// Captures the persisted state of every deployment of `core` at `now`.
state_snapshot capture_snapshot(const engine_core& core, time_point now);

/// Applies `snap` to the deployments of `core` whose names match (before
/// the provider actors start) and logs the names it skipped. Returns how
/// many deployments it changed.
size_t restore_snapshot(engine_core& core, const state_snapshot& snap,
                        time_point now);

/// Reads and restores the snapshot at `path`; a missing file is a first
/// start, an unreadable or corrupt one is logged and ignored.
void restore_snapshot_file(engine_core& core, const std::string& path,
                           time_point now);

/// Writes the snapshot of `core` every `cfg.interval` and at `stop()`.
class snapshot_writer {
public:
  snapshot_writer(snapshot_config cfg, const engine_core& core);

  ~snapshot_writer();

  snapshot_writer(const snapshot_writer&) = delete;
  snapshot_writer& operator=(const snapshot_writer&) = delete;

  /// Stops the thread and writes a last snapshot (idempotent; call it once
  /// the provider actors stopped, so that it holds their final state).
  void stop();

private:
  void run();
  void write();

  snapshot_config cfg_;
  const engine_core& core_;
  std::mutex mtx_;
  std::condition_variable cv_;
  bool stopping_ = false;
  /// The last write failed (logged once until a write succeeds again).
  bool failing_ = false;
  std::thread thread_;
};

} // namespace switchyard
