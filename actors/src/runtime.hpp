#pragma once

#include "switchyard/actors.hpp"
#include "switchyard/adapter.hpp"
#include "switchyard/config.hpp"
#include "switchyard/events.hpp"
#include "switchyard/policy/circuit_breaker.hpp"
#include "switchyard/policy/hedge.hpp"
#include "switchyard/policy/load_balancer.hpp"
#include "switchyard/policy/rate_limiter.hpp"
#include "switchyard/policy/retry_budget.hpp"
#include "switchyard/random.hpp"
#include "switchyard/transport.hpp"

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace switchyard {

/// What a deployment publishes for routers on other threads: read without
/// messaging, so that a dead provider costs microseconds.
struct deployment_board {
  /// `breaker_state` as an integer.
  std::atomic<uint8_t> breaker{0};
  /// While open: when it admits calls again (ns since the clock's epoch).
  std::atomic<int64_t> open_until_ns{0};
  /// Marked down until this time (ns since epoch); 0 = not down.
  std::atomic<int64_t> down_until_ns{0};
  std::atomic<uint32_t> in_flight{0};
  std::atomic<int64_t> latency_ewma_ns{0};
};

/// What a deployment keeps per route that targets it, because the route's
/// settings apply: its retry budget and the latency sample behind its
/// percentile hedge delay. Owned by the provider actor except
/// `hedge_delay_ns`, which routers read.
struct route_slot {
  explicit route_slot(const route_policy& policy)
      : budget(policy.retry_budget), latency_sample(policy.hedge) {
    // nop
  }

  retry_budget budget;
  hedge_policy latency_sample;
  /// The hedge delay the recent latencies suggest (0 = unknown yet).
  std::atomic<int64_t> hedge_delay_ns{0};
};

/// A deployment's state that outlives its provider actor: policies and
/// counters survive a restart.
struct deployment_runtime {
  deployment_runtime(size_t idx, const deployment_config& cfg,
                     const config_defaults& defaults, uint64_t seed,
                     time_point now);

  size_t index;
  deployment_config config;
  const adapter* codec;
  circuit_breaker breaker;
  rate_limiter limiter;
  ewma latency;
  default_random_generator rng;
  deployment_board board;
  /// Why the deployment is marked down (auth, quota, restarts).
  failure down_reason;
  uint64_t calls = 0;
  uint64_t failures = 0;
  /// Exponentially weighted share of failed attempts (alpha 0.1).
  double error_rate = 0;
  uint32_t restarts = 0;
  /// Source of attempt keys; shared across restarts so keys never repeat.
  uint64_t next_key = 1;
  /// Generation of the active-probe timer; a stale timer carries an old one.
  uint64_t probe_generation = 0;

  /// Per route that targets this deployment; fixed after construction, so
  /// routers may look up slots from any thread.
  std::unordered_map<const route_config*, std::unique_ptr<route_slot>>
      route_slots;
  /// For calls on a route the engine does not know (the defaults apply).
  route_slot default_slot;

  /// Returns the slot of `route` (the default slot for an unknown one).
  route_slot& slot(const route_config* route) noexcept {
    auto i = route_slots.find(route);
    return i != route_slots.end() ? *i->second : default_slot;
  }

  const route_slot& slot(const route_config* route) const noexcept {
    auto i = route_slots.find(route);
    return i != route_slots.end() ? *i->second : default_slot;
  }

  /// Returns true when routers should not send calls here at `now`.
  bool unavailable(time_point now) const noexcept;

  /// Returns when the deployment takes calls again (now if it does).
  time_point available_at(time_point now) const noexcept;

  /// Publishes the breaker's state to the board.
  void publish_breaker(time_point now) noexcept;

  /// Counts one attempt's outcome.
  void record_outcome(bool failed) noexcept {
    ++calls;
    failures += failed ? 1 : 0;
    error_rate = 0.9 * error_rate + (failed ? 0.1 : 0.0);
  }

  /// Marks the deployment down until `until` for `why`.
  void mark_down(time_point until, failure why) noexcept;
};

/// A route ready for dispatch: its config and target deployment indexes.
struct route_plan {
  std::shared_ptr<const route_config> config;
  std::vector<size_t> targets;
  /// `stable_hash` of each target's deployment name (for the strategies).
  std::vector<uint64_t> target_ids;
  std::vector<size_t> context_fallbacks;
  std::vector<size_t> content_fallbacks;
};

/// The current provider actor of every deployment, replaced on restarts.
class provider_directory {
public:
  explicit provider_directory(size_t n) : actors_(n) {
    // nop
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
  mutable std::shared_mutex mtx_;
  std::vector<provider_actor> actors_;
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
  /// Calls started and not yet answered; shared with the engine, which
  /// counts calls started after its core is gone.
  std::shared_ptr<call_counter> calls = std::make_shared<call_counter>();

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
