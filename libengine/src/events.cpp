#include "switchyard/events.hpp"

#include <chrono>
#include <cstdio>

namespace switchyard {

namespace {

std::string ms_text(timespan d) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1fms",
                std::chrono::duration<double, std::milli>(d).count());
  return buf;
}

std::string outcome_text(const std::optional<error_class>& cls) {
  return cls ? std::string{to_string(*cls)} : std::string{"ok"};
}

struct renderer {
  std::string operator()(const attempt_started& e) const {
    return "call " + std::to_string(e.call_id) + ": attempt "
           + std::to_string(e.attempt) + " on " + e.deployment + " (timeout "
           + ms_text(e.timeout) + ")";
  }
  std::string operator()(const attempt_finished& e) const {
    return "call " + std::to_string(e.call_id) + ": attempt "
           + std::to_string(e.attempt) + " on " + e.deployment + " -> "
           + outcome_text(e.cls)
           + (e.status != 0 ? " [" + std::to_string(e.status) + "]" : "")
           + " in " + ms_text(e.latency);
  }
  std::string operator()(const retry_scheduled& e) const {
    return "call " + std::to_string(e.call_id) + ": retry " + e.deployment
           + " after " + ms_text(e.wait) + " (" + std::string{to_string(e.cls)}
           + (e.from_server ? ", server hint)" : ")");
  }
  std::string operator()(const fallback_taken& e) const {
    return "call " + std::to_string(e.call_id) + ": fallback " + e.from + " -> "
           + e.to + " (" + e.reason + ")";
  }
  std::string operator()(const hedge_event& e) const {
    return "call " + std::to_string(e.call_id) + ": hedge on " + e.deployment
           + " " + std::string{to_string(e.phase)};
  }
  std::string operator()(const breaker_changed& e) const {
    auto out = "breaker " + e.deployment + ": " + e.from + " -> " + e.to;
    if (e.open_for > timespan::zero())
      out += " for " + ms_text(e.open_for);
    return out;
  }
  std::string operator()(const provider_restarted& e) const {
    return "provider " + e.deployment + " restarted (" + e.reason + ", "
           + std::to_string(e.restarts_in_window) + " in window"
           + (e.marked_down ? ", marked down)" : ")");
  }
  std::string operator()(const call_refused& e) const {
    return "call " + std::to_string(e.call_id) + ": " + e.deployment
           + " refused it (" + e.reason + ")";
  }
  std::string operator()(const call_finished& e) const {
    return "call " + std::to_string(e.call_id) + " on route " + e.route + ": "
           + outcome_text(e.cls) + " via "
           + (e.deployment.empty() ? "-" : e.deployment) + " after "
           + std::to_string(e.attempts) + " attempt(s) in "
           + ms_text(e.latency);
  }
};

} // namespace

fanout_sink::fanout_sink(std::vector<std::shared_ptr<event_sink>> sinks) {
  for (auto& s : sinks)
    if (s)
      sinks_.push_back(std::move(s));
}

void fanout_sink::on_event(const engine_event& ev) {
  for (auto& s : sinks_)
    s->on_event(ev);
}

std::string_view to_string(hedge_phase phase) noexcept {
  switch (phase) {
    case hedge_phase::fired:
      return "fired";
    case hedge_phase::won:
      return "won";
    case hedge_phase::cancelled:
      return "cancelled";
  }
  return "fired";
}

std::string to_string(const engine_event& ev) {
  return std::visit(renderer{}, ev);
}

} // namespace switchyard
