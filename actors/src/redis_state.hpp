#pragma once

// The Redis client of one engine (redis_state): a thread of its own that
// publishes this replica's breaker transitions and markings, reads back the
// other replicas' (polling), takes half-open probe leases and slices of the
// shared rate limits. Nothing else waits on it: the provider actors read and
// write `shared_deployment` atomics and queue publications here.

#include "shared_state.hpp"
#include "switchyard/config.hpp"
#include "switchyard/error.hpp"
#include "switchyard/policy/circuit_breaker.hpp"
#include "switchyard/time.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

struct redisContext;

namespace switchyard {

struct engine_core;

/// Shares the breaker, probe, rate-limit and marked-down state of the
/// deployments of one engine with the other replicas through one Redis.
class redis_state {
public:
  /// Starts the client thread for the deployments of `core` and points each
  /// deployment runtime at its `shared_deployment`. `core` must outlive
  /// `stop()`.
  redis_state(redis_config cfg, engine_core& core);

  ~redis_state();

  redis_state(const redis_state&) = delete;
  redis_state& operator=(const redis_state&) = delete;

  // -- called from any thread -------------------------------------------------

  /// Stops the thread (idempotent).
  void stop();

  /// Publishes deployment `idx`'s breaker (open or closed); `verdict` says
  /// it ended a half-open probe, whose lease is given back.
  void publish_breaker(size_t idx, breaker_state to, time_point open_until,
                       uint32_t reopens, bool verdict);

  /// Publishes that deployment `idx` is marked down until `until`
  /// (time_point::max() = for good) for `cls`.
  void publish_down(size_t idx, time_point until, error_class cls);

  /// Wakes the thread: a lease or a rate-limit slice is wanted.
  void wake();

private:
  /// A command for the thread, as its arguments.
  using command = std::vector<std::string>;

  // -- the client thread ------------------------------------------------------

  void run();
  bool connect();
  void lost(const std::string& why);
  /// Sends `cmds` pipelined; false when the connection failed.
  bool exec(const std::vector<command>& cmds, std::vector<std::string>* out);
  bool resync();
  bool poll();
  bool serve_leases();
  bool serve_quotas(bool all);
  void apply_breaker(size_t idx, const std::string& value);
  void apply_down(size_t idx, const std::string& value);
  void poke(size_t idx);
  std::string key(std::string_view kind, size_t idx) const;

  // -- fixed after construction -----------------------------------------------

  redis_config cfg_;
  engine_core& core_;
  /// Identifies this replica's lease.
  std::string replica_;
  std::vector<std::unique_ptr<shared_deployment>> shared_;

  // -- guarded by mtx_
  // ----------------------------------------------------------

  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<command> outbox_;
  bool woken_ = false;
  bool stopping_ = false;

  // -- owned by the client thread ---------------------------------------------

  redisContext* ctx_ = nullptr;
  /// Logged the outage already (log once per outage).
  bool reported_down_ = false;
  std::vector<std::string> seen_breaker_;
  std::vector<std::string> seen_down_;
  /// The rate-limit window (Unix minute) each quota's `left` belongs to,
  /// and whether Redis had nothing more for it: [idx * 2 + 0/1].
  std::vector<int64_t> window_;
  std::vector<bool> exhausted_;

  std::thread thread_;
};

} // namespace switchyard
