#include "provider_sinks.hpp"
#include "provider_steps.hpp"

#include <algorithm>

#include <caf/all.hpp>

namespace switchyard::provider_steps {

namespace {

/// The failure of the probe's transfer; nullopt for a 2xx response.
std::optional<failure> probe_failure(const deployment_runtime& rt,
                                     transfer_result& tr) {
  if (tr.error != transport_error::none)
    return classify_transport_error(tr.error, std::move(tr.detail));
  if (tr.response.status < 200 || tr.response.status >= 300)
    return rt.codec->classify(tr.response, std::chrono::system_clock::now());
  return std::nullopt;
}

/// Sends the deployment's own half-open probe, a one-token request, on the
/// slot `slot`.
void start_probe(self_ptr self, time_point now, probe_ticket slot) {
  auto& st = self->state;
  auto& rt = *st.rt;
  chat_request req;
  message ping;
  ping.from = role::user;
  ping.text = "ping";
  req.messages.push_back(std::move(ping));
  req.max_tokens = 1;
  auto built = rt.codec->build_request(req, rt.config.ep);
  if (!built)
    return; // the slot goes back with the ticket
  auto timeout = rt.config.breaker.probe_timeout;
  http_job job;
  job.request = std::move(*built);
  job.timeouts = rt.config.timeouts;
  job.timeouts.total = timeout;
  if (!job.timeouts.connect || *job.timeouts.connect > timeout)
    job.timeouts.connect = timeout;
  st.probe_key = rt.next_key++;
  st.probe_start = now;
  st.probe_slot = std::move(slot);
  st.core->emit(attempt_started{0, rt.config.name, 0, timeout, nullptr});
  st.probe_sink = std::make_shared<provider_sink>(st.core->directory, rt.index,
                                                  st.probe_key);
  st.probe_job = st.core->client->submit(std::move(job), st.probe_sink);
}

} // namespace

bool probing(const deployment_runtime& rt) {
  auto state = rt.breaker.state();
  return rt.config.breaker.active_probe
         && (state == breaker_state::open || state == breaker_state::half_open);
}

void schedule_probe(self_ptr self, time_point now) {
  auto& rt = *self->state.rt;
  auto at = rt.breaker.retry_at(now);
  if (at == time_point::max())
    return; // forced open: nothing to probe for
  self->delayed_send(caf::actor_cast<provider_actor>(self),
                     std::max(at - now, timespan{0}), probe_atom::value,
                     ++rt.probe_generation);
}

void on_probe_timer(self_ptr self, uint64_t generation) {
  auto& st = self->state;
  auto& rt = *st.rt;
  if (generation != rt.probe_generation || st.probe_key != 0)
    return; // superseded, or a probe is running
  auto now = self->clock().now();
  apply_shared(self, now);
  if (!probing(rt) || generation != rt.probe_generation)
    return; // closed by another replica's probe, or re-armed by an adoption
  if (!may_probe(self, now)) {
    // Another replica may hold the probe lease: look again shortly.
    self->delayed_send(caf::actor_cast<provider_actor>(self),
                       st.core->config->state.redis.poll_interval,
                       probe_atom::value, generation);
    return;
  }
  bool granted = rt.breaker.allow(now);
  auto slot = granted ? probe_if_half_open(rt.breaker) : probe_ticket{};
  emit_transition(self, now);
  if (granted)
    start_probe(self, now, std::move(slot));
}

void on_probe(self_ptr self, transfer_result& tr) {
  auto& st = self->state;
  auto& rt = *st.rt;
  st.probe_key = 0;
  st.probe_slot.consume(); // the breaker hears the verdict below
  auto now = self->clock().now();
  auto latency = now - st.probe_start;
  auto f = probe_failure(rt, tr);
  if (st.core->events) {
    attempt_finished ev;
    ev.deployment = rt.config.name;
    ev.cls = f ? std::optional{f->cls} : std::nullopt;
    ev.status = tr.response.status;
    ev.latency = latency;
    st.core->emit(ev);
  }
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

} // namespace switchyard::provider_steps
