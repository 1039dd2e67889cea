#pragma once

// A deployment's state that outlives its provider actor (deployment_runtime),
// what it publishes for routers (deployment_board), and the read-only view
// routers get of it (deployment_view).

#include "shared_state.hpp"
#include "switchyard/actors.hpp"
#include "switchyard/adapter.hpp"
#include "switchyard/config.hpp"
#include "switchyard/policy/circuit_breaker.hpp"
#include "switchyard/policy/deadline.hpp"
#include "switchyard/policy/hedge.hpp"
#include "switchyard/policy/load_balancer.hpp"
#include "switchyard/policy/rate_limiter.hpp"
#include "switchyard/policy/retry_budget.hpp"
#include "switchyard/random.hpp"

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

namespace switchyard {

/// What a deployment publishes for routers on other threads: read without
/// messaging, so that a dead provider costs microseconds.
struct deployment_board {
  /// `breaker_state` as an integer.
  std::atomic<uint8_t> breaker{0};
  /// While open: when it admits calls again (ns since the clock's epoch).
  std::atomic<int64_t> open_until_ns{0};
  /// How often the breaker reopened since it last closed.
  std::atomic<uint32_t> reopens{0};
  /// Marked down until this time (ns since epoch); 0 = not down.
  std::atomic<int64_t> down_until_ns{0};
  /// `error_class` of the marking.
  std::atomic<uint8_t> down_class{0};
  std::atomic<uint32_t> in_flight{0};
  std::atomic<int64_t> latency_ewma_ns{0};
  /// Taken out of every route by an operator until `enable` or `reset`.
  std::atomic<bool> disabled{false};

  // -- the status snapshot (`deployment_view::status`) ------------------------

  /// Attempts concluded and how many failed.
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> failures{0};
  /// Exponentially weighted share of failed attempts (0..1).
  std::atomic<double> error_rate{0};
  /// Calls waiting for an in-flight slot.
  std::atomic<uint32_t> queued{0};
  /// Restarts of the provider actor so far.
  std::atomic<uint32_t> restarts{0};
  /// The upstream's last `x-ratelimit-remaining-requests` / `-tokens`
  /// (-1 while it sent none).
  std::atomic<int64_t> remaining_requests{-1};
  std::atomic<int64_t> remaining_tokens{-1};
  /// Wall-clock time of the breaker's last transition (ms since the Unix
  /// epoch; 0 = none yet).
  std::atomic<int64_t> last_transition_ms{0};
  /// The last attempts' latencies (ns) and outcomes (0 ok, 1 + error class,
  /// `no_sample` for an empty slot): a ring written by the provider actor
  /// alone (`record_sample`), read by `status` for percentiles and error
  /// shares by class.
  static constexpr size_t recent_samples = 128;
  static constexpr uint8_t no_sample = 255;
  std::array<std::atomic<int64_t>, recent_samples> recent_latency_ns{};
  std::array<std::atomic<uint8_t>, recent_samples> recent_outcome{};
  std::atomic<uint64_t> recent_next{0};

  deployment_board() {
    for (auto& o : recent_outcome)
      o.store(no_sample, std::memory_order_relaxed);
  }

  /// Adds one attempt's outcome to the ring.
  void record_sample(std::optional<error_class> cls,
                     timespan latency) noexcept {
    auto i = recent_next.load(std::memory_order_relaxed) % recent_samples;
    recent_latency_ns[i].store(latency.count(), std::memory_order_relaxed);
    recent_outcome[i].store(cls ? 1 + static_cast<uint8_t>(*cls) : 0,
                            std::memory_order_relaxed);
    recent_next.fetch_add(1, std::memory_order_relaxed);
  }
};

/// What a deployment keeps per route that targets it, because the route's
/// settings apply: its retry budget and the latency sample behind its
/// percentile hedge delay, and its timeout ladders. Owned by the provider
/// actor except `hedge_delay_ns`, which routers read.
struct route_slot {
  explicit route_slot(const route_policy& policy)
      : budget(policy.retry_budget), latency_sample(policy.hedge),
        ladder(policy.ladder), stream_ladder(policy.stream.first_token.empty()
                                                 ? policy.ladder
                                                 : policy.stream.first_token) {
    // nop
  }

  retry_budget budget;
  hedge_policy latency_sample;
  /// The route's attempt timeouts; for streams, its time-to-first-token
  /// ladder (the attempt ladder when it has none). Built once here, so that
  /// an attempt does not copy the steps.
  timeout_ladder ladder;
  timeout_ladder stream_ladder;
  /// The hedge delay the recent latencies suggest (0 = unknown yet).
  std::atomic<int64_t> hedge_delay_ns{0};
};

/// The calls a crashed provider actor leaves to its successor (defined with
/// the provider's state).
struct provider_handover;

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
  /// `down_reason` as `status` reports it (class, status, code; never the
  /// upstream's message, which may quote a key), guarded by `down_mtx`.
  mutable std::mutex down_mtx;
  std::string down_text;
  uint64_t calls = 0;
  uint64_t failures = 0;
  /// Exponentially weighted share of failed attempts (alpha 0.1).
  double error_rate = 0;
  uint32_t restarts = 0;
  /// Source of attempt keys; shared across restarts so keys never repeat.
  uint64_t next_key = 1;
  /// This deployment's state shared through Redis; null without Redis. Set
  /// before the provider actors start, cleared after they stopped.
  shared_deployment* shared = nullptr;
  /// The `shared_deployment::seq` and `breaker_seq` the provider actor
  /// applied last.
  uint64_t shared_seen = 0;
  uint64_t shared_breaker_seen = 0;
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

  /// Counts one attempt's outcome (and publishes the counts).
  void record_outcome(bool failed) noexcept {
    ++calls;
    failures += failed ? 1 : 0;
    error_rate = 0.9 * error_rate + (failed ? 0.1 : 0.0);
    board.calls.store(calls, std::memory_order_relaxed);
    board.failures.store(failures, std::memory_order_relaxed);
    board.error_rate.store(error_rate, std::memory_order_relaxed);
  }

  /// Counts one restart of the provider actor (and publishes it).
  void record_restart() noexcept {
    ++restarts;
    board.restarts.store(restarts, std::memory_order_relaxed);
  }

  /// Returns true (once) when dispatch `dispatch` of call `id` was adopted
  /// by the successor of the crashed provider actor it went to: its router
  /// must not fail it over when that actor's down message arrives (the
  /// result comes from the successor). Thread-safe.
  bool take_adopted(uint64_t id, uint32_t dispatch);

  // -- calls handed from a crashed provider actor to its successor -----------

  /// Guards `handover` and `adopted`.
  std::mutex handover_mtx;
  /// Calls whose transfers were running when the provider actor crashed;
  /// filled by the dying actor's state destructor (before its down message
  /// goes out), taken by the successor when it starts.
  std::shared_ptr<provider_handover> handover;
  /// (call id, dispatch) of every call in `handover`, until its router saw
  /// the down message (`take_adopted`).
  std::set<std::pair<uint64_t, uint32_t>> adopted;

  /// Marks the deployment down until `until` for `why`.
  void mark_down(time_point until, failure why) noexcept;

  /// Clears a marked-down state.
  void clear_down() noexcept;
};

/// What routers may read of a deployment: its configuration, what it
/// publishes on its board and the hedge delays of its route slots. The
/// breaker, limiter and generator stay with the provider actor.
class deployment_view {
public:
  explicit deployment_view(const deployment_runtime& rt) noexcept : rt_(&rt) {
    // nop
  }

  const deployment_config& config() const noexcept {
    return rt_->config;
  }

  const deployment_board& board() const noexcept {
    return rt_->board;
  }

  /// The hedge delay the recent latencies on `route` suggest; nullopt while
  /// unknown.
  std::optional<timespan> hedge_delay(const route_config* route) const noexcept;

  /// Returns true when a call on `route` with `in_flight` attempts may
  /// start a hedge here (reads only the route's fixed hedge settings).
  bool may_hedge(const route_config* route, uint32_t in_flight) const noexcept {
    return rt_->slot(route).latency_sample.may_hedge(in_flight);
  }

  /// Returns true when routers should not send calls here at `now`.
  bool unavailable(time_point now) const noexcept {
    return rt_->unavailable(now);
  }

  /// Returns when the deployment takes calls again (now if it does).
  time_point available_at(time_point now) const noexcept {
    return rt_->available_at(now);
  }

  /// The deployment's health at `now`, read from the board (never asks the
  /// provider actor).
  deployment_status status(time_point now) const;

private:
  const deployment_runtime* rt_;
};

} // namespace switchyard
