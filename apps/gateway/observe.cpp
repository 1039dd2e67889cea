#include "observe.hpp"

#include "switchyard/event_log.hpp"

#include <chrono>

namespace switchyard::gateway {

namespace {

bool notable(const engine_event& ev) {
  if (const auto* a = std::get_if<attempt_finished>(&ev))
    return a->cls.has_value();
  return std::holds_alternative<fallback_taken>(ev)
         || std::holds_alternative<breaker_changed>(ev)
         || std::holds_alternative<provider_restarted>(ev);
}

} // namespace

void event_ring::on_event(const engine_event& ev) {
  if (!notable(ev))
    return;
  auto j = to_json(ev);
  j.erase("metadata");
  j["ts"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  std::lock_guard guard{mtx_};
  j["seq"] = ++seq_;
  kept_.emplace_back(
      seq_, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  while (kept_.size() > capacity_)
    kept_.pop_front();
}

std::string event_ring::since(uint64_t after) const {
  std::lock_guard guard{mtx_};
  std::string out = "{\"last\":" + std::to_string(seq_) + ",\"events\":[";
  bool first = true;
  for (const auto& [seq, text] : kept_) {
    if (seq <= after)
      continue;
    if (!first)
      out += ',';
    first = false;
    out += text;
  }
  out += "]}";
  return out;
}

} // namespace switchyard::gateway
