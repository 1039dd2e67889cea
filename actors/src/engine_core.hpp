#pragma once

// Everything the actors of one engine share (engine_core): the deployments'
// runtimes, the routes' plans, the directory of current provider actors and
// the count of running calls.

#include "deployment_runtime.hpp"
#include "switchyard/actors.hpp"
#include "switchyard/config.hpp"
#include "switchyard/events.hpp"
#include "switchyard/transport.hpp"

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

namespace switchyard {

class redis_state;

/// A route ready for dispatch: its config and target deployment indexes.
struct route_plan {
  std::shared_ptr<const route_config> config;
  std::vector<size_t> targets;
  /// `stable_hash` of each target's deployment name (for the strategies).
  std::vector<uint64_t> target_ids;
  std::vector<size_t> context_fallbacks;
  std::vector<size_t> content_fallbacks;
};

/// The current provider actor of every deployment, replaced on restarts,
/// and each deployment's plain transfers that ended and wait for it.
class provider_directory {
public:
  explicit provider_directory(size_t n) : actors_(n), ready_(n) {
    // nop
  }

  /// Records that plain transfer `key` of deployment `index` ended (any
  /// thread); true when the caller must tell the provider actor (by
  /// `transfer_atom` with key 0): nobody did since it last took the list.
  /// Completions of one transport loop iteration thus reach the actor as
  /// one message.
  bool push_ready(size_t index, uint64_t key) const {
    auto& r = ready_[index];
    std::lock_guard guard{r.mtx};
    r.keys.push_back(key);
    return !std::exchange(r.notified, true);
  }

  /// Moves the waiting keys of deployment `index` into `out` (cleared
  /// first); the next `push_ready` asks for a message again.
  void take_ready(size_t index, std::vector<uint64_t>& out) const {
    out.clear();
    auto& r = ready_[index];
    std::lock_guard guard{r.mtx};
    std::swap(out, r.keys);
    r.notified = false;
  }

  provider_actor get(size_t index) const {
    std::shared_lock guard{mtx_};
    return actors_[index];
  }

  void set(size_t index, provider_actor hdl) {
    std::unique_lock guard{mtx_};
    actors_[index] = std::move(hdl);
  }

  std::vector<provider_actor> all() const {
    std::shared_lock guard{mtx_};
    return actors_;
  }

private:
  struct ready_list {
    std::mutex mtx;
    std::vector<uint64_t> keys;
    /// A message to take the list is on its way.
    bool notified = false;
  };

  mutable std::shared_mutex mtx_;
  std::vector<provider_actor> actors_;
  /// Shared with the transport threads (the sinks hold the directory as
  /// const: they only read the actors).
  mutable std::vector<ready_list> ready_;
};

/// Counts the calls between their start and their one answer, so that a
/// shutdown can wait for them to drain.
class call_counter {
public:
  void started() noexcept {
    running_.fetch_add(1);
  }

  void ended() {
    if (running_.fetch_sub(1) == 1) {
      std::lock_guard guard{mtx_};
      idle_.notify_all();
    }
  }

  uint64_t running() const noexcept {
    return running_.load();
  }

  /// Waits up to `timeout` for every call to end; true when none runs.
  bool wait_idle(timespan timeout) {
    std::unique_lock guard{mtx_};
    return idle_.wait_for(guard, timeout, [this] { return running() == 0; });
  }

private:
  std::atomic<uint64_t> running_{0};
  std::mutex mtx_;
  std::condition_variable idle_;
};

/// Everything the actors of one engine share. Immutable after start except
/// for the runtimes (each owned by its provider actor) and the directory.
/// Routers read deployments only through `view`.
struct engine_core {
  engine_core(engine_config cfg, std::shared_ptr<http_client> http,
              std::shared_ptr<event_sink> sink, uint64_t seed, time_point now);

  /// Lets go of the client first: a transport that ends with the core stops
  /// while the deployments and routes its sinks may point into still exist.
  ~engine_core() {
    client.reset();
  }

  engine_core(const engine_core&) = delete;
  engine_core& operator=(const engine_core&) = delete;

  std::shared_ptr<const engine_config> config;
  std::shared_ptr<http_client> client;
  std::shared_ptr<event_sink> events;
  std::vector<std::shared_ptr<deployment_runtime>> deployments;
  std::map<std::string, size_t, std::less<>> deployment_index;
  std::map<std::string, route_plan, std::less<>> routes;
  provider_directory directory;
  /// The Redis client sharing state with other replicas; null without
  /// `state.redis`. Set before the provider actors start.
  redis_state* redis = nullptr;
  /// Calls started and not yet answered; shared with the engine, which
  /// counts calls started after its core is gone.
  std::shared_ptr<call_counter> calls = std::make_shared<call_counter>();

  /// Returns what routers may read of deployment `index`.
  deployment_view view(size_t index) const noexcept {
    return deployment_view{*deployments[index]};
  }

  /// Takes the record that a dispatch (call `id`, `dispatch`) on deployment
  /// `index` was handed to the successor of a crashed provider actor: true
  /// when it was (the router then keeps waiting for its answer).
  bool take_adopted(size_t index, uint64_t id, uint32_t dispatch) const {
    return deployments[index]->take_adopted(id, dispatch);
  }

  /// Returns the plan of `name` (the default route when empty), or nullptr.
  const route_plan* find_route(std::string_view name) const;

  /// Reports an event to the sink, if any.
  void emit(const engine_event& ev) const {
    if (events)
      events->on_event(ev);
  }
};

/// Converts a time point to nanoseconds since the clock's epoch.
inline int64_t to_ns(time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             t.time_since_epoch())
      .count();
}

/// Converts nanoseconds since the clock's epoch to a time point.
inline time_point from_ns(int64_t ns) noexcept {
  return time_point{
      std::chrono::duration_cast<timespan>(std::chrono::nanoseconds{ns})};
}

} // namespace switchyard
