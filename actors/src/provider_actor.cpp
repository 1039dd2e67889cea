#include "provider_actor.hpp"

#include "provider_sinks.hpp"
#include "provider_steps.hpp"
#include "redis_state.hpp"

#include <algorithm>
#include <stdexcept>

#include <caf/all.hpp>

namespace switchyard {

namespace provider_steps {

namespace {

/// The outcome the router hears for `pc`.
deployment_result outcome(pending_call& pc,
                          std::optional<chat_response> answer) {
  deployment_result r;
  r.response = std::move(answer);
  r.failure = std::move(pc.last);
  r.verdict = pc.verdict;
  r.attempts = std::move(pc.attempts);
  r.rejected = pc.rejected;
  r.streamed = pc.streamed;
  return r;
}

void admit(self_ptr self, deployment_call call, probe_ticket probe) {
  auto& st = self->state;
  auto id = call.call_id;
  auto [it, added] = st.calls.try_emplace(id);
  if (!added) {
    reply(self, call,
          rejection(make_failure(engine_code::duplicate_call,
                                 "call is already running here"),
                    self->clock().now()));
    return;
  }
  auto& pc = it->second;
  pc.call = std::move(call);
  pc.probe = std::move(probe);
  st.rt->board.in_flight.fetch_add(1, std::memory_order_relaxed);
  start_attempt(self, pc);
}

/// Rejects a call at once and reports it (`call_refused`).
void refuse(self_ptr self, const deployment_call& call, deployment_result r) {
  auto& st = self->state;
  if (st.core->events) {
    call_refused ev;
    ev.call_id = call.call_id;
    ev.deployment = st.rt->config.name;
    if (call.route)
      ev.route = call.route->name;
    ev.reason = r.failure.code;
    ev.metadata = call.metadata;
    st.core->emit(std::move(ev));
  }
  reply(self, call, std::move(r));
}

/// Admits a call, queues it for an in-flight slot, or rejects it at once
/// (marked down, breaker open, local limits, queue full).
void on_call(self_ptr self, deployment_call& call) {
  auto& st = self->state;
  auto& rt = *st.rt;
  auto now = self->clock().now();
  rt.slot(call.route).budget.record_request(now);
  apply_shared(self, now);
  if (auto down = rt.board.down_until_ns.load(std::memory_order_relaxed);
      down != 0 && from_ns(down) > now) {
    auto f = rt.down_reason;
    f.message = "deployment marked down: " + f.message;
    refuse(self, call, rejection(std::move(f), from_ns(down)));
    return;
  }
  if (rt.board.disabled.load(std::memory_order_relaxed)) {
    refuse(self, call,
           rejection(make_failure(engine_code::marked_down,
                                  "disabled by an operator"),
                     time_point::max()));
    return;
  }
  bool leased_elsewhere = !probing(rt) && !may_probe(self, now);
  if (probing(rt) || leased_elsewhere || !rt.breaker.allow(now)) {
    emit_transition(self, now);
    // Another replica may hold the probe: try again once it had a chance.
    auto retry_at = leased_elsewhere ? now + 10ms : rt.breaker.retry_at(now);
    refuse(self, call,
           rejection(make_failure(engine_code::breaker_open,
                                  "circuit breaker of " + rt.config.name
                                      + " is open"),
                     retry_at));
    return;
  }
  emit_transition(self, now);
  auto probe = probe_if_half_open(rt.breaker);
  auto tokens = estimate_tokens(*call.request);
  if (!take_shared_quota(self, tokens)) {
    reply(self, call,
          rejection(make_failure(engine_code::local_rate_limit,
                                 "shared rate limit of " + rt.config.name
                                     + " reached"),
                    now + 1s));
    return;
  }
  auto grant = rt.limiter.acquire(now, tokens);
  if (!grant.granted) {
    refuse(self, call,
           rejection(make_failure(engine_code::local_rate_limit,
                                  "local rate limit of " + rt.config.name
                                      + " reached"),
                     grant.ready_at));
    return;
  }
  auto cap = rt.config.limits.max_in_flight;
  if (cap != 0 && st.calls.size() >= cap) {
    if (st.queue.size() >= rt.config.limits.max_queue) {
      refuse(self, call,
             rejection(make_failure(engine_code::queue_full,
                                    "in-flight cap of " + rt.config.name
                                        + " reached and its queue is full"),
                       now));
      return;
    }
    st.queue.push_back({std::move(call), std::move(probe)});
    rt.board.queued.store(static_cast<uint32_t>(st.queue.size()),
                          std::memory_order_relaxed);
    return;
  }
  admit(self, std::move(call), std::move(probe));
}

/// What an attempt cut by `why` says in its record.
const char* cut_reason(engine_code why) {
  switch (why) {
    case engine_code::deadline_exceeded:
      return "cut by the deadline";
    case engine_code::shutdown:
      return "cut by the engine's shutdown";
    default:
      return "cut: the caller cancelled";
  }
}

/// Ends call `call_id` at once for `why` (cancelled, shutdown,
/// deadline_exceeded) and answers with every attempt made here, the one
/// still running recorded as cut.
void on_cancel(self_ptr self, uint64_t call_id, engine_code why) {
  auto& st = self->state;
  auto now = self->clock().now();
  auto f = make_failure(why, cut_reason(why));
  auto q = std::find_if(st.queue.begin(), st.queue.end(),
                        [&](auto& x) { return x.call.call_id == call_id; });
  if (q != st.queue.end()) {
    reply(self, q->call, rejection(std::move(f), now));
    st.queue.erase(q);
    st.rt->board.queued.store(static_cast<uint32_t>(st.queue.size()),
                              std::memory_order_relaxed);
    return;
  }
  auto i = st.calls.find(call_id);
  if (i == st.calls.end())
    return;
  auto& pc = i->second;
  if (pc.key != 0) {
    auto& rt = *st.rt;
    attempt_record rec;
    rec.deployment = rt.config.name;
    rec.provider = rt.config.provider;
    rec.model = rt.config.ep.model;
    rec.cls = why == engine_code::deadline_exceeded ? error_class::timeout
                                                    : error_class::cancelled;
    rec.status = 0;
    rec.latency = now - pc.attempt_start;
    rec.reason = cut_reason(why);
    pc.attempts.push_back(std::move(rec));
  }
  pc.last = std::move(f);
  pc.verdict = {retry_action::give_up, why == engine_code::deadline_exceeded
                                           ? retry_reason::deadline_passed
                                           : retry_reason::caller_cancelled};
  finish(self, call_id);
}

deployment_status on_status(self_ptr self) {
  auto& st = self->state;
  auto& rt = *st.rt;
  auto now = self->clock().now();
  deployment_status out;
  out.name = rt.config.name;
  out.provider = rt.config.provider;
  out.model = rt.config.ep.model;
  out.breaker = rt.breaker.state();
  out.disabled = rt.board.disabled.load(std::memory_order_relaxed);
  out.in_flight = static_cast<uint32_t>(st.calls.size());
  out.queued = static_cast<uint32_t>(st.queue.size());
  out.calls = rt.calls;
  out.failures = rt.failures;
  out.recent_error_rate = rt.error_rate;
  out.latency_ewma = rt.latency.value();
  out.restarts = rt.restarts;
  out.marked_down = rt.unavailable(now) && rt.board.down_until_ns.load() != 0;
  return out;
}

/// Reports that an operator took the deployment out of its routes (or put
/// it back), as a breaker change to or from "disabled".
void emit_disabled(self_ptr self, bool disabled) {
  auto& st = self->state;
  breaker_changed ev;
  ev.deployment = st.rt->config.name;
  auto state = std::string{to_string(st.rt->breaker.state())};
  ev.from = disabled ? state : "disabled";
  ev.to = disabled ? "disabled" : state;
  st.core->emit(std::move(ev));
}

/// Applies an operator's command and publishes the result on the board.
void on_control(self_ptr self, deployment_command cmd) {
  auto& st = self->state;
  auto& rt = *st.rt;
  auto now = self->clock().now();
  switch (cmd) {
    case deployment_command::force_open:
      rt.breaker.force_open(now);
      break;
    case deployment_command::force_closed:
      rt.breaker.force_closed(now);
      break;
    case deployment_command::disable:
      if (!rt.board.disabled.exchange(true, std::memory_order_relaxed))
        emit_disabled(self, true);
      return;
    case deployment_command::enable:
      if (rt.board.disabled.exchange(false, std::memory_order_relaxed))
        emit_disabled(self, false);
      return;
    case deployment_command::reset:
      rt.breaker.reset(now);
      rt.clear_down();
      if (rt.board.disabled.exchange(false, std::memory_order_relaxed))
        emit_disabled(self, false);
      break;
  }
  emit_transition(self, now);
}

[[noreturn]] void on_crash() {
  throw std::runtime_error("crash requested");
}

/// Turns an exception that escapes a handler into the actor's exit reason,
/// which the supervisor reports in `provider_restarted::reason` (CAF's
/// default handler would print it to the host's stdout).
caf::error on_exception(std::exception_ptr& eptr) {
  try {
    std::rethrow_exception(eptr);
  } catch (const std::exception& e) {
    return caf::make_error(caf::sec::runtime_error,
                           std::string{"unhandled exception: "} + e.what());
  } catch (...) {
    return caf::make_error(caf::sec::runtime_error,
                           "unhandled exception of unknown type");
  }
}

} // namespace

deployment_result rejection(failure f, time_point retry_at) {
  deployment_result r;
  r.failure = std::move(f);
  r.rejected = true;
  r.retry_at = retry_at;
  return r;
}

/// Sends the outcome of `call` to its router. Sent as this actor (not
/// anonymously), so that an idle router runs next on this worker instead of
/// waking another one; anonymously only while the actor stops (null `self`).
void reply(self_ptr self, const deployment_call& call, deployment_result r) {
  if (!call.reply_to)
    return;
  if (self != nullptr)
    self->send(call.reply_to, result_atom::value, call.call_id, call.dispatch,
               std::move(r));
  else
    caf::anon_send(call.reply_to, result_atom::value, call.call_id,
                   call.dispatch, std::move(r));
}

/// Publishes the breaker's state and reports its last transition; with
/// active probing, an opening arms the probe.
void emit_transition(self_ptr self, time_point now, bool share) {
  auto& st = self->state;
  st.rt->publish_breaker(now);
  if (auto t = st.rt->breaker.take_transition()) {
    st.rt->board.last_transition_ms.store(
        std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count(),
        std::memory_order_relaxed);
    if (share && st.core->redis != nullptr
        && (t->to == breaker_state::open || t->to == breaker_state::closed))
      st.core->redis->publish_breaker(
          st.rt->index, t->to, st.rt->breaker.retry_at(now),
          st.rt->breaker.reopens(), t->from == breaker_state::half_open);
    breaker_changed ev;
    ev.deployment = st.rt->config.name;
    ev.from = std::string{to_string(t->from)};
    ev.to = std::string{to_string(t->to)};
    if (t->to == breaker_state::open)
      ev.open_for = st.rt->breaker.retry_at(now) - now;
    st.core->emit(std::move(ev));
    if (t->to == breaker_state::open && st.rt->config.breaker.active_probe)
      schedule_probe(self, now);
  }
}

void finish(self_ptr self, uint64_t call_id,
            std::optional<chat_response> answer) {
  auto& st = self->state;
  auto i = st.calls.find(call_id);
  if (i == st.calls.end())
    return;
  auto& pc = i->second;
  if (pc.key != 0) {
    st.core->client->cancel(pc.job);
    st.keys.erase(pc.key);
  }
  drop_limits(self, pc);
  pc.probe.release();
  reply(self, pc.call, outcome(pc, std::move(answer)));
  st.calls.erase(i);
  st.rt->board.in_flight.fetch_sub(1, std::memory_order_relaxed);
  // Admit waiting calls into the freed slot.
  auto cap = st.rt->config.limits.max_in_flight;
  auto now = self->clock().now();
  while (!st.queue.empty() && (cap == 0 || st.calls.size() < cap)) {
    auto q = std::move(st.queue.front());
    st.queue.pop_front();
    st.rt->board.queued.store(static_cast<uint32_t>(st.queue.size()),
                              std::memory_order_relaxed);
    if (q.call.deadline <= now) {
      q.probe.release();
      reply(self, q.call,
            rejection(make_failure(engine_code::deadline_exceeded,
                                   "deadline passed while queued"),
                      now));
      continue;
    }
    admit(self, std::move(q.call), std::move(q.probe));
  }
}

void give_up(self_ptr self, pending_call& pc, failure f) {
  pc.last = std::move(f);
  finish(self, pc.call.call_id);
}

} // namespace provider_steps

provider_state::~provider_state() {
  using namespace provider_steps;
  auto gone = make_failure(engine_code::provider_restarted,
                           "the provider actor stopped during the call");
  // Probe tickets give their slots back as the calls go.
  if (probe_key != 0 && core && core->client)
    core->client->cancel(probe_job);
  // After a crash, the transfers still running belong to their calls: the
  // successor adopts those calls and the results reach them without a
  // second request. Everything else fails over at once.
  bool hand_over = crashed && core && core->client && rt;
  std::vector<pending_call> orphans;
  for (auto& [id, pc] : calls) {
    if (hand_over && pc.key != 0 && pc.sink) {
      orphans.push_back(std::move(pc)); // still in flight on the board
      continue;
    }
    if (pc.key != 0 && core && core->client)
      core->client->cancel(pc.job);
    if (rt)
      rt->board.in_flight.fetch_sub(1, std::memory_order_relaxed);
    pc.last = gone;
    reply(nullptr, pc.call, outcome(pc, std::nullopt));
  }
  for (auto& q : queue)
    reply(nullptr, q.call, rejection(gone, time_point{}));
  if (orphans.empty())
    return;
  // Before the down message goes out (CAF destroys the state first), so
  // that routers see the dispatches as adopted.
  std::lock_guard guard{rt->handover_mtx};
  if (!rt->handover)
    rt->handover = std::make_shared<provider_handover>();
  for (auto& pc : orphans) {
    rt->adopted.emplace(pc.call.call_id, pc.call.dispatch);
    rt->handover->calls.push_back(std::move(pc));
  }
}

namespace {

/// Takes over the calls a crashed predecessor left (see
/// `provider_handover`) and looks for results that arrived meanwhile.
void adopt_orphans(provider_steps::self_ptr self) {
  auto& st = self->state;
  // Registered first: a transfer ending from now on tells this actor.
  st.core->directory.set(st.rt->index, caf::actor_cast<provider_actor>(self));
  std::shared_ptr<provider_handover> handover;
  {
    std::lock_guard guard{st.rt->handover_mtx};
    handover = std::move(st.rt->handover);
  }
  // Keys the predecessor was told about and did not take wait on the ready
  // list; take them (and make the next completion send a message again).
  self->send(caf::actor_cast<provider_actor>(self), transfer_atom::value,
             uint64_t{0});
  if (!handover)
    return;
  for (auto& pc : handover->calls) {
    auto key = pc.key;
    auto id = pc.call.call_id;
    st.keys.emplace(key, id);
    st.calls.emplace(id, std::move(pc));
    // The result may wait in the sink already (its message died with the
    // predecessor).
    self->send(caf::actor_cast<provider_actor>(self), transfer_atom::value,
               key);
  }
}

} // namespace

provider_actor::behavior_type
provider(provider_actor::stateful_pointer<provider_state> self,
         std::shared_ptr<engine_core> core, size_t index) {
  using namespace provider_steps;
  self->state.rt = core->deployments.at(index);
  self->state.core = std::move(core);
  self->set_exception_handler([self](std::exception_ptr& eptr) {
    self->state.crashed = true;
    return on_exception(eptr);
  });
  adopt_orphans(self);
  // A restarted actor takes over the probing of a breaker left open.
  if (probing(*self->state.rt))
    schedule_probe(self, self->clock().now());
  return {
      [self](call_atom, deployment_call& call) { on_call(self, call); },
      [self](cancel_atom, uint64_t id, engine_code why) {
        on_cancel(self, id, why);
      },
      [self](control_atom, deployment_command cmd) {
        on_control(self, cmd);
        return true;
      },
      [self](status_atom) { return on_status(self); },
      [self](transfer_atom, uint64_t key, transfer_result& tr) {
        on_transfer(self, key, tr);
      },
      [self](transfer_atom, uint64_t key) { on_transfer_ready(self, key); },
      [self](transfer_atom, uint64_t key, stream_verdict& v) {
        on_stream_verdict(self, key, v);
      },
      [self](token_atom, uint64_t key) { on_token(self, key); },
      [self](timeout_atom, int64_t at) { on_limit_timer(self, from_ns(at)); },
      [self](probe_atom, uint64_t generation) {
        on_probe_timer(self, generation);
      },
      [self](retry_atom, uint64_t id, uint64_t generation) {
        on_retry_timer(self, id, generation);
      },
      [self](shared_atom) { apply_shared(self, self->clock().now()); },
      [](crash_atom) { on_crash(); },
  };
}

} // namespace switchyard
