#include "live_log.hpp"

#include <chrono>
#include <cstdio>
#include <utility>

namespace switchyard::demo {

namespace {

std::string millis(timespan d) {
  return std::to_string(
             std::chrono::duration_cast<std::chrono::milliseconds>(d).count())
         + " ms";
}

/// Left-aligns `word` in a column of eight.
std::string column(std::string_view word) {
  std::string out{word};
  out.resize(std::max<size_t>(out.size() + 1, 9), ' ');
  return out;
}

std::string call_tag(uint64_t id) {
  return "#" + std::to_string(id);
}

} // namespace

live_log::live_log(time_point start) : start_(start) {
  // nop
}

std::string live_log::stamp(time_point now) const {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%7.2fs",
                std::chrono::duration<double>(now - start_).count());
  return buf;
}

void live_log::on_event(const engine_event& ev) {
  auto now = clock_type::now();
  std::lock_guard guard{mtx_};
  render(ev, now);
}

void live_log::reset_clock(time_point start) {
  std::lock_guard guard{mtx_};
  start_ = start;
}

void live_log::note(std::string line) {
  std::lock_guard guard{mtx_};
  lines_.push_back(std::move(line));
}

std::vector<std::string> live_log::take_lines() {
  std::lock_guard guard{mtx_};
  return std::exchange(lines_, {});
}

event_counts live_log::counts() const {
  std::lock_guard guard{mtx_};
  return counts_;
}

void live_log::render(const engine_event& ev, time_point now) {
  auto head
      = [&](std::string_view kind) { return stamp(now) + "  " + column(kind); };
  if (std::holds_alternative<attempt_started>(ev)) {
    ++counts_.attempts;
  } else if (auto* e = std::get_if<attempt_finished>(&ev)) {
    if (e->cls) {
      auto cls = std::string{to_string(*e->cls)};
      ++counts_.attempt_failures[cls];
      last_failure_[e->call_id] = {e->deployment, e->status, std::move(cls)};
    }
  } else if (auto* e = std::get_if<retry_scheduled>(&ev)) {
    ++counts_.retries;
    counts_.retries_from_server += e->from_server ? 1 : 0;
    lines_.push_back(head("retry") + call_tag(e->call_id) + " " + e->deployment
                     + " again in " + millis(e->wait) + " ("
                     + std::string{to_string(e->cls)}
                     + (e->from_server ? ", wait from Retry-After)"
                                       : ", backoff with jitter)"));
  } else if (auto* e = std::get_if<fallback_taken>(&ev)) {
    auto i = last_failure_.find(e->call_id);
    if (i == last_failure_.end() || i->second.deployment != e->from) {
      // Refused before sending: the progress line counts these.
      ++counts_.fallbacks_unsent;
      return;
    }
    ++counts_.fallbacks;
    ++counts_.fallback_pairs[e->from + " -> " + e->to];
    auto why = i->second.cls;
    if (i->second.status > 0)
      why += ", HTTP " + std::to_string(i->second.status);
    lines_.push_back(head("fallback") + call_tag(e->call_id) + " " + e->from
                     + " -> " + e->to + " (" + why + ")");
  } else if (std::holds_alternative<hedge_event>(ev)) {
    ++counts_.hedges;
  } else if (auto* e = std::get_if<breaker_changed>(&ev)) {
    counts_.breaker_transitions.push_back(
        {now - start_, e->deployment, e->from, e->to, e->open_for});
    auto line
        = head("breaker") + e->deployment + " " + e->from + " -> " + e->to;
    if (e->to == "open")
      line += " (calls skip it; a probe in " + millis(e->open_for) + ")";
    else if (e->to == "half_open")
      line += " (one probe call lets it heal)";
    else if (e->to == "closed")
      line += " (healed)";
    lines_.push_back(std::move(line));
  } else if (auto* e = std::get_if<provider_restarted>(&ev)) {
    ++counts_.restarts;
    lines_.push_back(head("restart") + e->deployment + " (" + e->reason
                     + (e->marked_down ? ", marked down)" : ")"));
  } else if (auto* e = std::get_if<call_finished>(&ev)) {
    last_failure_.erase(e->call_id);
  }
}

} // namespace switchyard::demo
