#pragma once

// The front of the engine's call path for routes with a `cache` section:
// answers from the response cache, and lets identical calls in flight share
// one upstream call (coalescing). No actor: it runs on the caller's thread
// when a call starts and on the engine thread that delivers the upstream
// call's outcome; the upstream call itself is an ordinary routed call.

#include "engine_core.hpp"
#include "switchyard/cache.hpp"
#include "switchyard/engine.hpp"

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace switchyard {

/// Answers calls from the cache and coalesces identical calls in flight.
/// Thread-safe.
class cache_front {
public:
  /// Starts an upstream (routed) call with the given id; it answers once
  /// through `done` (and `sink` for streams).
  using launch_fn
      = std::function<void(uint64_t id, chat_request req, call_options opts,
                           call_callback done, std::shared_ptr<stream_sink>)>;

  /// Cancels an upstream call.
  using cancel_fn = std::function<void(uint64_t id)>;

  /// Returns the engine clock's now.
  using clock_fn = std::function<time_point()>;

  /// Runs a job soon on an engine thread (never before returning): answers
  /// from the cache are delivered this way, so that a callback that starts
  /// an identical call does not recurse.
  using post_fn = std::function<void(std::function<void()>)>;

  cache_front(std::shared_ptr<engine_core> core, launch_fn launch,
              cancel_fn cancel, clock_fn now, post_fn post);

  ~cache_front();

  cache_front(const cache_front&) = delete;
  cache_front& operator=(const cache_front&) = delete;

  /// Whether any route has a cache section that does something.
  static bool wanted(const engine_config& cfg);

  /// Takes call `id` (counted as started) when its route caches or
  /// coalesces it: answers it from the cache (on an engine thread), joins an
  /// identical call in flight, or starts the upstream call with the same
  /// id. Returns false, moving nothing, when the call is not for the cache
  /// (the caller then routes it as usual).
  bool start(uint64_t id, time_point start, chat_request& req,
             call_options& opts, call_callback& done,
             std::shared_ptr<stream_sink>& sink);

  /// Cancels call `id` when it waits on a shared upstream call: it gets its
  /// `cancelled` answer now, and the upstream call is cancelled only when
  /// no caller waits for it any more. Returns false for any other id.
  bool cancel(uint64_t id);

  /// The cache's counters.
  response_cache::counters stats() const;

  /// Tests only: runs `f` with a joiner's id after the joiner is registered
  /// as a caller of the shared call and before it waits on it (set before
  /// any call starts).
  void set_join_hook(std::function<void(uint64_t)> f) {
    join_hook_ = std::move(f);
  }

  struct flight;
  struct waiter;

private:
  friend class flight_sink;

  void on_event(const std::shared_ptr<flight>& f, const stream_event& ev);
  void deliver_hit(const std::shared_ptr<waiter>& w, const cached_answer& hit);
  /// Gives caller `w` its `cancelled` answer and counts it ended.
  void deliver_cancelled(waiter& w);
  void catch_up(const std::shared_ptr<flight>& f,
                const std::shared_ptr<waiter>& w);
  void on_result(const std::shared_ptr<flight>& f, call_result r);
  /// Drops a flight's map entries; call with the flight's lock held.
  void forget(flight& f);

  std::shared_ptr<engine_core> core_;
  launch_fn launch_;
  cancel_fn cancel_;
  clock_fn now_;
  post_fn post_;
  response_cache cache_;
  /// Never held while taking a flight's lock.
  mutable std::mutex mtx_;
  /// Shared flights by key.
  std::unordered_map<std::string, std::shared_ptr<flight>> inflight_;
  /// The flight each caller of a shared flight waits on.
  std::unordered_map<uint64_t, std::shared_ptr<flight>> by_caller_;
  std::function<void(uint64_t)> join_hook_;
};

} // namespace switchyard
