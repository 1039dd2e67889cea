#include "switchyard/metrics.hpp"
#include "switchyard/policy/circuit_breaker.hpp"

#include <chrono>
#include <utility>

namespace switchyard {

namespace {

constexpr size_t n_classes = error_class_count;

/// The refusal reasons counted without a lookup.
constexpr std::array<std::string_view, 4> refusal_reasons{
    "breaker_open", "marked_down", "local_rate_limit", "queue_full"};

constexpr std::array<breaker_state, 5> breaker_states{
    breaker_state::closed, breaker_state::open, breaker_state::half_open,
    breaker_state::forced_open, breaker_state::forced_closed};

double seconds(timespan d) {
  return std::chrono::duration<double>(d).count();
}

/// Index of an outcome in the arrays below: 0 for success, 1 + class.
size_t outcome_index(const std::optional<error_class>& cls) {
  return cls ? 1 + static_cast<size_t>(*cls) : 0;
}

std::string outcome_name(size_t i) {
  return i == 0 ? std::string{"ok"}
                : std::string{to_string(all_error_classes[i - 1])};
}

std::string model_of(const deployment_config& d) {
  return d.ep.model.empty() ? d.ep.deployment : d.ep.model;
}

} // namespace

/// Every metric the sink updates, resolved once per label tuple.
struct metrics_sink::handles {
  metric_family<metric_counter>* calls;
  metric_family<metric_histogram>* duration;
  metric_family<metric_histogram>* ttft;
  metric_family<metric_counter>* attempts;
  metric_family<metric_histogram>* attempt_duration;
  metric_family<metric_counter>* tokens;
  metric_family<metric_counter>* cost;
  metric_family<metric_counter>* fallbacks;
  metric_family<metric_counter>* retries;
  metric_family<metric_counter>* hedges;
  metric_family<metric_gauge>* breaker;
  metric_family<metric_counter>* transitions;
  metric_family<metric_counter>* restarts;
  metric_family<metric_counter>* refusals;
  metric_family<metric_gauge>* in_flight;
  metric_family<metric_gauge>* queued;
  metric_family<metric_gauge>* ratelimit;
  metric_gauge* calls_running;
  metric_gauge* calls_queued;

  struct deployment {
    std::string provider;
    std::string model;
    double cost_in = 0;
    double cost_out = 0;
    std::array<metric_gauge*, breaker_states.size()> breaker{};
    metric_histogram* attempt_duration = nullptr;
    metric_counter* restarts = nullptr;
    metric_gauge* in_flight = nullptr;
    metric_gauge* queued = nullptr;
    /// Created on the first status that carries them.
    std::atomic<metric_gauge*> remaining_requests{nullptr};
    std::atomic<metric_gauge*> remaining_tokens{nullptr};
  };

  /// One deployment as a route's target.
  struct target {
    std::array<metric_counter*, n_classes + 1> attempts{};
    std::array<metric_counter*, n_classes> retries{};
    std::array<metric_counter*, 3> hedges{};
    std::array<metric_counter*, refusal_reasons.size()> refusals{};
    metric_counter* tokens_in = nullptr;
    metric_counter* tokens_out = nullptr;
    metric_counter* cost = nullptr;
  };

  struct route {
    std::array<metric_counter*, n_classes + 1> calls{};
    metric_histogram* duration = nullptr;
    metric_histogram* ttft = nullptr;
    std::unordered_map<std::string, target> targets;
    std::map<std::pair<std::string, std::string>,
             std::array<metric_counter*, n_classes>>
        fallbacks;
  };

  std::unordered_map<std::string, deployment> deployments;
  std::unordered_map<std::string, route> routes;

  explicit handles(metric_registry& reg) {
    auto buckets = default_duration_buckets();
    calls = &reg.counter("switchyard_calls_total",
                         "Calls answered, by route and outcome (ok or the "
                         "error class)",
                         {"route", "outcome"});
    duration = &reg.histogram("switchyard_call_duration_seconds",
                              "Time from a call's start to its answer",
                              {"route"}, buckets);
    ttft = &reg.histogram("switchyard_time_to_first_token_seconds",
                          "Streamed calls: time from the answering attempt's "
                          "start to its first content",
                          {"route"}, buckets);
    attempts = &reg.counter(
        "switchyard_attempts_total",
        "Attempts sent upstream, by outcome class (ok for a success); "
        "route is empty for a breaker's probe",
        {"route", "deployment", "provider", "model", "class"});
    attempt_duration = &reg.histogram("switchyard_attempt_duration_seconds",
                                      "Duration of attempts upstream",
                                      {"deployment"}, buckets);
    tokens = &reg.counter("switchyard_tokens_total",
                          "Tokens used (direction input or output)",
                          {"route", "deployment", "direction"});
    cost = &reg.counter("switchyard_cost_total",
                        "Cost in the currency of the deployments' "
                        "cost_per_1k_input/output",
                        {"route", "deployment"});
    fallbacks = &reg.counter("switchyard_fallbacks_total",
                             "Calls moved from one deployment to the next",
                             {"route", "from", "to", "reason"});
    retries = &reg.counter("switchyard_retries_total",
                           "Retries scheduled on the same deployment",
                           {"route", "deployment", "class"});
    hedges = &reg.counter("switchyard_hedges_total",
                          "Hedged attempts fired, won or cancelled",
                          {"route", "deployment", "phase"});
    breaker = &reg.gauge("switchyard_breaker_state",
                         "1 for the breaker's current state, 0 for the others",
                         {"deployment", "state"});
    transitions
        = &reg.counter("switchyard_breaker_transitions_total",
                       "Breaker state changes", {"deployment", "from", "to"});
    restarts = &reg.counter("switchyard_provider_restarts_total",
                            "Provider actor restarts by the supervisor",
                            {"deployment"});
    refusals = &reg.counter("switchyard_refusals_total",
                            "Calls a deployment turned away without sending "
                            "(breaker_open, marked_down, local_rate_limit, "
                            "queue_full...)",
                            {"route", "deployment", "reason"});
    in_flight = &reg.gauge("switchyard_deployment_in_flight",
                           "Attempts running on a deployment", {"deployment"});
    queued = &reg.gauge("switchyard_deployment_queued",
                        "Calls waiting for a deployment's in-flight slot",
                        {"deployment"});
    ratelimit = &reg.gauge("switchyard_upstream_ratelimit_remaining",
                           "The upstream's last x-ratelimit-remaining-* value",
                           {"deployment", "kind"});
    calls_running = &reg.gauge("switchyard_calls_in_flight",
                               "Calls started and not answered yet", {})
                         .with({});
    calls_queued = &reg.gauge("switchyard_calls_queued",
                              "Calls waiting for an in-flight slot", {})
                        .with({});
  }

  deployment& add_deployment(const deployment_config& d) {
    auto& h = deployments.try_emplace(d.name).first->second;
    h.provider = d.provider;
    h.model = model_of(d);
    h.cost_in = d.cost_per_1k_input;
    h.cost_out = d.cost_per_1k_output;
    for (size_t i = 0; i < breaker_states.size(); ++i) {
      h.breaker[i]
          = &breaker->with({d.name, std::string{to_string(breaker_states[i])}});
      h.breaker[i]->set(i == 0 ? 1 : 0);
    }
    h.attempt_duration = &attempt_duration->with({d.name});
    h.restarts = &restarts->with({d.name});
    h.in_flight = &in_flight->with({d.name});
    h.queued = &queued->with({d.name});
    return h;
  }

  target make_target(const std::string& route, const std::string& dep,
                     const deployment& d) {
    target t;
    for (size_t i = 0; i <= n_classes; ++i)
      t.attempts[i]
          = &attempts->with({route, dep, d.provider, d.model, outcome_name(i)});
    for (size_t i = 0; i < n_classes; ++i)
      t.retries[i] = &retries->with(
          {route, dep, std::string{to_string(all_error_classes[i])}});
    for (size_t i = 0; i < t.hedges.size(); ++i)
      t.hedges[i] = &hedges->with(
          {route, dep, std::string{to_string(static_cast<hedge_phase>(i))}});
    for (size_t i = 0; i < refusal_reasons.size(); ++i)
      t.refusals[i]
          = &refusals->with({route, dep, std::string{refusal_reasons[i]}});
    t.tokens_in = &tokens->with({route, dep, "input"});
    t.tokens_out = &tokens->with({route, dep, "output"});
    t.cost = &cost->with({route, dep});
    return t;
  }

  route make_route(const std::string& name) {
    route r;
    for (size_t i = 0; i <= n_classes; ++i)
      r.calls[i] = &calls->with({name, outcome_name(i)});
    r.duration = &duration->with({name});
    r.ttft = &ttft->with({name});
    return r;
  }

  /// The deployment's handles; nullptr for one the config does not name.
  deployment* find_deployment(const std::string& name) {
    auto i = deployments.find(name);
    return i == deployments.end() ? nullptr : &i->second;
  }

  /// The handles of `dep` on `route`, created under the families' locks
  /// when the config did not foresee the pair (a pinned call, say).
  target* find_target(const std::string& route_name, const std::string& dep,
                      target& scratch) {
    if (auto r = routes.find(route_name); r != routes.end())
      if (auto t = r->second.targets.find(dep); t != r->second.targets.end())
        return &t->second;
    auto* d = find_deployment(dep);
    deployment unknown;
    scratch = make_target(route_name, dep, d ? *d : unknown);
    return &scratch;
  }
};

metrics_sink::metrics_sink(std::shared_ptr<metric_registry> registry,
                           const engine_config& cfg)
    : registry_(std::move(registry)),
      h_(std::make_unique<handles>(*registry_)) {
  for (const auto& [name, dep] : cfg.deployments)
    h_->add_deployment(dep);
  // Probes carry no route: every deployment may be probed.
  auto& probes = h_->routes[std::string{}];
  for (const auto& [name, d] : h_->deployments)
    probes.targets.emplace(name, h_->make_target({}, name, d));
  for (const auto& [name, cfg_route] : cfg.routes) {
    auto& r = h_->routes[name] = h_->make_route(name);
    for (const auto& t : cfg_route.targets) {
      auto* d = h_->find_deployment(t.deployment);
      if (d == nullptr || r.targets.count(t.deployment))
        continue;
      r.targets.emplace(t.deployment, h_->make_target(name, t.deployment, *d));
    }
    for (const auto& from : cfg_route.targets)
      for (const auto& to : cfg_route.targets) {
        if (from.deployment == to.deployment)
          continue;
        auto& arr = r.fallbacks[{from.deployment, to.deployment}];
        for (size_t i = 0; i < n_classes; ++i)
          arr[i] = &h_->fallbacks->with(
              {name, from.deployment, to.deployment,
               std::string{to_string(all_error_classes[i])}});
      }
  }
}

metrics_sink::~metrics_sink() = default;

void metrics_sink::on_event(const engine_event& ev) {
  auto& h = *h_;
  handles::target scratch;
  if (const auto* a = std::get_if<attempt_finished>(&ev)) {
    auto* t = h.find_target(a->route, a->deployment, scratch);
    t->attempts[outcome_index(a->cls)]->inc();
    auto* d = h.find_deployment(a->deployment);
    if (d != nullptr)
      d->attempt_duration->observe(seconds(a->latency));
    if (a->usage) {
      auto in = static_cast<double>(a->usage->prompt_tokens);
      auto out = static_cast<double>(a->usage->completion_tokens);
      t->tokens_in->inc(in);
      t->tokens_out->inc(out);
      if (d != nullptr && (d->cost_in > 0 || d->cost_out > 0))
        t->cost->inc((in * d->cost_in + out * d->cost_out) / 1000.0);
    }
    if (a->first_token && !a->cls) {
      if (auto r = h.routes.find(a->route);
          r != h.routes.end() && r->second.ttft)
        r->second.ttft->observe(seconds(*a->first_token));
      else
        h.ttft->with({a->route}).observe(seconds(*a->first_token));
    }
  } else if (const auto* c = std::get_if<call_finished>(&ev)) {
    auto i = outcome_index(c->cls);
    if (auto r = h.routes.find(c->route);
        r != h.routes.end() && r->second.duration) {
      r->second.calls[i]->inc();
      r->second.duration->observe(seconds(c->latency));
    } else {
      h.calls->with({c->route, outcome_name(i)}).inc();
      h.duration->with({c->route}).observe(seconds(c->latency));
    }
  } else if (const auto* f = std::get_if<fallback_taken>(&ev)) {
    auto cls = parse_error_class(f->reason);
    if (auto r = h.routes.find(f->route); r != h.routes.end() && cls) {
      auto p = r->second.fallbacks.find({f->from, f->to});
      if (p != r->second.fallbacks.end()) {
        p->second[static_cast<size_t>(*cls)]->inc();
        return;
      }
    }
    h.fallbacks->with({f->route, f->from, f->to, f->reason}).inc();
  } else if (const auto* r = std::get_if<retry_scheduled>(&ev)) {
    h.find_target(r->route, r->deployment, scratch)
        ->retries[static_cast<size_t>(r->cls)]
        ->inc();
  } else if (const auto* he = std::get_if<hedge_event>(&ev)) {
    h.find_target(he->route, he->deployment, scratch)
        ->hedges[static_cast<size_t>(he->phase)]
        ->inc();
  } else if (const auto* b = std::get_if<breaker_changed>(&ev)) {
    h.transitions->with({b->deployment, b->from, b->to}).inc();
    if (auto* d = h.find_deployment(b->deployment))
      for (size_t i = 0; i < breaker_states.size(); ++i)
        d->breaker[i]->set(to_string(breaker_states[i]) == b->to ? 1 : 0);
  } else if (const auto* rf = std::get_if<call_refused>(&ev)) {
    auto* t = h.find_target(rf->route, rf->deployment, scratch);
    for (size_t i = 0; i < refusal_reasons.size(); ++i)
      if (refusal_reasons[i] == rf->reason) {
        t->refusals[i]->inc();
        return;
      }
    h.refusals->with({rf->route, rf->deployment, rf->reason}).inc();
  } else if (const auto* p = std::get_if<provider_restarted>(&ev)) {
    if (auto* d = h.find_deployment(p->deployment))
      d->restarts->inc();
    else
      h.restarts->with({p->deployment}).inc();
  }
}

void metrics_sink::observe_deployment(const std::string& deployment,
                                      std::string_view breaker,
                                      uint32_t in_flight, uint32_t queued,
                                      std::optional<int64_t> remaining_requests,
                                      std::optional<int64_t> remaining_tokens) {
  auto& h = *h_;
  auto* d = h.find_deployment(deployment);
  if (d == nullptr)
    return;
  for (size_t i = 0; i < breaker_states.size(); ++i)
    d->breaker[i]->set(to_string(breaker_states[i]) == breaker ? 1 : 0);
  d->in_flight->set(in_flight);
  d->queued->set(queued);
  auto set = [&](std::atomic<metric_gauge*>& slot, const char* kind,
                 std::optional<int64_t> v) {
    if (!v)
      return;
    auto* g = slot.load(std::memory_order_acquire);
    if (g == nullptr) {
      g = &h.ratelimit->with({deployment, kind}); // the same one every time
      slot.store(g, std::memory_order_release);
    }
    g->set(static_cast<double>(*v));
  };
  set(d->remaining_requests, "requests", remaining_requests);
  set(d->remaining_tokens, "tokens", remaining_tokens);
}

void metrics_sink::observe_engine(uint64_t calls_running,
                                  uint64_t calls_queued) {
  h_->calls_running->set(static_cast<double>(calls_running));
  h_->calls_queued->set(static_cast<double>(calls_queued));
}

} // namespace switchyard
