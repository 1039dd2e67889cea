#include "provider_actor.hpp"

#include <algorithm>
#include <stdexcept>

#include <caf/all.hpp>

namespace switchyard {

namespace {

using self_ptr = provider_actor::stateful_pointer<provider_state>;

/// Forwards a transfer's end to the provider actor that started it. Holds
/// only the actor's address: a dead actor simply gets nothing.
class provider_sink final : public transfer_sink {
public:
  provider_sink(caf::actor_addr addr, uint64_t key)
      : addr_(std::move(addr)), key_(key) {
    // nop
  }

  void on_head(int, const header_list&) override {
    // nop: non-streaming calls get everything in on_complete
  }

  void on_chunk(std::string_view) override {
    // nop
  }

  void on_complete(transfer_result result) override {
    if (auto hdl = caf::actor_cast<provider_actor>(addr_))
      caf::anon_send(hdl, transfer_atom::value, key_, std::move(result));
  }

private:
  caf::actor_addr addr_;
  uint64_t key_;
};

/// A rough token estimate for the rate limiter: ~4 characters per token plus
/// the completion budget.
uint32_t estimate_tokens(const chat_request& req) {
  size_t chars = 0;
  for (const auto& m : req.messages)
    chars += m.text.size() + m.parts.size() * 16;
  auto out = req.max_tokens ? *req.max_tokens : int64_t{256};
  return static_cast<uint32_t>(chars / 4 + static_cast<size_t>(out));
}

failure local_failure(error_class cls, std::string code, std::string msg) {
  failure f;
  f.cls = cls;
  f.code = std::move(code);
  f.message = std::move(msg);
  return f;
}

void emit_transition(provider_state& st, time_point now) {
  st.rt->publish_breaker(now);
  if (auto t = st.rt->breaker.take_transition()) {
    breaker_changed ev;
    ev.deployment = st.rt->config.name;
    ev.from = std::string{to_string(t->from)};
    ev.to = std::string{to_string(t->to)};
    if (t->to == breaker_state::open)
      ev.open_for = st.rt->breaker.retry_at(now) - now;
    st.core->emit(std::move(ev));
  }
}

attempt_record make_record(const deployment_runtime& rt,
                           const std::optional<failure>& f, timespan latency,
                           int status) {
  attempt_record rec;
  rec.deployment = rt.config.name;
  rec.provider = rt.config.provider;
  rec.model = rt.config.ep.model;
  rec.latency = latency;
  rec.status = status;
  if (f) {
    rec.cls = f->cls;
    rec.reason = to_string(*f);
  }
  return rec;
}

deployment_result rejection(failure f, time_point retry_at) {
  deployment_result r;
  r.failure = std::move(f);
  r.rejected = true;
  r.retry_at = retry_at;
  return r;
}

void start_attempt(self_ptr self, provider_state::pending_call& pc);

/// Delivers the outcome of a call, frees its slot and admits queued calls.
void finish(self_ptr self, uint64_t call_id);

void admit(self_ptr self, deployment_call call,
           caf::typed_response_promise<deployment_result> promise, bool probe) {
  auto& st = self->state;
  auto id = call.call_id;
  auto [it, added] = st.calls.try_emplace(id);
  if (!added) {
    promise.deliver(
        rejection(local_failure(error_class::bad_request, "duplicate_call",
                                "call is already running here"),
                  self->clock().now()));
    return;
  }
  auto& pc = it->second;
  pc.call = std::move(call);
  pc.promise = std::move(promise);
  pc.probe = probe;
  st.rt->board.in_flight.fetch_add(1, std::memory_order_relaxed);
  start_attempt(self, pc);
}

void give_up(self_ptr self, provider_state::pending_call& pc, failure f) {
  pc.result.failure = std::move(f);
  finish(self, pc.call.call_id);
}

void start_attempt(self_ptr self, provider_state::pending_call& pc) {
  auto& st = self->state;
  auto& rt = *st.rt;
  auto now = self->clock().now();
  auto left = pc.call.deadline - now;
  if (left <= timespan::zero()) {
    give_up(self, pc,
            local_failure(error_class::timeout, "deadline_exceeded",
                          "the call's deadline passed before the attempt"));
    return;
  }
  const auto& ladder = pc.call.route->policy.ladder;
  auto n = pc.call.attempts_before
           + static_cast<uint32_t>(pc.result.attempts.size());
  auto timeout = left;
  if (!ladder.empty())
    timeout = std::min(left, ladder[std::min<size_t>(n, ladder.size() - 1)]);
  auto built = rt.codec->build_request(*pc.call.request, rt.config.ep);
  if (!built) {
    // Cannot be expressed for this provider: say so without an attempt.
    pc.result.rejected = true;
    give_up(self, pc, std::move(built.error()));
    return;
  }
  http_job job;
  job.request = std::move(*built);
  job.timeouts = rt.config.timeouts;
  job.timeouts.total = timeout;
  if (!job.timeouts.connect || *job.timeouts.connect > timeout)
    job.timeouts.connect = timeout;
  auto key = rt.next_key++;
  st.keys.emplace(key, pc.call.call_id);
  pc.key = key;
  pc.attempt_start = now;
  st.core->emit(attempt_started{pc.call.call_id, rt.config.name, n, timeout});
  pc.job = st.core->client->submit(
      std::move(job), std::make_shared<provider_sink>(self->address(), key));
}

void finish(self_ptr self, uint64_t call_id) {
  auto& st = self->state;
  auto i = st.calls.find(call_id);
  if (i == st.calls.end())
    return;
  auto& pc = i->second;
  if (pc.key != 0) {
    st.core->client->cancel(pc.job);
    st.keys.erase(pc.key);
  }
  if (pc.probe)
    st.rt->breaker.release_probe();
  pc.promise.deliver(std::move(pc.result));
  st.calls.erase(i);
  st.rt->board.in_flight.fetch_sub(1, std::memory_order_relaxed);
  // Admit waiting calls into the freed slot.
  auto cap = st.rt->config.limits.max_in_flight;
  auto now = self->clock().now();
  while (!st.queue.empty() && (cap == 0 || st.calls.size() < cap)) {
    auto q = std::move(st.queue.front());
    st.queue.pop_front();
    if (q.call.deadline <= now) {
      if (q.probe)
        st.rt->breaker.release_probe();
      q.promise.deliver(
          rejection(local_failure(error_class::timeout, "deadline_exceeded",
                                  "deadline passed while queued"),
                    now));
      continue;
    }
    admit(self, std::move(q.call), std::move(q.promise), q.probe);
  }
}

/// Decides what to do after a failed attempt: retry after a wait, or hand
/// the failure back so that the router falls back.
void on_attempt_failure(self_ptr self, provider_state::pending_call& pc,
                        failure f, time_point now) {
  auto& st = self->state;
  auto& rt = *st.rt;
  const auto& policy = pc.call.route->policy;
  auto limit = policy.retry.max_retries[static_cast<size_t>(f.cls)];
  bool retry = pc.retries < limit;
  if (f.should_retry)
    retry = *f.should_retry && pc.retries < std::max<uint32_t>(1, limit);
  if (f.cls == error_class::cancelled || rt.unavailable(now))
    retry = false;
  std::optional<retry_wait> wait;
  auto left = pc.call.deadline - now;
  if (retry && f.retry_after && policy.backoff.honour_retry_after
      && (*f.retry_after >= left
          || *f.retry_after > policy.backoff.max_retry_after)) {
    // The server said "not before then": retrying sooner here is pointless,
    // so the call moves on to the next target at once.
    retry = false;
    f.message += " (no retry: the server's wait does not fit the deadline)";
  }
  if (retry) {
    if (!pc.backoff)
      pc.backoff.emplace(policy.backoff);
    wait = pc.backoff->wait_before_retry(f.retry_after, left, pc.retries,
                                         rt.rng);
    if (!wait)
      f.message += " (no retry: the wait does not fit the deadline)";
    else if (!rt.budget.try_acquire_retry(now)) {
      f.message += " (no retry: retry budget exhausted)";
      wait.reset();
    }
  }
  if (!wait) {
    give_up(self, pc, std::move(f));
    return;
  }
  ++pc.retries;
  ++pc.generation;
  st.core->emit(retry_scheduled{pc.call.call_id, rt.config.name, f.cls,
                                wait->delay, wait->from_hint});
  pc.result.failure = std::move(f);
  self->delayed_send(caf::actor_cast<provider_actor>(self), wait->delay,
                     retry_atom::value, pc.call.call_id, pc.generation);
}

void on_transfer(self_ptr self, uint64_t key, transfer_result& tr) {
  auto& st = self->state;
  auto k = st.keys.find(key);
  if (k == st.keys.end())
    return; // cancelled or from before a restart
  auto call_id = k->second;
  st.keys.erase(k);
  auto& pc = st.calls.at(call_id);
  pc.key = 0;
  auto& rt = *st.rt;
  auto now = self->clock().now();
  auto latency = now - pc.attempt_start;
  auto wall = std::chrono::system_clock::now();
  std::optional<failure> f;
  std::optional<chat_response> resp;
  if (tr.error != transport_error::none) {
    f = classify_transport_error(tr.error, std::move(tr.detail));
  } else {
    if (rt.config.limits.rate.follow_headers)
      rt.limiter.observe(parse_rate_limit_headers(tr.response.headers, wall),
                         now);
    if (tr.response.status >= 200 && tr.response.status < 300) {
      auto parsed = rt.codec->parse_response(tr.response);
      if (parsed)
        resp = std::move(*parsed);
      else
        f = std::move(parsed.error());
    } else {
      f = rt.codec->classify(tr.response, wall);
    }
  }
  rt.record_outcome(f.has_value());
  pc.result.attempts.push_back(make_record(rt, f, latency, tr.response.status));
  st.core->emit(attempt_finished{
      call_id, rt.config.name,
      pc.call.attempts_before
          + static_cast<uint32_t>(pc.result.attempts.size() - 1),
      f ? std::optional{f->cls} : std::nullopt, tr.response.status, latency});
  pc.probe = false; // the breaker hears the verdict below
  if (resp) {
    rt.breaker.on_success(now, latency);
    emit_transition(st, now);
    rt.latency.add(latency);
    rt.board.latency_ewma_ns.store(to_ns(time_point{} + rt.latency.value()),
                                   std::memory_order_relaxed);
    rt.latency_sample.record_latency(latency);
    if (auto d = rt.latency_sample.hedge_delay())
      rt.board.hedge_delay_ns.store(to_ns(time_point{} + *d),
                                    std::memory_order_relaxed);
    resp->provider = rt.config.provider;
    if (resp->model.empty())
      resp->model = rt.config.ep.model;
    pc.result.response = std::move(resp);
    finish(self, call_id);
    return;
  }
  rt.breaker.on_failure(now, f->cls, f->retry_after);
  emit_transition(st, now);
  if (f->cls == error_class::auth)
    rt.mark_down(time_point::max(), *f);
  else if (f->cls == error_class::quota_exhausted)
    rt.mark_down(now + rt.breaker.settings().max_open_duration, *f);
  on_attempt_failure(self, pc, std::move(*f), now);
}

} // namespace

provider_state::~provider_state() {
  auto gone = local_failure(error_class::connection, "provider_restarted",
                            "the provider actor stopped during the call");
  for (auto& [id, pc] : calls) {
    if (pc.key != 0 && core && core->client)
      core->client->cancel(pc.job);
    if (pc.probe && rt)
      rt->breaker.release_probe();
    if (rt)
      rt->board.in_flight.fetch_sub(1, std::memory_order_relaxed);
    pc.result.failure = gone;
    if (pc.promise.pending())
      pc.promise.deliver(std::move(pc.result));
  }
  for (auto& q : queue) {
    if (q.probe && rt)
      rt->breaker.release_probe();
    if (q.promise.pending())
      q.promise.deliver(rejection(gone, time_point{}));
  }
}

provider_actor::behavior_type
provider(provider_actor::stateful_pointer<provider_state> self,
         std::shared_ptr<engine_core> core, size_t index) {
  self->state.rt = core->deployments.at(index);
  self->state.core = std::move(core);
  return {
      [self](call_atom,
             deployment_call& call) -> caf::result<deployment_result> {
        auto& st = self->state;
        auto& rt = *st.rt;
        auto now = self->clock().now();
        rt.budget.record_request(now);
        // Rejections return a value; the promise is taken only for calls that
        // stay (taking it marks the request as answered by the promise).
        if (auto down = rt.board.down_until_ns.load(std::memory_order_relaxed);
            down != 0 && from_ns(down) > now) {
          auto f = rt.down_reason;
          f.message = "deployment marked down: " + f.message;
          return rejection(std::move(f), from_ns(down));
        }
        if (!rt.breaker.allow(now)) {
          emit_transition(st, now);
          return rejection(local_failure(error_class::overloaded,
                                         "breaker_open",
                                         "circuit breaker of " + rt.config.name
                                             + " is open"),
                           rt.breaker.retry_at(now));
        }
        emit_transition(st, now);
        bool probe = rt.breaker.state() == breaker_state::half_open;
        auto release = [&] {
          if (probe)
            rt.breaker.release_probe();
        };
        auto grant = rt.limiter.acquire(now, estimate_tokens(*call.request));
        if (!grant.granted) {
          release();
          return rejection(local_failure(error_class::rate_limited,
                                         "local_rate_limit",
                                         "local rate limit of " + rt.config.name
                                             + " reached"),
                           grant.ready_at);
        }
        auto cap = rt.config.limits.max_in_flight;
        if (cap != 0 && st.calls.size() >= cap) {
          if (st.queue.size() >= rt.config.limits.max_queue) {
            release();
            return rejection(
                local_failure(error_class::overloaded, "queue_full",
                              "in-flight cap of " + rt.config.name
                                  + " reached and its queue is full"),
                now);
          }
          auto promise = self->make_response_promise<deployment_result>();
          st.queue.push_back({std::move(call), promise, probe});
          return promise;
        }
        auto promise = self->make_response_promise<deployment_result>();
        admit(self, std::move(call), promise, probe);
        return promise;
      },
      [self](cancel_atom, uint64_t call_id) {
        auto& st = self->state;
        auto q = std::find_if(st.queue.begin(), st.queue.end(), [&](auto& x) {
          return x.call.call_id == call_id;
        });
        if (q != st.queue.end()) {
          if (q->probe)
            st.rt->breaker.release_probe();
          q->promise.deliver(rejection(
              local_failure(error_class::cancelled, "cancelled", "cancelled"),
              self->clock().now()));
          st.queue.erase(q);
          return;
        }
        auto i = st.calls.find(call_id);
        if (i == st.calls.end())
          return;
        i->second.result.failure
            = local_failure(error_class::cancelled, "cancelled", "cancelled");
        finish(self, call_id);
      },
      [self](status_atom) {
        auto& st = self->state;
        auto& rt = *st.rt;
        auto now = self->clock().now();
        deployment_status out;
        out.name = rt.config.name;
        out.provider = rt.config.provider;
        out.model = rt.config.ep.model;
        out.breaker = std::string{to_string(rt.breaker.state())};
        out.in_flight = static_cast<uint32_t>(st.calls.size());
        out.queued = static_cast<uint32_t>(st.queue.size());
        out.calls = rt.calls;
        out.failures = rt.failures;
        out.recent_error_rate = rt.error_rate;
        out.latency_ewma = rt.latency.value();
        out.restarts = rt.restarts;
        out.marked_down
            = rt.unavailable(now) && rt.board.down_until_ns.load() != 0;
        return out;
      },
      [self](transfer_atom, uint64_t key, transfer_result& tr) {
        on_transfer(self, key, tr);
      },
      [self](retry_atom, uint64_t call_id, uint64_t generation) {
        auto& st = self->state;
        auto i = st.calls.find(call_id);
        if (i == st.calls.end() || i->second.generation != generation)
          return; // finished or cancelled meanwhile
        auto& pc = i->second;
        auto now = self->clock().now();
        if (!st.rt->breaker.allow(now)) {
          emit_transition(st, now);
          pc.result.failure.message += " (no retry: the breaker opened)";
          finish(self, call_id);
          return;
        }
        emit_transition(st, now);
        pc.probe = st.rt->breaker.state() == breaker_state::half_open;
        start_attempt(self, pc);
      },
      [](crash_atom) { throw std::runtime_error("crash requested"); },
  };
}

} // namespace switchyard
