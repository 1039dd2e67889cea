#include "call_actor.hpp"

#include "switchyard/actors.hpp"
#include "switchyard/policy/load_balancer.hpp"

#include <algorithm>
#include <array>

#include <caf/all.hpp>

namespace switchyard {

namespace {

using self_ptr = caf::stateful_actor<call_state>*;

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

failure make_failure(error_class cls, std::string code, std::string msg) {
  failure f;
  f.cls = cls;
  f.code = std::move(code);
  f.message = std::move(msg);
  return f;
}

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
void end_stream(call_state& st, const call_result& result) {
  if (result) {
    stream_end end;
    end.finish = result->finish;
    end.finish_raw = result->finish_raw;
    end.usage = total_usage(result->attempts);
    end.attempts = result->attempts;
    st.channel->end(std::move(end));
    return;
  }
  st.channel->end(
      stream_error{result.error().failure, result.error().attempts});
}

void finish(self_ptr self, call_result result) {
  auto& st = self->state;
  if (st.finished)
    return;
  st.finished = true;
  if (st.channel)
    end_stream(st, result);
  auto now = self->clock().now();
  call_finished ev;
  ev.call_id = st.id;
  ev.route = st.plan ? st.plan->config->name : st.options.route;
  ev.latency = now - st.start;
  if (result) {
    ev.deployment = result->attempts.empty()
                        ? std::string{}
                        : result->attempts.back().deployment;
    ev.attempts = static_cast<uint32_t>(result->attempts.size());
  } else {
    ev.cls = result.error().failure.cls;
    ev.attempts = static_cast<uint32_t>(result.error().attempts.size());
  }
  st.core->emit(std::move(ev));
  auto done = std::move(st.done);
  if (done)
    done(std::move(result));
  self->quit();
}

void fail(self_ptr self, failure f) {
  auto& st = self->state;
  call_error err;
  err.failure = std::move(f);
  err.attempts = std::move(st.trail);
  auto now = self->clock().now();
  if (st.soonest != time_point::max() && st.soonest > now)
    err.retry_in = st.soonest - now;
  finish(self, unexpected{std::move(err)});
}

/// Cancels every attempt still running (a hedge lost, deadline, cancel).
void cancel_running(self_ptr self, std::optional<size_t> except = {}) {
  auto& st = self->state;
  for (auto& r : st.running) {
    if (except && r.deployment == *except)
      continue;
    caf::anon_send(st.core->directory.get(r.deployment), cancel_atom::value,
                   st.id);
    if (r.hedge)
      st.core->emit(hedge_event{st.id,
                                st.core->deployments[r.deployment]->config.name,
                                hedge_phase::cancelled});
  }
}

uint32_t attempts_made(const call_state& st) {
  return static_cast<uint32_t>(
      std::count_if(st.trail.begin(), st.trail.end(),
                    [](auto& r) { return r.status != -1; }));
}

void on_result(self_ptr self, size_t dep, deployment_result& r);

/// Ends the call as timed out and frees its upstream transfers.
void deadline_passed(self_ptr self) {
  if (self->state.finished)
    return;
  cancel_running(self);
  fail(self, make_failure(error_class::timeout, "deadline_exceeded",
                          "the call's deadline passed"));
}

/// Sends the call to deployment `dep` and arms the hedge timer.
void send_to(self_ptr self, size_t dep, bool hedge) {
  auto& st = self->state;
  auto& rt = *st.core->deployments[dep];
  auto now = self->clock().now();
  if (!st.last_deployment.empty() && !hedge)
    st.core->emit(fallback_taken{st.id, st.last_deployment, rt.config.name,
                                 st.fallback_reason});
  st.dispatched_any = true;
  auto hdl = st.core->directory.get(dep);
  st.running.push_back({dep, hedge, hdl.address()});
  deployment_call call;
  call.call_id = st.id;
  call.request = st.request;
  call.route = st.plan->config;
  call.deadline = st.deadline;
  call.attempts_before = attempts_made(st);
  if (st.channel) {
    call.stream = true;
    call.channel = st.channel;
    call.stream_tag = ++st.stream_tag;
    st.stream_dep = dep;
    auto partial
        = st.channel->begin(st.stream_tag, rt.config.name, rt.config.provider,
                            rt.config.ep.model, rt.config.continuation);
    if (partial) {
      call.request = std::make_shared<const chat_request>(
          make_continuation(*st.request, *partial, rt.config.continuation));
      call.continuation = true;
    }
  }
  // The request's timeout is the call's deadline: unlike a delayed message
  // it is cancelled when the answer comes, so a finished call leaves no timer
  // (and no actor kept alive by one) behind.
  auto left = std::max(st.deadline - now, timespan{1});
  self->request(hdl, left, call_atom::value, std::move(call))
      .then([self, dep](deployment_result& res) { on_result(self, dep, res); },
            [self, dep](caf::error& err) {
              if (err == caf::sec::request_timeout) {
                deadline_passed(self);
                return;
              }
              deployment_result res;
              res.failure = make_failure(
                  error_class::connection, "provider_restarted",
                  "provider actor unreachable: " + caf::to_string(err));
              on_result(self, dep, res);
            });
  const auto& hs = st.plan->config->policy.hedge;
  if (!hedge && hs.enabled && st.options.pin.empty() && !st.channel
      && st.running.size() < hs.max_attempts) {
    auto delay = hs.delay;
    if (hs.percentile) {
      auto ns = rt.slot(st.plan->config.get())
                    .hedge_delay_ns.load(std::memory_order_relaxed);
      if (ns > 0)
        delay = from_ns(ns) - time_point{};
    }
    self->delayed_send(self, delay, hedge_atom::value, ++st.hedge_generation);
  }
}

/// Records that `dep` cannot take calls now, without asking it.
void skip(self_ptr self, size_t dep, time_point now) {
  auto& st = self->state;
  auto& rt = *st.core->deployments[dep];
  auto at = rt.available_at(now);
  st.soonest = std::min(st.soonest, at);
  attempt_record rec;
  rec.deployment = rt.config.name;
  rec.provider = rt.config.provider;
  rec.model = rt.config.ep.model;
  rec.status = -1; // never sent
  rec.cls = error_class::overloaded;
  rec.reason = rt.board.down_until_ns.load(std::memory_order_relaxed) != 0
                   ? "skipped: marked down"
                   : "skipped: circuit breaker open";
  st.trail.push_back(std::move(rec));
  if (!st.last_failure)
    st.last_failure = make_failure(error_class::overloaded, "breaker_open",
                                   rt.config.name + " is unavailable");
}

/// Finds the next deployment that can take the call now, or nullopt.
std::optional<size_t> next_available(self_ptr self) {
  auto& st = self->state;
  auto now = self->clock().now();
  while (st.next < st.order.size()) {
    auto dep = st.order[st.next++];
    if (!st.core->deployments[dep]->unavailable(now))
      return dep;
    skip(self, dep, now);
  }
  return std::nullopt;
}

void dispatch_next(self_ptr self) {
  auto& st = self->state;
  if (self->clock().now() >= st.deadline) {
    deadline_passed(self);
    return;
  }
  if (auto dep = next_available(self)) {
    send_to(self, *dep, false);
    return;
  }
  if (!st.running.empty())
    return; // a hedged attempt may still win
  if (!st.dispatched_any) {
    auto now = self->clock().now();
    auto wait = st.soonest == time_point::max()
                    ? std::string{"unknown"}
                    : std::to_string(
                          std::chrono::duration_cast<std::chrono::milliseconds>(
                              st.soonest - now)
                              .count())
                          + " ms";
    fail(self,
         make_failure(error_class::overloaded, "all_targets_unavailable",
                      "every target is open, down or over its limit; soonest "
                      "retry in "
                          + wait));
    return;
  }
  fail(self, st.last_failure ? *st.last_failure
                             : make_failure(error_class::overloaded,
                                            "no_targets", "no target left"));
}

/// The caller's stream cannot take more: cancel upstream and say why.
void slow_consumer(self_ptr self) {
  auto& st = self->state;
  cancel_running(self);
  fail(self,
       make_failure(
           error_class::overloaded, "slow_consumer",
           "the caller did not read the stream fast enough (buffer of "
               + std::to_string(st.plan->config->policy.stream.buffer_events)
               + " events full); the call was cancelled"));
}

/// A streamed dispatch failed after its content reached the caller: applies
/// the route's `stream_failover` policy. Returns false when the call ended.
bool stream_broke(self_ptr self, size_t dep, const failure& f) {
  auto& st = self->state;
  auto& rt = *st.core->deployments[dep];
  auto mode = st.plan->config->policy.stream_failover_mode;
  auto why = rt.config.name + " failed mid-stream: " + to_string(f);
  if (f.cls == error_class::cancelled)
    return true; // ends as cancelled below
  if (mode == stream_failover::error) {
    auto g = f;
    g.message = "stream from " + rt.config.name
                + " broke after content was delivered: " + f.message;
    fail(self, std::move(g));
    return false;
  }
  st.channel->broke(mode, rt.config.name, why);
  return true;
}

/// Restricts the rest of the call to `only` (context-length or
/// content-policy fallbacks), skipping deployments already tried.
void restrict_to(call_state& st, const std::vector<size_t>& only) {
  std::vector<size_t> rest;
  for (auto dep : only)
    if (std::find(st.order.begin(),
                  st.order.begin() + static_cast<ptrdiff_t>(st.next), dep)
        == st.order.begin() + static_cast<ptrdiff_t>(st.next))
      rest.push_back(dep);
  st.order.resize(st.next);
  st.order.insert(st.order.end(), rest.begin(), rest.end());
}

void on_result(self_ptr self, size_t dep, deployment_result& r) {
  auto& st = self->state;
  auto it = std::find_if(st.running.begin(), st.running.end(),
                         [dep](auto& x) { return x.deployment == dep; });
  bool was_hedge = it != st.running.end() && it->hedge;
  caf::actor_addr sent_to;
  if (it != st.running.end()) {
    sent_to = it->actor;
    st.running.erase(it);
  }
  if (st.finished)
    return;
  auto& rt = *st.core->deployments[dep];
  if (r.rejected && r.attempts.empty()) {
    attempt_record rec;
    rec.deployment = rt.config.name;
    rec.provider = rt.config.provider;
    rec.model = rt.config.ep.model;
    rec.status = -1;
    rec.cls = r.failure.cls;
    rec.reason = "rejected: " + to_string(r.failure);
    st.trail.push_back(std::move(rec));
    if (r.retry_at != time_point{})
      st.soonest = std::min(st.soonest, r.retry_at);
  } else {
    st.trail.insert(st.trail.end(), std::make_move_iterator(r.attempts.begin()),
                    std::make_move_iterator(r.attempts.end()));
  }
  bool current = st.channel && dep == st.stream_dep;
  if (current && !st.channel->flush(st.stream_tag)) {
    slow_consumer(self);
    return;
  }
  // An empty continuation: the partial answer was complete. The caller still
  // hears that another provider finished it.
  if (current && r.response && !st.channel->flush_notice(rt.config.name)) {
    slow_consumer(self);
    return;
  }
  if (r.response) {
    cancel_running(self);
    if (was_hedge)
      st.core->emit(hedge_event{st.id, rt.config.name, hedge_phase::won});
    auto resp = std::move(*r.response);
    resp.attempts = std::move(st.trail);
    finish(self, std::move(resp));
    return;
  }
  auto& f = r.failure;
  bool reached = !r.rejected;
  if (current && st.channel->content_in(st.stream_tag)
      && !stream_broke(self, dep, f))
    return;
  switch (f.cls) {
    case error_class::cancelled:
    case error_class::bad_request:
      // Stop: the caller gave up, or retrying elsewhere would fail the same
      // way.
      fail(self, std::move(f));
      return;
    case error_class::context_length:
      restrict_to(st, st.plan->context_fallbacks);
      break;
    case error_class::content_filter:
      restrict_to(st, st.plan->content_fallbacks);
      break;
    default:
      if (f.code == "provider_restarted"
          && std::find(st.resent.begin(), st.resent.end(), dep)
                 == st.resent.end()) {
        // Its supervisor restarts it: give the new actor one more go, once
        // the supervisor has registered it.
        st.resent.push_back(dep);
        ++st.pending_resends;
        self->send(self, resend_atom::value, dep, sent_to, uint32_t{0});
        return;
      } else if (reached
                 && !st.plan->config->policy.retry.fall_back_on.contains(
                     f.cls)) {
        fail(self, std::move(f));
        return;
      }
  }
  if (!st.trail.empty() && reached)
    st.trail.back().reason = "fallback after " + to_string(f);
  st.last_deployment = rt.config.name;
  st.fallback_reason = std::string{to_string(f.cls)};
  st.last_failure = std::move(f);
  if (!st.running.empty() || st.pending_resends > 0)
    return; // another attempt may still succeed
  dispatch_next(self);
}

/// Retries deployment `dep` after its actor `dead` crashed, once the
/// directory holds its successor (polled every millisecond, for at most 1 s;
/// then it goes on with whatever the directory holds).
void resend(self_ptr self, size_t dep, const caf::actor_addr& dead,
            uint32_t polls) {
  auto& st = self->state;
  if (st.finished)
    return;
  if (st.core->directory.get(dep).address() == dead && polls < 1000) {
    self->delayed_send(self, std::chrono::milliseconds{1}, resend_atom::value,
                       dep, dead, polls + 1);
    return;
  }
  --st.pending_resends;
  st.last_deployment.clear(); // the same deployment again, not a fallback
  send_to(self, dep, false);
}

/// Orders the route's targets by its strategy, healthy ones first.
std::vector<size_t> plan_order(call_state& st, time_point now) {
  const auto& targets = st.plan->config->targets;
  const auto& idx = st.plan->targets;
  std::array<candidate, 32> buf;
  auto n = std::min(idx.size(), buf.size());
  for (size_t i = 0; i < n; ++i) {
    auto& rt = *st.core->deployments[idx[i]];
    auto& c = buf[i];
    c.index = static_cast<uint32_t>(i);
    c.id = stable_hash(rt.config.name);
    c.weight = targets[i].weight;
    c.priority = targets[i].priority;
    c.in_flight = rt.board.in_flight.load(std::memory_order_relaxed);
    c.latency
        = from_ns(rt.board.latency_ewma_ns.load(std::memory_order_relaxed))
          - time_point{};
    c.cost_per_token
        = rt.config.cost_per_1k_input + rt.config.cost_per_1k_output;
    c.healthy = !rt.unavailable(now);
  }
  splitmix_random rng{st.id * 0x9e3779b97f4a7c15ULL + 1};
  auto key = st.options.session_key.empty()
                 ? uint64_t{0}
                 : stable_hash(st.options.session_key);
  order_candidates(st.plan->config->policy.strategy,
                   std::span<candidate>{buf.data(), n}, rng, key);
  std::vector<size_t> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i)
    out.push_back(idx[buf[i].index]);
  return out;
}

} // namespace

caf::behavior call_actor(caf::stateful_actor<call_state>* self,
                         std::shared_ptr<engine_core> core, uint64_t id,
                         std::shared_ptr<const chat_request> request,
                         call_options options, call_callback done,
                         std::shared_ptr<stream_sink> sink) {
  auto& st = self->state;
  st.core = std::move(core);
  st.id = id;
  st.request = std::move(request);
  st.options = std::move(options);
  st.done = std::move(done);
  st.start = self->clock().now();
  st.plan = st.core->find_route(st.options.route);
  if (sink) {
    // Only a route that continues broken streams needs their text.
    bool keep_text = st.plan != nullptr
                     && st.plan->config->policy.stream_failover_mode
                            == stream_failover::continue_;
    st.channel = std::make_shared<stream_channel>(std::move(sink),
                                                  self->address(), keep_text);
  }
  if (st.plan == nullptr) {
    fail(self, make_failure(error_class::bad_request, "unknown_route",
                            "unknown route \"" + st.options.route + "\""));
    return {};
  }
  st.deadline
      = st.start
        + st.options.deadline.value_or(st.plan->config->policy.deadline);
  if (!st.options.pin.empty()) {
    auto i = st.core->deployment_index.find(st.options.pin);
    if (i == st.core->deployment_index.end()) {
      fail(self, make_failure(error_class::bad_request, "unknown_deployment",
                              "cannot pin to unknown deployment \""
                                  + st.options.pin + "\""));
      return {};
    }
    st.order.push_back(i->second);
  } else {
    st.order = plan_order(st, st.start);
  }
  dispatch_next(self);
  return {
      [self](hedge_atom, uint64_t generation) {
        auto& st = self->state;
        if (st.finished || generation != st.hedge_generation
            || st.running.size() != 1)
          return;
        if (auto dep = next_available(self)) {
          st.core->emit(hedge_event{st.id,
                                    st.core->deployments[*dep]->config.name,
                                    hedge_phase::fired});
          send_to(self, *dep, true);
        }
      },
      [self](slow_atom) {
        if (!self->state.finished)
          slow_consumer(self);
      },
      [self](resend_atom, size_t dep, const caf::actor_addr& dead,
             uint32_t polls) { resend(self, dep, dead, polls); },
      [self](cancel_atom) {
        auto& st = self->state;
        if (st.finished)
          return;
        cancel_running(self);
        fail(self, make_failure(error_class::cancelled, "cancelled",
                                "cancelled by the caller"));
      },
  };
}

} // namespace switchyard
