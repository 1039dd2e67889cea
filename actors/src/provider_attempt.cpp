#include "provider_sinks.hpp"
#include "provider_steps.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <caf/all.hpp>

namespace switchyard::provider_steps {

namespace {

/// A rough estimate of a request's prompt tokens: ~4 characters per token.
int64_t estimate_prompt_tokens(const chat_request& req) {
  size_t chars = 0;
  for (const auto& m : req.messages)
    chars += m.text.size() + m.parts.size() * 16;
  return static_cast<int64_t>(chars / 4);
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

/// A streamed attempt reached its first-token (or total) limit: cut it. The
/// transfer's verdict comes back after the cancel and concludes the attempt
/// with this failure.
void cut_stream(self_ptr self, pending_call& pc, bool first_token) {
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

/// Asks `decide_retry` what follows failure `f` of `pc` at `now`.
retry_verdict verdict_for(deployment_runtime& rt, pending_call& pc,
                          const failure& f, time_point now, bool unavailable) {
  const auto& policy = pc.call.route->policy;
  if (!pc.backoff)
    pc.backoff = std::make_unique<switchyard::backoff>(policy.backoff);
  retry_context ctx;
  ctx.retries = pc.retries;
  ctx.remaining = pc.call.deadline - now;
  ctx.deployment_unavailable = unavailable;
  ctx.streamed_content = pc.streamed;
  return decide_retry(f, ctx, policy.retry, *pc.backoff,
                      &rt.slot(pc.call.route).budget, rt.rng, now);
}

/// After a failed attempt: retries after the verdict's wait, or ends the
/// call here so that the router follows the verdict.
void after_failure(self_ptr self, pending_call& pc, failure f,
                   retry_verdict v) {
  auto& st = self->state;
  auto& rt = *st.rt;
  pc.verdict = v;
  if (v.action != retry_action::retry) {
    give_up(self, pc, std::move(f));
    return;
  }
  ++pc.retries;
  ++pc.generation;
  st.core->emit(retry_scheduled{
      pc.call.call_id, rt.config.name, f.cls, v.delay, v.delay_from_hint,
      pc.call.metadata, pc.call.route ? pc.call.route->name : std::string{}});
  pc.last = std::move(f);
  self->delayed_send(caf::actor_cast<provider_actor>(self), v.delay,
                     retry_atom::value, pc.call.call_id, pc.generation);
}

/// Books an attempt's outcome (breaker, counters, events) and either
/// delivers the answer or decides about a retry. `latency` is what the
/// attempt record reports; `health_latency` what the breaker and the latency
/// averages see (a stream's time to first token).
void conclude(self_ptr self, pending_call& pc, std::optional<failure> f,
              std::optional<chat_response> resp, int status, timespan latency,
              timespan health_latency,
              std::optional<usage> estimate = std::nullopt) {
  auto& st = self->state;
  auto& rt = *st.rt;
  auto now = self->clock().now();
  auto call_id = pc.call.call_id;
  rt.record_outcome(f.has_value());
  rt.board.record_sample(f ? std::optional{f->cls} : std::nullopt,
                         health_latency);
  auto rec = make_record(rt, f, latency, status);
  if (resp) {
    rec.usage = resp->usage;
  } else if (estimate) {
    rec.usage = estimate;
    rec.usage_estimated = true;
  }
  pc.attempts.push_back(std::move(rec));
  if (st.core->events) {
    attempt_finished ev;
    ev.call_id = call_id;
    ev.deployment = rt.config.name;
    ev.attempt = pc.call.attempts_before
                 + static_cast<uint32_t>(pc.attempts.size() - 1);
    ev.cls = f ? std::optional{f->cls} : std::nullopt;
    ev.status = status;
    ev.latency = latency;
    ev.metadata = pc.call.metadata;
    if (pc.call.route)
      ev.route = pc.call.route->name;
    ev.usage = pc.attempts.back().usage;
    if (pc.call.stream && pc.content)
      ev.first_token = health_latency;
    st.core->emit(std::move(ev));
  }
  pc.probe.consume(); // the breaker hears the verdict below
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
  if (f->cls == error_class::quota_exhausted) {
    rt.mark_down(now + rt.breaker.settings().max_open_duration, *f);
    share_down(self);
  }
  auto v = verdict_for(rt, pc, *f, now, rt.unavailable(now));
  // Auth: retried only as often as the route says (none by default); then
  // the deployment is marked down for good.
  if (f->cls == error_class::auth && v.action != retry_action::retry) {
    rt.mark_down(time_point::max(), *f);
    share_down(self);
  }
  auto& reason = pc.attempts.back().reason;
  reason += " -> ";
  reason += to_string(v);
  after_failure(self, pc, std::move(*f), v);
}

/// Finds the call of attempt `key` and detaches the attempt from it.
pending_call* take_attempt(self_ptr self, uint64_t key) {
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

} // namespace

/// A rough token estimate for the rate limiter: the prompt plus the
/// completion budget.
uint32_t estimate_tokens(const chat_request& req) {
  auto out = req.max_tokens ? *req.max_tokens : int64_t{256};
  return static_cast<uint32_t>(estimate_prompt_tokens(req) + out);
}

/// Removes an attempt's limits from the index (it ended).
void drop_limits(self_ptr self, pending_call& pc) {
  drop_limit(self->state.limits, pc.first_token_limit);
  drop_limit(self->state.limits, pc.total_limit);
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

void start_attempt(self_ptr self, pending_call& pc) {
  auto& st = self->state;
  auto& rt = *st.rt;
  auto now = self->clock().now();
  const auto& policy = pc.call.route->policy;
  const auto& slot = rt.slot(pc.call.route);
  auto n = pc.call.attempts_before + static_cast<uint32_t>(pc.attempts.size());
  // Streams: the ladder bounds the time to the first token, not the answer.
  const auto& ladder = pc.call.stream ? slot.stream_ladder : slot.ladder;
  auto to
      = ladder.timeout_for(n, now, deadline::between(now, pc.call.deadline));
  if (!to) {
    pc.verdict.action = retry_action::give_up;
    pc.verdict.reason = retry_reason::deadline_passed;
    give_up(self, pc,
            make_failure(engine_code::deadline_exceeded,
                         "the call's deadline passed before the attempt"));
    return;
  }
  auto timeout = *to;
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
  if (st.core->events) // the event copies the name and the metadata
    st.core->emit(attempt_started{pc.call.call_id, rt.config.name, n, timeout,
                                  pc.call.metadata});
  if (!pc.call.stream) {
    job.timeouts.total = timeout;
    pc.sink
        = std::make_shared<provider_sink>(st.core->directory, rt.index, key);
    pc.job = st.core->client->submit(std::move(job), pc.sink);
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
  if (tr.error == transport_error::none
      && rt.config.limits.rate.follow_headers) {
    auto seen = parse_rate_limit_headers(tr.response.headers, wall);
    if (seen.remaining_requests)
      rt.board.remaining_requests.store(*seen.remaining_requests,
                                        std::memory_order_relaxed);
    if (seen.remaining_tokens)
      rt.board.remaining_tokens.store(*seen.remaining_tokens,
                                      std::memory_order_relaxed);
    rt.limiter.observe(seen, now);
  }
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

void on_token(self_ptr self, uint64_t key) {
  auto& st = self->state;
  auto k = st.keys.find(key);
  if (k == st.keys.end())
    return;
  auto& pc = st.calls.at(k->second);
  pc.content = true;
  pc.first_token_at = self->clock().now();
  drop_limit(st.limits, pc.first_token_limit);
}

void on_retry_timer(self_ptr self, uint64_t call_id, uint64_t generation) {
  auto& st = self->state;
  auto i = st.calls.find(call_id);
  if (i == st.calls.end() || i->second.generation != generation)
    return; // finished or cancelled meanwhile
  auto& pc = i->second;
  auto now = self->clock().now();
  if (probing(*st.rt) || !st.rt->breaker.allow(now)) {
    emit_transition(self, now);
    // The breaker opened during the wait: the verdict becomes a fallback.
    --pc.retries;
    pc.verdict = verdict_for(*st.rt, pc, pc.last, now, true);
    ++pc.retries;
    finish(self, call_id);
    return;
  }
  pc.probe = probe_if_half_open(st.rt->breaker);
  emit_transition(self, now);
  start_attempt(self, pc);
}

void on_transfer_ready(self_ptr self, uint64_t key) {
  auto& st = self->state;
  if (key == 0) {
    // Every plain transfer on the deployment's ready list (see
    // provider_sink). The scratch list is moved out while in use.
    thread_local std::vector<uint64_t> scratch;
    auto keys = std::move(scratch);
    st.core->directory.take_ready(st.rt->index, keys);
    for (auto k : keys)
      if (k != 0)
        on_transfer_ready(self, k);
    keys.clear();
    scratch = std::move(keys);
    return;
  }
  if (key != 0 && key == st.probe_key) {
    if (auto tr = st.probe_sink ? st.probe_sink->take() : std::nullopt)
      on_transfer(self, key, *tr);
    return;
  }
  auto k = st.keys.find(key);
  if (k == st.keys.end())
    return; // cancelled, or taken already
  auto& pc = st.calls.at(k->second);
  if (!pc.sink)
    return;
  if (auto tr = pc.sink->take())
    on_transfer(self, key, *tr);
}

} // namespace switchyard::provider_steps
