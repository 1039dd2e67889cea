#include "provider_actor.hpp"

#include "stream_channel.hpp"

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

/// Decodes a streamed transfer on the transport thread and hands its events
/// straight to the call's stream channel, which delivers them to the caller
/// (no actor hand-off before a token is seen; nothing goes through the
/// provider actor, whose mailbox all streams of a deployment share). The
/// provider actor hears only the first content and the verdict, by address:
/// a dead actor simply gets nothing.
class stream_forwarder final : public transfer_sink {
public:
  stream_forwarder(caf::actor_addr provider,
                   std::shared_ptr<stream_channel> channel, uint64_t tag,
                   uint64_t key, const adapter& codec, bool content_required)
      : provider_(std::move(provider)), channel_(std::move(channel)), tag_(tag),
        key_(key), attempt_(codec, content_required) {
    // nop
  }

  void on_head(int, const header_list&) override {
    // nop: the status and headers arrive again in on_complete
  }

  void on_chunk(std::string_view chunk) override {
    if (verdict_sent_)
      return;
    std::vector<stream_event> out;
    auto failed = attempt_.feed(chunk, out);
    if (!out.empty())
      channel_->deliver(tag_, out);
    if (!told_first_ && attempt_.produced_content()) {
      told_first_ = true;
      if (auto hdl = caf::actor_cast<provider_actor>(provider_))
        caf::anon_send(hdl, token_atom::value, key_);
    }
    if (failed) {
      // An in-stream error: report it now; the provider cancels the rest.
      verdict_sent_ = true;
      auto v
          = attempt_.finish(std::nullopt, {}, std::chrono::system_clock::now());
      v.transfer_open = true;
      send_verdict(std::move(v));
    }
  }

  void on_complete(transfer_result result) override {
    if (verdict_sent_)
      return;
    verdict_sent_ = true;
    std::optional<failure> tf;
    if (result.error != transport_error::none)
      tf = classify_transport_error(result.error, std::move(result.detail));
    send_verdict(attempt_.finish(std::move(tf), result.response,
                                 std::chrono::system_clock::now()));
  }

private:
  void send_verdict(stream_verdict v) {
    if (auto hdl = caf::actor_cast<provider_actor>(provider_))
      caf::anon_send(hdl, transfer_atom::value, key_, std::move(v));
  }

  caf::actor_addr provider_;
  std::shared_ptr<stream_channel> channel_;
  uint64_t tag_;
  uint64_t key_;
  stream_attempt attempt_;
  bool told_first_ = false;
  bool verdict_sent_ = false;
};

/// Returns rung `n` of `ladder` (its last for later attempts), or `fallback`
/// for an empty ladder.
timespan rung(const std::vector<timespan>& ladder, size_t n,
              timespan fallback) {
  if (ladder.empty())
    return fallback;
  return ladder[std::min(n, ladder.size() - 1)];
}

/// A rough estimate of a request's prompt tokens: ~4 characters per token.
int64_t estimate_prompt_tokens(const chat_request& req) {
  size_t chars = 0;
  for (const auto& m : req.messages)
    chars += m.text.size() + m.parts.size() * 16;
  return static_cast<int64_t>(chars / 4);
}

/// A rough token estimate for the rate limiter: the prompt plus the
/// completion budget.
uint32_t estimate_tokens(const chat_request& req) {
  auto out = req.max_tokens ? *req.max_tokens : int64_t{256};
  return static_cast<uint32_t>(estimate_prompt_tokens(req) + out);
}

/// Arms the active probe for the end of the current open period.
void schedule_probe(self_ptr self, time_point now) {
  auto& rt = *self->state.rt;
  auto at = rt.breaker.retry_at(now);
  if (at == time_point::max())
    return; // forced open: nothing to probe for
  self->delayed_send(caf::actor_cast<provider_actor>(self),
                     std::max(at - now, timespan{0}), probe_atom::value,
                     ++rt.probe_generation);
}

/// Publishes the breaker's state and reports its last transition; with
/// active probing, an opening arms the probe.
void emit_transition(self_ptr self, time_point now) {
  auto& st = self->state;
  st.rt->publish_breaker(now);
  if (auto t = st.rt->breaker.take_transition()) {
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

/// True while an active probe, not a caller, decides when the breaker
/// closes.
bool probing(const deployment_runtime& rt) {
  auto state = rt.breaker.state();
  return rt.config.breaker.active_probe
         && (state == breaker_state::open || state == breaker_state::half_open);
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

/// Delivers the outcome of a call, frees its slot and admits queued calls.
void finish(self_ptr self, uint64_t call_id,
            std::optional<chat_response> answer = std::nullopt);

void admit(self_ptr self, deployment_call call, bool probe) {
  auto& st = self->state;
  auto id = call.call_id;
  auto [it, added] = st.calls.try_emplace(id);
  if (!added) {
    if (probe)
      st.rt->breaker.release_probe();
    reply(self, call,
          rejection(make_failure(engine_code::duplicate_call,
                                 "call is already running here"),
                    self->clock().now()));
    return;
  }
  auto& pc = it->second;
  pc.call = std::move(call);
  pc.probe = probe;
  st.rt->board.in_flight.fetch_add(1, std::memory_order_relaxed);
  start_attempt(self, pc);
}

void give_up(self_ptr self, provider_state::pending_call& pc, failure f) {
  pc.last = std::move(f);
  finish(self, pc.call.call_id);
}

/// Makes sure a limit timer fires at or before `at`.
void arm_limits(self_ptr self, time_point at) {
  self->state.limit_timers.schedule<provider_actor>(self, at,
                                                    timeout_atom::value);
}

/// Removes one limit of an attempt from the index, if it is there.
void drop_limit(provider_state::limit_index& limits,
                std::optional<provider_state::limit_index::iterator>& entry) {
  if (entry) {
    limits.erase(*entry);
    entry.reset();
  }
}

/// Removes an attempt's limits from the index (it ended).
void drop_limits(self_ptr self, provider_state::pending_call& pc) {
  drop_limit(self->state.limits, pc.first_token_limit);
  drop_limit(self->state.limits, pc.total_limit);
}

/// A streamed attempt reached its first-token (or total) limit: cut it. The
/// transfer's verdict comes back after the cancel and concludes the attempt
/// with this failure.
void cut_stream(self_ptr self, provider_state::pending_call& pc,
                bool first_token) {
  if ((first_token && pc.content) || pc.cut)
    return;
  auto limit = self->clock().now() - pc.attempt_start;
  auto ms = std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(limit).count());
  pc.cut = std::make_unique<failure>(
      first_token ? make_failure(engine_code::first_token_timeout,
                                 "no content within " + ms + " ms")
                  : make_failure(engine_code::stream_max_duration,
                                 "the stream ran longer than its limit of " + ms
                                     + " ms"));
  self->state.core->client->cancel(pc.job);
}

/// The limit timer for `at` fired: cuts every attempt whose limit is due
/// and arms the timer for the next one.
void on_limit_timer(self_ptr self, time_point at) {
  auto& st = self->state;
  st.limit_timers.fired(at);
  auto now = self->clock().now();
  while (!st.limits.empty() && st.limits.begin()->first <= now) {
    auto entry = st.limits.begin();
    auto lim = entry->second;
    auto k = st.keys.find(lim.key);
    if (k == st.keys.end()) {
      st.limits.erase(entry); // defensive: its attempt dropped it already
      continue;
    }
    auto& pc = st.calls.at(k->second);
    (lim.first_token ? pc.first_token_limit : pc.total_limit).reset();
    st.limits.erase(entry);
    cut_stream(self, pc, lim.first_token);
  }
  if (!st.limits.empty())
    arm_limits(self, st.limits.begin()->first);
}

void start_attempt(self_ptr self, provider_state::pending_call& pc) {
  auto& st = self->state;
  auto& rt = *st.rt;
  auto now = self->clock().now();
  auto left = pc.call.deadline - now;
  if (left <= timespan::zero()) {
    give_up(self, pc,
            make_failure(engine_code::deadline_exceeded,
                         "the call's deadline passed before the attempt"));
    return;
  }
  const auto& policy = pc.call.route->policy;
  auto n = pc.call.attempts_before + static_cast<uint32_t>(pc.attempts.size());
  // Streams: the ladder bounds the time to the first token, not the answer.
  auto timeout
      = std::min(left, rung(pc.call.stream && !policy.stream.first_token.empty()
                                ? policy.stream.first_token
                                : policy.ladder,
                            n, left));
  auto built = rt.codec->build_request(*pc.call.request, rt.config.ep);
  if (!built) {
    // Cannot be expressed for this provider: say so without an attempt.
    pc.rejected = true;
    give_up(self, pc, std::move(built.error()));
    return;
  }
  http_job job;
  job.request = std::move(*built);
  job.timeouts = rt.config.timeouts;
  if (!job.timeouts.connect || *job.timeouts.connect > timeout)
    job.timeouts.connect = timeout;
  auto key = rt.next_key++;
  st.keys.emplace(key, pc.call.call_id);
  pc.key = key;
  pc.attempt_start = now;
  pc.content = false;
  pc.cut.reset();
  st.core->emit(attempt_started{pc.call.call_id, rt.config.name, n, timeout});
  if (!pc.call.stream) {
    job.timeouts.total = timeout;
    pc.job = st.core->client->submit(
        std::move(job), std::make_shared<provider_sink>(self->address(), key));
    return;
  }
  // The transport cuts silence (idle) itself; the first-token and total
  // limits are this actor's timers, because only content counts for them.
  job.stream = true;
  job.timeouts.total.reset();
  if (!job.timeouts.first_byte || *job.timeouts.first_byte > timeout)
    job.timeouts.first_byte = timeout;
  if (!job.timeouts.idle || *job.timeouts.idle > policy.stream.idle)
    job.timeouts.idle = policy.stream.idle;
  pc.job = st.core->client->submit(
      std::move(job), std::make_shared<stream_forwarder>(
                          self->address(), pc.call.channel, pc.call.stream_tag,
                          key, *rt.codec, !pc.call.continuation));
  // The limits after the submit: arming a timer may wake CAF's clock
  // thread, which the request need not wait for.
  pc.first_token_limit = st.limits.emplace(
      now + timeout, provider_state::stream_limit{key, true});
  arm_limits(self, now + timeout);
  if (policy.stream.max_duration) {
    auto at = now + *policy.stream.max_duration;
    pc.total_limit
        = st.limits.emplace(at, provider_state::stream_limit{key, false});
    arm_limits(self, at);
  }
}

/// The outcome the router hears for `pc`.
deployment_result outcome(provider_state::pending_call& pc,
                          std::optional<chat_response> answer) {
  deployment_result r;
  r.response = std::move(answer);
  r.failure = std::move(pc.last);
  r.attempts = std::move(pc.attempts);
  r.rejected = pc.rejected;
  r.streamed = pc.streamed;
  return r;
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
  if (pc.probe)
    st.rt->breaker.release_probe();
  reply(self, pc.call, outcome(pc, std::move(answer)));
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
      reply(self, q.call,
            rejection(make_failure(engine_code::deadline_exceeded,
                                   "deadline passed while queued"),
                      now));
      continue;
    }
    admit(self, std::move(q.call), q.probe);
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
  if (f.cls == error_class::cancelled || rt.unavailable(now) || pc.streamed)
    retry = false; // a stream with content is the caller's policy's business
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
      pc.backoff = std::make_unique<switchyard::backoff>(policy.backoff);
    wait = pc.backoff->wait_before_retry(f.retry_after, left, pc.retries,
                                         rt.rng);
    if (!wait)
      f.message += " (no retry: the wait does not fit the deadline)";
    else if (!rt.slot(pc.call.route).budget.try_acquire_retry(now)) {
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
                                wait->delay, pc.call.metadata,
                                wait->from_hint});
  pc.last = std::move(f);
  self->delayed_send(caf::actor_cast<provider_actor>(self), wait->delay,
                     retry_atom::value, pc.call.call_id, pc.generation);
}

/// Books an attempt's outcome (breaker, counters, events) and either
/// delivers the answer or decides about a retry. `latency` is what the
/// attempt record reports; `health_latency` what the breaker and the latency
/// averages see (a stream's time to first token).
void conclude(self_ptr self, provider_state::pending_call& pc,
              std::optional<failure> f, std::optional<chat_response> resp,
              int status, timespan latency, timespan health_latency,
              std::optional<usage> estimate = std::nullopt) {
  auto& st = self->state;
  auto& rt = *st.rt;
  auto now = self->clock().now();
  auto call_id = pc.call.call_id;
  rt.record_outcome(f.has_value());
  auto rec = make_record(rt, f, latency, status);
  if (resp) {
    rec.usage = resp->usage;
  } else if (estimate) {
    rec.usage = estimate;
    rec.usage_estimated = true;
  }
  pc.attempts.push_back(std::move(rec));
  st.core->emit(attempt_finished{
      call_id, rt.config.name,
      pc.call.attempts_before + static_cast<uint32_t>(pc.attempts.size() - 1),
      f ? std::optional{f->cls} : std::nullopt, status, latency});
  pc.probe = false; // the breaker hears the verdict below
  if (resp) {
    rt.breaker.on_success(now, health_latency);
    emit_transition(self, now);
    rt.latency.add(health_latency);
    rt.board.latency_ewma_ns.store(to_ns(time_point{} + rt.latency.value()),
                                   std::memory_order_relaxed);
    auto& slot = rt.slot(pc.call.route);
    slot.latency_sample.record_latency(health_latency);
    if (auto d = slot.latency_sample.hedge_delay())
      slot.hedge_delay_ns.store(to_ns(time_point{} + *d),
                                std::memory_order_relaxed);
    resp->provider = rt.config.provider;
    if (resp->model.empty())
      resp->model = rt.config.ep.model;
    finish(self, call_id, std::move(resp));
    return;
  }
  rt.breaker.on_failure(now, f->cls, f->retry_after);
  emit_transition(self, now);
  if (f->cls == error_class::auth)
    rt.mark_down(time_point::max(), *f);
  else if (f->cls == error_class::quota_exhausted)
    rt.mark_down(now + rt.breaker.settings().max_open_duration, *f);
  on_attempt_failure(self, pc, std::move(*f), now);
}

/// Finds the call of attempt `key` and detaches the attempt from it.
provider_state::pending_call* take_attempt(self_ptr self, uint64_t key) {
  auto& st = self->state;
  auto k = st.keys.find(key);
  if (k == st.keys.end())
    return nullptr; // cancelled or from before a restart
  auto call_id = k->second;
  st.keys.erase(k);
  auto& pc = st.calls.at(call_id);
  pc.key = 0;
  drop_limits(self, pc);
  return &pc;
}

void on_probe(self_ptr self, transfer_result& tr);

/// The failure of a plain transfer that ended below HTTP or with a non-2xx
/// status; nullopt for a 2xx response.
std::optional<failure> transfer_failure(const deployment_runtime& rt,
                                        transfer_result& tr, wall_time wall) {
  if (tr.error != transport_error::none)
    return classify_transport_error(tr.error, std::move(tr.detail));
  if (tr.response.status < 200 || tr.response.status >= 300)
    return rt.codec->classify(tr.response, wall);
  return std::nullopt;
}

void on_transfer(self_ptr self, uint64_t key, transfer_result& tr) {
  if (key != 0 && key == self->state.probe_key) {
    on_probe(self, tr);
    return;
  }
  auto* pc = take_attempt(self, key);
  if (pc == nullptr)
    return;
  auto& rt = *self->state.rt;
  auto now = self->clock().now();
  auto latency = now - pc->attempt_start;
  auto wall = std::chrono::system_clock::now();
  auto f = transfer_failure(rt, tr, wall);
  if (tr.error == transport_error::none && rt.config.limits.rate.follow_headers)
    rt.limiter.observe(parse_rate_limit_headers(tr.response.headers, wall),
                       now);
  std::optional<chat_response> resp;
  if (!f) {
    auto parsed = rt.codec->parse_response(tr.response);
    if (parsed)
      resp = std::move(*parsed);
    else
      f = std::move(parsed.error());
  }
  conclude(self, *pc, std::move(f), std::move(resp), tr.response.status,
           latency, latency);
}

void on_stream_verdict(self_ptr self, uint64_t key, stream_verdict& v) {
  auto* pc = take_attempt(self, key);
  if (pc == nullptr)
    return;
  auto now = self->clock().now();
  auto latency = now - pc->attempt_start;
  if (v.transfer_open)
    self->state.core->client->cancel(pc->job); // stop what may still come
  // The verdict says whether content went to the consumer: it was sent on
  // the same thread right after that content, so it is the truth even when
  // this actor cut the attempt before hearing of its first token.
  pc->streamed = v.produced_content;
  // A cut attempt reports why it was cut, unless it completed meanwhile.
  std::optional<failure> f;
  if (v.failure && pc->cut)
    f = std::move(*pc->cut);
  else if (v.failure)
    f = std::move(v.failure);
  pc->cut.reset();
  std::optional<chat_response> resp;
  if (!f) {
    resp.emplace();
    resp->finish = v.finish;
    resp->finish_raw = std::move(v.finish_raw);
    if (v.usage)
      resp->usage = *v.usage;
  }
  auto ttft = v.produced_content && pc->content
                  ? pc->first_token_at - pc->attempt_start
                  : latency;
  std::optional<usage> estimate;
  if (f && v.produced_content) {
    // A broken stream reports no usage: its prompt was still processed.
    auto prompt = estimate_prompt_tokens(*pc->call.request);
    estimate = usage{prompt, v.content_events, prompt + v.content_events};
  }
  conclude(self, *pc, std::move(f), std::move(resp), v.status, latency, ttft,
           estimate);
}

/// Sends the deployment's own half-open probe: a one-token request.
void start_probe(self_ptr self, time_point now) {
  auto& st = self->state;
  auto& rt = *st.rt;
  chat_request req;
  message ping;
  ping.from = role::user;
  ping.text = "ping";
  req.messages.push_back(std::move(ping));
  req.max_tokens = 1;
  auto built = rt.codec->build_request(req, rt.config.ep);
  if (!built) {
    rt.breaker.release_probe();
    return;
  }
  auto timeout = rt.config.breaker.probe_timeout;
  http_job job;
  job.request = std::move(*built);
  job.timeouts = rt.config.timeouts;
  job.timeouts.total = timeout;
  if (!job.timeouts.connect || *job.timeouts.connect > timeout)
    job.timeouts.connect = timeout;
  st.probe_key = rt.next_key++;
  st.probe_start = now;
  st.core->emit(attempt_started{0, rt.config.name, 0, timeout});
  st.probe_job = st.core->client->submit(
      std::move(job),
      std::make_shared<provider_sink>(self->address(), st.probe_key));
}

/// The active probe answered: the breaker hears its verdict.
void on_probe(self_ptr self, transfer_result& tr) {
  auto& st = self->state;
  auto& rt = *st.rt;
  st.probe_key = 0;
  auto now = self->clock().now();
  auto latency = now - st.probe_start;
  auto f = transfer_failure(rt, tr, std::chrono::system_clock::now());
  st.core->emit(attempt_finished{0, rt.config.name, 0,
                                 f ? std::optional{f->cls} : std::nullopt,
                                 tr.response.status, latency});
  if (f) {
    rt.breaker.on_failure(now, f->cls, f->retry_after);
    emit_transition(self, now); // reopens: the next probe is armed
    return;
  }
  rt.breaker.on_success(now, latency);
  emit_transition(self, now);
  if (rt.breaker.state() == breaker_state::half_open)
    self->send(caf::actor_cast<provider_actor>(self), probe_atom::value,
               rt.probe_generation); // more successes needed
}

/// Admits a call, queues it for an in-flight slot, or rejects it at once
/// (marked down, breaker open, local limits, queue full).
void on_call(self_ptr self, deployment_call& call) {
  auto& st = self->state;
  auto& rt = *st.rt;
  auto now = self->clock().now();
  rt.slot(call.route).budget.record_request(now);
  if (auto down = rt.board.down_until_ns.load(std::memory_order_relaxed);
      down != 0 && from_ns(down) > now) {
    auto f = rt.down_reason;
    f.message = "deployment marked down: " + f.message;
    reply(self, call, rejection(std::move(f), from_ns(down)));
    return;
  }
  if (probing(rt) || !rt.breaker.allow(now)) {
    emit_transition(self, now);
    reply(self, call,
          rejection(
              make_failure(engine_code::breaker_open,
                           "circuit breaker of " + rt.config.name + " is open"),
              rt.breaker.retry_at(now)));
    return;
  }
  emit_transition(self, now);
  bool probe = rt.breaker.state() == breaker_state::half_open;
  auto release = [&] {
    if (probe)
      rt.breaker.release_probe();
  };
  auto grant = rt.limiter.acquire(now, estimate_tokens(*call.request));
  if (!grant.granted) {
    release();
    reply(self, call,
          rejection(make_failure(engine_code::local_rate_limit,
                                 "local rate limit of " + rt.config.name
                                     + " reached"),
                    grant.ready_at));
    return;
  }
  auto cap = rt.config.limits.max_in_flight;
  if (cap != 0 && st.calls.size() >= cap) {
    if (st.queue.size() >= rt.config.limits.max_queue) {
      release();
      reply(self, call,
            rejection(make_failure(engine_code::queue_full,
                                   "in-flight cap of " + rt.config.name
                                       + " reached and its queue is full"),
                      now));
      return;
    }
    st.queue.push_back({std::move(call), probe});
    return;
  }
  admit(self, std::move(call), probe);
}

} // namespace

provider_state::~provider_state() {
  auto gone = make_failure(engine_code::provider_restarted,
                           "the provider actor stopped during the call");
  if (probe_key != 0 && core && core->client && rt) {
    core->client->cancel(probe_job);
    rt->breaker.release_probe();
  }
  for (auto& [id, pc] : calls) {
    if (pc.key != 0 && core && core->client)
      core->client->cancel(pc.job);
    if (pc.probe && rt)
      rt->breaker.release_probe();
    if (rt)
      rt->board.in_flight.fetch_sub(1, std::memory_order_relaxed);
    pc.last = gone;
    reply(nullptr, pc.call, outcome(pc, std::nullopt));
  }
  for (auto& q : queue) {
    if (q.probe && rt)
      rt->breaker.release_probe();
    reply(nullptr, q.call, rejection(gone, time_point{}));
  }
}

provider_actor::behavior_type
provider(provider_actor::stateful_pointer<provider_state> self,
         std::shared_ptr<engine_core> core, size_t index) {
  self->state.rt = core->deployments.at(index);
  self->state.core = std::move(core);
  // A restarted actor takes over the probing of a breaker left open.
  if (probing(*self->state.rt))
    schedule_probe(self, self->clock().now());
  return {
      [self](probe_atom, uint64_t generation) {
        auto& st = self->state;
        auto& rt = *st.rt;
        if (generation != rt.probe_generation || st.probe_key != 0)
          return; // superseded, or a probe is running
        auto now = self->clock().now();
        if (!probing(rt))
          return;
        bool granted = rt.breaker.allow(now);
        emit_transition(self, now);
        if (granted)
          start_probe(self, now);
      },
      [self](call_atom, deployment_call& call) { on_call(self, call); },
      [self](cancel_atom, uint64_t call_id, engine_code) {
        auto& st = self->state;
        auto q = std::find_if(st.queue.begin(), st.queue.end(), [&](auto& x) {
          return x.call.call_id == call_id;
        });
        if (q != st.queue.end()) {
          if (q->probe)
            st.rt->breaker.release_probe();
          reply(self, q->call,
                rejection(make_failure(engine_code::cancelled, "cancelled"),
                          self->clock().now()));
          st.queue.erase(q);
          return;
        }
        auto i = st.calls.find(call_id);
        if (i == st.calls.end())
          return;
        i->second.last = make_failure(engine_code::cancelled, "cancelled");
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
        out.breaker = rt.breaker.state();
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
      [self](transfer_atom, uint64_t key, stream_verdict& v) {
        on_stream_verdict(self, key, v);
      },
      [self](token_atom, uint64_t key) {
        auto& st = self->state;
        auto k = st.keys.find(key);
        if (k == st.keys.end())
          return;
        auto& pc = st.calls.at(k->second);
        pc.content = true;
        pc.first_token_at = self->clock().now();
        drop_limit(st.limits, pc.first_token_limit);
      },
      [self](timeout_atom, int64_t at) { on_limit_timer(self, from_ns(at)); },
      [self](retry_atom, uint64_t call_id, uint64_t generation) {
        auto& st = self->state;
        auto i = st.calls.find(call_id);
        if (i == st.calls.end() || i->second.generation != generation)
          return; // finished or cancelled meanwhile
        auto& pc = i->second;
        auto now = self->clock().now();
        if (probing(*st.rt) || !st.rt->breaker.allow(now)) {
          emit_transition(self, now);
          pc.last.message += " (no retry: the breaker opened)";
          finish(self, call_id);
          return;
        }
        emit_transition(self, now);
        pc.probe = st.rt->breaker.state() == breaker_state::half_open;
        start_attempt(self, pc);
      },
      [](control_atom, deployment_command) {
        // not handled yet
      },
      [](crash_atom) { throw std::runtime_error("crash requested"); },
  };
}

} // namespace switchyard
