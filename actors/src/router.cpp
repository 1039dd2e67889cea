#include "router.hpp"

#include "switchyard/actors.hpp"
#include "switchyard/policy/load_balancer.hpp"

#include <algorithm>
#include <array>

#include <caf/all.hpp>

namespace switchyard {

namespace {

using self_ptr = router_actor::stateful_pointer<router_state>;

/// The router running a caller's callback on this thread, if any.
thread_local self_ptr callback_router = nullptr;

/// Marks the router whose callback runs, for `send_from_callback`.
class callback_scope {
public:
  explicit callback_scope(self_ptr self) : prev_(callback_router) {
    callback_router = self;
  }

  ~callback_scope() {
    callback_router = prev_;
  }

  callback_scope(const callback_scope&) = delete;
  callback_scope& operator=(const callback_scope&) = delete;

private:
  self_ptr prev_;
};

/// A tiny per-call generator (splitmix64): seeding a Mersenne Twister per
/// call would cost more than the whole routing decision.
class splitmix_random final : public random_generator {
public:
  explicit splitmix_random(uint64_t seed) : state_(seed) {
    // nop
  }

  uint64_t next() override {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

private:
  uint64_t state_;
};

/// Sums the usage the attempts reported (estimates included).
std::optional<usage> total_usage(const std::vector<attempt_record>& trail) {
  std::optional<usage> sum;
  for (const auto& rec : trail) {
    if (!rec.usage)
      continue;
    if (!sum)
      sum.emplace();
    sum->prompt_tokens += rec.usage->prompt_tokens;
    sum->completion_tokens += rec.usage->completion_tokens;
    sum->total_tokens += rec.usage->total_tokens;
  }
  return sum;
}

/// Ends a stream with its one terminal event.
void end_stream(routed_call& c, const call_result& result) {
  if (result) {
    stream_end end;
    end.finish = result->finish;
    end.finish_raw = result->finish_raw;
    end.usage = total_usage(result->attempts);
    end.attempts = result->attempts;
    c.channel->end(std::move(end));
    return;
  }
  c.channel->end(stream_error{result.error().failure, result.error().attempts});
}

/// Reports the outcome once. The call stays in the shard until the handler
/// that finished it returns (`reap`), so no code path touches freed state.
void finish(self_ptr self, routed_call& c, call_result result) {
  if (c.finished)
    return;
  c.finished = true;
  // The event goes first, so that whoever the caller tells on its answer
  // (a stream's last event or the callback) finds the call counted.
  auto& core = *self->state.core;
  if (core.events) {
    call_finished ev;
    ev.call_id = c.id;
    ev.metadata = c.metadata;
    if (c.plan)
      ev.route = c.plan->config->name;
    ev.latency = self->clock().now() - c.start;
    if (result) {
      ev.deployment = result->attempts.empty()
                          ? std::string{}
                          : result->attempts.back().deployment;
      ev.attempts = static_cast<uint32_t>(result->attempts.size());
    } else {
      ev.cls = result.error().failure.cls;
      ev.attempts = static_cast<uint32_t>(result.error().attempts.size());
    }
    core.emit(ev);
  }
  if (c.channel)
    end_stream(c, result);
  auto done = std::move(c.done);
  if (done) {
    callback_scope scope{self};
    done(std::move(result));
  }
  core.calls->ended();
}

void fail(self_ptr self, routed_call& c, failure f) {
  call_error err;
  // A call that failed rate-limited passes on its upstream's wait hint (an
  // engine-made ending, such as the deadline, names the last upstream
  // failure's).
  const auto* upstream = f.engine ? c.last_failure.get() : &f;
  if (upstream != nullptr && upstream->cls == error_class::rate_limited)
    err.retry_after = upstream->retry_after;
  err.failure = std::move(f);
  err.attempts = std::move(c.trail);
  auto now = self->clock().now();
  if (c.soonest != time_point::max() && c.soonest > now)
    err.retry_in = c.soonest - now;
  finish(self, c, unexpected{std::move(err)});
}

/// Removes a finished call from the shard.
void reap(self_ptr self, routed_call& c) {
  if (!c.finished)
    return;
  auto& st = self->state;
  if (c.is_linked())
    st.deadlines.erase(st.deadlines.iterator_to(c));
  st.calls.erase(c.id);
}

/// Runs `f` on call `id` if it is still here, then reaps it if it finished.
template <class F>
void with_call(self_ptr self, uint64_t id, F&& f) {
  auto i = self->state.calls.find(id);
  if (i == self->state.calls.end())
    return; // finished meanwhile
  auto& c = i->second;
  f(c);
  reap(self, c);
}

/// Tells every dispatch still running to stop, for `why` (a hedge lost,
/// deadline, cancel, shutdown).
void cancel_running(self_ptr self, routed_call& c, engine_code why) {
  auto& core = *self->state.core;
  for (auto& r : c.running) {
    self->send(core.directory.get(r.deployment), cancel_atom::value, c.id, why);
    if (r.hedge && core.events)
      core.emit(hedge_event{c.id, core.view(r.deployment).config().name,
                            hedge_phase::cancelled, c.metadata,
                            c.plan ? c.plan->config->name : std::string{}});
  }
}

uint32_t attempts_made(const routed_call& c) {
  return static_cast<uint32_t>(std::count_if(
      c.trail.begin(), c.trail.end(), [](auto& r) { return r.status != -1; }));
}

/// Ends the call with `f` (an engine-made failure) and frees its upstream
/// transfers.
void abort_call(self_ptr self, routed_call& c, failure f) {
  if (c.finished)
    return;
  cancel_running(self, c, f.engine.value_or(engine_code::cancelled));
  fail(self, c, std::move(f));
}

/// Makes sure a deadline timer fires at or before `at`: a pending one that
/// does will re-arm for what is left then.
void arm_deadline(self_ptr self, time_point at) {
  self->state.timers.schedule<router_actor>(self, at, deadline_atom::value);
}

/// Ends an expired call with its trail as it stands.
void expire(self_ptr self, routed_call& c) {
  fail(self, c,
       make_failure(engine_code::deadline_exceeded,
                    "the call's deadline passed"));
}

/// The call's deadline passed. With no dispatch running it ends now;
/// otherwise each running dispatch is told to stop and answers with its
/// attempts (the running one marked as cut), and the call ends with the
/// whole trail once all have answered, or `expiry_grace` after the
/// deadline, whichever comes first.
void deadline_passed(self_ptr self, routed_call& c) {
  if (c.finished || c.expiring)
    return;
  if (c.running.empty()) {
    expire(self, c);
    return;
  }
  c.expiring = true;
  cancel_running(self, c, engine_code::deadline_exceeded);
  auto& st = self->state;
  if (c.is_linked())
    st.deadlines.erase(st.deadlines.iterator_to(c));
  c.deadline = self->clock().now() + expiry_grace;
  st.deadlines.insert(c);
  arm_deadline(self, c.deadline);
}

/// The deadline timer for `at` fired: ends every call whose deadline passed
/// and arms the timer for the next one.
void on_deadline_timer(self_ptr self, time_point at) {
  auto& st = self->state;
  st.timers.fired(at);
  auto now = self->clock().now();
  while (!st.deadlines.empty() && st.deadlines.begin()->deadline <= now) {
    auto& c = *st.deadlines.begin();
    st.deadlines.erase(st.deadlines.begin());
    if (c.expiring)
      expire(self, c); // a dispatch did not answer in time
    else
      deadline_passed(self, c);
    reap(self, c);
  }
  if (!st.deadlines.empty())
    arm_deadline(self, st.deadlines.begin()->deadline);
}

/// Sends the call to deployment `dep` and arms the hedge timer.
void send_to(self_ptr self, routed_call& c, size_t dep, bool hedge) {
  auto& st = self->state;
  auto& core = *st.core;
  auto rt = core.view(dep);
  if (c.last_deployment && !hedge && core.events && c.last_failure)
    core.emit(fallback_taken{c.id, core.view(*c.last_deployment).config().name,
                             rt.config().name,
                             std::string{to_string(c.last_failure->cls)},
                             c.metadata, c.plan->config->name});
  auto hdl = core.directory.get(dep);
  if (st.watched[dep] != hdl.address()) {
    // A crash of this actor must fail over the calls sent to it, even those
    // whose messages die unread in its mailbox.
    self->monitor(hdl);
    st.watched[dep] = hdl.address();
  }
  deployment_call call;
  call.call_id = c.id;
  call.dispatch = ++c.dispatches;
  call.reply_to = caf::actor_cast<result_receiver>(self);
  call.request = c.request;
  call.route = c.plan->config.get();
  call.deadline = c.deadline;
  call.attempts_before = attempts_made(c);
  call.metadata = c.metadata;
  c.running.push_back({dep, call.dispatch, hedge, hdl.address()});
  if (c.channel) {
    call.stream = true;
    call.channel = c.channel;
    call.stream_tag = ++c.stream_tag;
    c.stream_dep = dep;
    auto partial = c.channel->begin(c.stream_tag, rt.config());
    if (partial) {
      call.request = std::make_shared<const chat_request>(
          make_continuation(*c.request, *partial, rt.config().continuation));
      call.continuation = true;
    }
  }
  self->send(hdl, call_atom::value, std::move(call));
  const auto& hs = c.plan->config->policy.hedge;
  const auto* route = c.plan->config.get();
  if (!hedge && !c.pinned && !c.channel
      && rt.may_hedge(route, static_cast<uint32_t>(c.running.size()))) {
    auto delay = hs.delay;
    if (hs.percentile)
      if (auto learned = rt.hedge_delay(route))
        delay = *learned;
    self->delayed_send(caf::actor_cast<router_actor>(self), delay,
                       hedge_atom::value, c.id, ++c.hedge_generation);
  }
}

/// Records that `dep` cannot take calls now, without asking it.
void skip(self_ptr self, routed_call& c, size_t dep, time_point now) {
  auto rt = self->state.core->view(dep);
  auto at = rt.available_at(now);
  c.soonest = std::min(c.soonest, at);
  attempt_record rec;
  rec.deployment = rt.config().name;
  rec.provider = rt.config().provider;
  rec.model = rt.config().ep.model;
  rec.status = -1; // never sent
  rec.cls = error_class::overloaded;
  const auto& board = rt.board();
  auto code = engine_code::marked_down;
  if (board.disabled.load(std::memory_order_relaxed)) {
    rec.reason = "skipped: disabled by an operator";
  } else if (board.down_until_ns.load(std::memory_order_relaxed) != 0) {
    rec.reason = "skipped: marked down";
  } else {
    rec.reason = "skipped: circuit breaker open";
    code = engine_code::breaker_open;
  }
  c.trail.push_back(std::move(rec));
  // The same `refused` event (and refusal metric) as when the provider
  // actor itself turns a call away: a router that knows the deployment is
  // out does not ask it, and the outage must still show.
  if (auto& core = *self->state.core; core.events) {
    call_refused ev;
    ev.call_id = c.id;
    ev.route = c.plan->config->name;
    ev.deployment = rt.config().name;
    ev.reason = std::string{to_string(code)};
    ev.metadata = c.metadata;
    core.emit(std::move(ev));
  }
  if (!c.last_failure)
    c.last_failure = std::make_unique<failure>(
        make_failure(code, rt.config().name + " is unavailable"));
}

/// Finds the next deployment that can take the call now, or nullopt.
std::optional<size_t> next_available(self_ptr self, routed_call& c) {
  auto now = self->clock().now();
  while (c.next < c.order.size()) {
    auto dep = c.order[c.next++];
    if (!self->state.core->view(dep).unavailable(now))
      return dep;
    skip(self, c, dep, now);
  }
  return std::nullopt;
}

void dispatch_next(self_ptr self, routed_call& c) {
  auto now = self->clock().now();
  if (c.expiring) {
    if (c.running.empty())
      expire(self, c);
    return;
  }
  if (now >= c.deadline) {
    deadline_passed(self, c);
    return;
  }
  if (auto dep = next_available(self, c)) {
    send_to(self, c, *dep, false);
    return;
  }
  if (!c.running.empty())
    return; // a hedged attempt may still win
  if (c.dispatches == 0) {
    auto wait = c.soonest == time_point::max()
                    ? std::string{"unknown"}
                    : std::to_string(
                          std::chrono::duration_cast<std::chrono::milliseconds>(
                              c.soonest - now)
                              .count())
                          + " ms";
    fail(self, c,
         make_failure(engine_code::all_targets_unavailable,
                      "every target is open, down or over its limit; soonest "
                      "retry in "
                          + wait));
    return;
  }
  fail(self, c,
       c.last_failure
           ? *c.last_failure
           : make_failure(engine_code::no_targets, "no target left"));
}

/// The caller's stream cannot take more: cancel upstream and say why.
void slow_consumer(self_ptr self, routed_call& c) {
  abort_call(
      self, c,
      make_failure(
          engine_code::slow_consumer,
          "the caller did not read the stream fast enough (buffer of "
              + std::to_string(c.plan->config->policy.stream.buffer_events)
              + " events full); the call was cancelled"));
}

/// A streamed dispatch failed after its content reached the caller: applies
/// the route's `stream_failover` policy. Returns false when the call ended.
bool stream_broke(self_ptr self, routed_call& c, size_t dep, const failure& f) {
  auto rt = self->state.core->view(dep);
  auto mode = c.plan->config->policy.stream_failover_mode;
  auto why = rt.config().name + " failed mid-stream: " + to_string(f);
  if (f.cls == error_class::cancelled)
    return true; // ends as cancelled below
  if (mode == stream_failover::error) {
    auto g = f;
    g.message = "stream from " + rt.config().name
                + " broke after content was delivered: " + f.message;
    fail(self, c, std::move(g));
    return false;
  }
  c.channel->broke(mode, rt.config().name, why);
  return true;
}

/// Restricts the rest of the call to `only` (context-length or
/// content-policy fallbacks), skipping deployments already tried.
void restrict_to(routed_call& c, const std::vector<size_t>& only) {
  std::vector<size_t> rest;
  auto tried_end = c.order.begin() + static_cast<ptrdiff_t>(c.next);
  for (auto dep : only)
    if (std::find(c.order.begin(), tried_end, dep) == tried_end)
      rest.push_back(dep);
  c.order.resize(c.next);
  c.order.insert(c.order.end(), rest.begin(), rest.end());
}

void on_result(self_ptr self, routed_call& c, uint32_t dispatch,
               deployment_result& r) {
  auto it
      = std::find_if(c.running.begin(), c.running.end(),
                     [dispatch](auto& x) { return x.dispatch == dispatch; });
  if (it == c.running.end())
    return; // answered already (a crashed actor's result and its down)
  auto dep = it->deployment;
  bool was_hedge = it->hedge;
  auto sent_to = it->actor;
  c.running.erase(it);
  if (c.finished)
    return;
  auto& core = *self->state.core;
  auto rt = core.view(dep);
  if (r.rejected && r.attempts.empty()) {
    attempt_record rec;
    rec.deployment = rt.config().name;
    rec.provider = rt.config().provider;
    rec.model = rt.config().ep.model;
    rec.status = -1;
    rec.cls = r.failure.cls;
    rec.reason = "rejected: " + to_string(r.failure);
    c.trail.push_back(std::move(rec));
    if (r.retry_at != time_point{})
      c.soonest = std::min(c.soonest, r.retry_at);
  } else {
    c.trail.insert(c.trail.end(), std::make_move_iterator(r.attempts.begin()),
                   std::make_move_iterator(r.attempts.end()));
  }
  if (c.expiring && !r.response) {
    // The deadline passed: this dispatch answered the cancel with its
    // attempts. (An answer that crossed the cancel still wins.)
    if (c.running.empty())
      expire(self, c);
    return;
  }
  bool current = c.channel && dep == c.stream_dep;
  if (current && !c.channel->flush(c.stream_tag)) {
    slow_consumer(self, c);
    return;
  }
  // An empty continuation: the partial answer was complete. The caller still
  // hears that another provider finished it.
  if (current && r.response && !c.channel->flush_notice(rt.config().name)) {
    slow_consumer(self, c);
    return;
  }
  if (r.response) {
    cancel_running(self, c, engine_code::cancelled);
    if (was_hedge && core.events)
      core.emit(hedge_event{c.id, rt.config().name, hedge_phase::won,
                            c.metadata, c.plan->config->name});
    auto resp = std::move(*r.response);
    resp.attempts = std::move(c.trail);
    finish(self, c, std::move(resp));
    return;
  }
  auto& f = r.failure;
  bool reached = !r.rejected;
  if (current && c.channel->content_in(c.stream_tag)
      && !stream_broke(self, c, dep, f))
    return;
  if (f.is(engine_code::provider_restarted)) {
    // No provider decided: its actor stopped. Its supervisor restarts it:
    // give the new actor one more go, once the supervisor has registered
    // it; after that, fall back.
    if (std::find(c.resent.begin(), c.resent.end(), dep) == c.resent.end()) {
      c.resent.push_back(dep);
      ++c.pending_resends;
      self->send(caf::actor_cast<router_actor>(self), resend_atom::value, c.id,
                 uint64_t{dep}, sent_to, uint32_t{0});
      return;
    }
  } else if (reached) {
    // The deployment decided (`decide_retry`): a rejection never reached
    // the provider and always falls back.
    if (r.verdict.action != retry_action::fall_back) {
      // An attempt whose timeout was the rest of the deadline: the call
      // ended by its deadline, whatever the transfer called it.
      if (r.verdict.reason == retry_reason::deadline_passed
          && !r.failure.is(engine_code::deadline_exceeded)) {
        deadline_passed(self, c);
        return;
      }
      fail(self, c, std::move(f));
      return;
    }
    switch (r.verdict.scope) {
      case fallback_scope::larger_context:
        restrict_to(c, c.plan->context_fallbacks);
        break;
      case fallback_scope::content_policy:
        restrict_to(c, c.plan->content_fallbacks);
        break;
      case fallback_scope::any:
        break;
    }
  }
  c.last_deployment = dep;
  c.last_failure = std::make_unique<failure>(std::move(f));
  if (!c.running.empty() || c.pending_resends > 0)
    return; // another attempt may still succeed
  dispatch_next(self, c);
}

/// Retries deployment `dep` after its actor `dead` crashed, once the
/// directory holds its successor (polled every millisecond, for at most 1 s;
/// then it goes on with whatever the directory holds).
void resend(self_ptr self, routed_call& c, size_t dep,
            const caf::actor_addr& dead, uint32_t polls) {
  if (c.finished)
    return;
  if (c.expiring) {
    --c.pending_resends;
    if (c.running.empty())
      expire(self, c);
    return;
  }
  if (self->state.core->directory.get(dep).address() == dead && polls < 1000) {
    self->delayed_send(caf::actor_cast<router_actor>(self),
                       std::chrono::milliseconds{1}, resend_atom::value, c.id,
                       uint64_t{dep}, dead, polls + 1);
    return;
  }
  --c.pending_resends;
  c.last_deployment.reset(); // the same deployment again, not a fallback
  send_to(self, c, dep, false);
}

/// A provider actor this router sent calls to is gone: every dispatch still
/// waiting on it fails as `provider_restarted` (its supervisor restarts it).
void on_provider_down(self_ptr self, const caf::down_msg& dm) {
  auto& st = self->state;
  for (auto& w : st.watched)
    if (w == dm.source)
      w = caf::actor_addr{};
  std::vector<std::pair<uint64_t, uint32_t>> lost;
  for (auto& [id, c] : st.calls)
    for (auto& r : c.running)
      if (r.actor == dm.source
          && !st.core->take_adopted(r.deployment, id, r.dispatch))
        lost.emplace_back(id, r.dispatch); // else the successor answers
  for (auto [id, dispatch] : lost)
    with_call(self, id, [&, dispatch = dispatch](routed_call& c) {
      deployment_result r;
      r.failure = make_failure(engine_code::provider_restarted,
                               "provider actor stopped: "
                                   + self->system().render(dm.reason));
      on_result(self, c, dispatch, r);
    });
}

/// Orders the route's targets by its strategy, healthy ones first; `seed`
/// draws the random choices.
std::vector<size_t> plan_order(const engine_core& core, const route_plan& plan,
                               uint64_t seed, const std::string& session_key,
                               time_point now) {
  const auto& targets = plan.config->targets;
  const auto& idx = plan.targets;
  std::array<candidate, max_route_targets> buf;
  auto n = std::min(idx.size(), buf.size());
  for (size_t i = 0; i < n; ++i) {
    auto rt = core.view(idx[i]);
    auto& cand = buf[i];
    cand.index = static_cast<uint32_t>(i);
    cand.id = plan.target_ids[i];
    cand.weight = targets[i].weight;
    cand.priority = targets[i].priority;
    cand.in_flight = rt.board().in_flight.load(std::memory_order_relaxed);
    cand.latency
        = from_ns(rt.board().latency_ewma_ns.load(std::memory_order_relaxed))
          - time_point{};
    cand.cost_per_token
        = rt.config().cost_per_1k_input + rt.config().cost_per_1k_output;
    cand.healthy = !rt.unavailable(now);
  }
  splitmix_random rng{seed * 0x9e3779b97f4a7c15ULL + 1};
  auto key = session_key.empty() ? uint64_t{0} : stable_hash(session_key);
  order_candidates(plan.config->policy.strategy,
                   std::span<candidate>{buf.data(), n}, rng, key);
  std::vector<size_t> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i)
    out.push_back(idx[buf[i].index]);
  return out;
}

/// Takes a new call: resolves its route and targets and dispatches it.
void start_call(self_ptr self, call_start& cs) {
  auto& st = self->state;
  auto [i, added] = st.calls.try_emplace(cs.id);
  if (!added) {
    // Call ids are unique per engine; a duplicate is a caller's bug, and
    // still gets its one answer.
    call_error err;
    err.failure = make_failure(engine_code::duplicate_call,
                               "call id " + std::to_string(cs.id)
                                   + " is already running");
    if (cs.sink)
      cs.sink->on_event(stream_error{err.failure, {}});
    if (cs.done)
      cs.done(unexpected{std::move(err)});
    st.core->calls->ended();
    return;
  }
  auto& c = i->second;
  c.id = cs.id;
  c.request = std::move(cs.request);
  c.done = std::move(cs.done);
  auto now = self->clock().now();
  // The deadline counts from the moment the caller called.
  c.start = cs.start != time_point{} ? std::min(cs.start, now) : now;
  auto& opts = cs.options;
  if (!opts.metadata.empty())
    c.metadata = std::make_shared<const std::map<std::string, std::string>>(
        std::move(opts.metadata));
  c.plan = st.core->find_route(opts.route);
  if (cs.sink) {
    // Only a route that continues broken streams needs their text.
    bool keep_text = c.plan != nullptr
                     && c.plan->config->policy.stream_failover_mode
                            == stream_failover::continue_;
    c.channel = std::make_shared<stream_channel>(
        std::move(cs.sink), self->address(), c.id, keep_text);
  }
  if (c.plan == nullptr) {
    fail(self, c,
         make_failure(engine_code::unknown_route,
                      "unknown route \"" + opts.route + "\""));
    reap(self, c);
    return;
  }
  if (opts.deadline_at && !opts.deadline)
    c.deadline = *opts.deadline_at;
  else
    c.deadline
        = c.start + opts.deadline.value_or(c.plan->config->policy.deadline);
  if (opts.deadline_at)
    c.deadline = std::min(c.deadline, *opts.deadline_at);
  if (!opts.pin.empty()) {
    auto d = st.core->deployment_index.find(opts.pin);
    if (d == st.core->deployment_index.end()) {
      fail(self, c,
           make_failure(engine_code::unknown_deployment,
                        "cannot pin to unknown deployment \"" + opts.pin
                            + "\""));
      reap(self, c);
      return;
    }
    c.order.push_back(d->second);
    c.pinned = true;
  } else {
    c.order = plan_order(*st.core, *c.plan, c.id, opts.session_key, now);
  }
  st.deadlines.insert(c);
  arm_deadline(self, c.deadline);
  dispatch_next(self, c);
  reap(self, c);
}

} // namespace

std::optional<size_t> current_target(const engine_core& core,
                                     const route_plan& plan, time_point now) {
  for (auto dep : plan_order(core, plan, 0, std::string{}, now))
    if (!core.view(dep).unavailable(now))
      return dep;
  return std::nullopt;
}

bool send_from_callback(const router_actor& dest, call_start& cs) {
  // Only within one engine: a callback may start a call on another engine,
  // whose actors must not be scheduled on this engine's workers.
  if (callback_router == nullptr
      || &callback_router->home_system() != &dest->home_system())
    return false;
  callback_router->send(dest, call_atom::value, std::move(cs));
  return true;
}

router_state::~router_state() {
  deadlines.clear();
  // The router stops with calls still running (the engine shuts down, or a
  // test ends): each still gets its one answer.
  for (auto& [id, c] : calls) {
    if (c.finished)
      continue;
    c.finished = true;
    call_error err;
    err.failure = make_failure(engine_code::shutdown,
                               "the engine stopped during the call");
    err.attempts = std::move(c.trail);
    if (c.channel)
      c.channel->end(stream_error{err.failure, err.attempts});
    if (c.done)
      c.done(unexpected{std::move(err)});
    if (core)
      core->calls->ended();
  }
}

router_actor::behavior_type
router(router_actor::stateful_pointer<router_state> self,
       std::shared_ptr<engine_core> core) {
  self->state.watched.resize(core->deployments.size());
  self->state.core = std::move(core);
  self->set_down_handler(
      [self](caf::down_msg& dm) { on_provider_down(self, dm); });
  return {
      [self](call_atom, call_start& cs) { start_call(self, cs); },
      [self](result_atom, uint64_t id, uint32_t dispatch,
             deployment_result& r) {
        with_call(self, id,
                  [&](routed_call& c) { on_result(self, c, dispatch, r); });
      },
      [self](cancel_atom, uint64_t id) {
        with_call(self, id, [&](routed_call& c) {
          abort_call(
              self, c,
              make_failure(engine_code::cancelled, "cancelled by the caller"));
        });
      },
      [self](cancel_atom) {
        std::vector<uint64_t> ids;
        for (auto& [id, c] : self->state.calls)
          ids.push_back(id);
        for (auto id : ids)
          with_call(self, id, [&](routed_call& c) {
            abort_call(self, c,
                       make_failure(engine_code::shutdown,
                                    "the engine is shutting down"));
          });
      },
      [self](hedge_atom, uint64_t id, uint64_t generation) {
        with_call(self, id, [&](routed_call& c) {
          if (c.finished || c.expiring || generation != c.hedge_generation
              || c.running.size() != 1)
            return;
          if (auto dep = next_available(self, c)) {
            auto& core = *self->state.core;
            if (core.events)
              core.emit(hedge_event{c.id, core.view(*dep).config().name,
                                    hedge_phase::fired, c.metadata,
                                    c.plan->config->name});
            send_to(self, c, *dep, true);
          }
        });
      },
      [self](slow_atom, uint64_t id) {
        with_call(self, id, [&](routed_call& c) { slow_consumer(self, c); });
      },
      [self](resend_atom, uint64_t id, uint64_t dep,
             const caf::actor_addr& dead, uint32_t polls) {
        with_call(self, id, [&](routed_call& c) {
          resend(self, c, static_cast<size_t>(dep), dead, polls);
        });
      },
      [self](deadline_atom, int64_t at) {
        on_deadline_timer(self, from_ns(at));
      },
  };
}

} // namespace switchyard
