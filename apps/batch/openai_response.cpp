#include "openai_response.hpp"

#include <ctime>

namespace switchyard::batch {

namespace {

using json = nlohmann::ordered_json;

std::string batch_id(const line_meta& meta) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "batch_req_%016llx%08llx",
                static_cast<unsigned long long>(meta.run_nonce),
                static_cast<unsigned long long>(meta.line));
  return buf;
}

json render_trail(const std::vector<attempt_record>& trail) {
  auto out = json::array();
  for (const auto& a : trail) {
    json x{{"deployment", a.deployment},
           {"class", a.cls ? json(to_string(*a.cls)) : json("ok")},
           {"status", a.status},
           {"latency_ms",
            std::chrono::duration_cast<std::chrono::milliseconds>(a.latency)
                .count()}};
    if (!a.reason.empty())
      x["reason"] = a.reason;
    out.push_back(std::move(x));
  }
  return out;
}

json render_switchyard(const line_meta& meta,
                       const std::vector<attempt_record>* trail) {
  json out{{"line", meta.line},
           {"latency_ms", meta.latency.count()},
           {"requeued", meta.requeued}};
  if (trail == nullptr || trail->empty()) {
    out["provider"] = nullptr;
    out["deployment"] = nullptr;
    out["attempts"] = 0;
    out["fell_back"] = false;
    return out;
  }
  const auto& last = trail->back();
  out["provider"] = last.provider;
  out["deployment"] = last.deployment;
  out["model"] = last.model;
  out["attempts"] = trail->size();
  out["fell_back"] = fell_back(*trail, meta.primary);
  out["trail"] = render_trail(*trail);
  return out;
}

} // namespace

bool fell_back(const std::vector<attempt_record>& trail,
               std::string_view primary) {
  return !trail.empty() && trail.back().deployment != primary;
}

json render_completion(const chat_response& resp) {
  json msg{{"role", "assistant"}};
  if (resp.text.empty() && !resp.tool_calls.empty())
    msg["content"] = nullptr;
  else
    msg["content"] = resp.text;
  if (!resp.tool_calls.empty()) {
    auto calls = json::array();
    for (const auto& c : resp.tool_calls)
      calls.push_back(
          {{"id", c.id},
           {"type", "function"},
           {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
    msg["tool_calls"] = std::move(calls);
  }
  auto finish = resp.finish == finish_reason::unknown ? std::string_view{"stop"}
                                                      : to_string(resp.finish);
  return {{"id", resp.id},
          {"object", "chat.completion"},
          {"created", static_cast<int64_t>(std::time(nullptr))},
          {"model", resp.model},
          {"choices",
           {{{"index", 0},
             {"message", std::move(msg)},
             {"logprobs", nullptr},
             {"finish_reason", finish}}}},
          {"usage",
           {{"prompt_tokens", resp.usage.prompt_tokens},
            {"completion_tokens", resp.usage.completion_tokens},
            {"total_tokens", resp.usage.total_tokens}}}};
}

std::string render_answer(const line_meta& meta, const chat_response& resp) {
  auto id = batch_id(meta);
  json line{{"id", id},
            {"custom_id", meta.custom_id},
            {"response",
             {{"status_code", 200},
              {"request_id", resp.id.empty() ? id : resp.id},
              {"body", render_completion(resp)}}},
            {"error", nullptr},
            {"switchyard", render_switchyard(meta, &resp.attempts)}};
  return line.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string render_failure(const line_meta& meta, const call_error& err) {
  json line{{"id", batch_id(meta)},
            {"custom_id", meta.custom_id},
            {"response", nullptr},
            {"error",
             {{"code", to_string(err.failure.cls)},
              {"message", to_string(err.failure)}}},
            {"switchyard", render_switchyard(meta, &err.attempts)}};
  return line.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string render_problem(const line_meta& meta, std::string_view code,
                           std::string_view message) {
  json line{{"id", batch_id(meta)},
            {"custom_id", meta.custom_id},
            {"response", nullptr},
            {"error", {{"code", code}, {"message", message}}},
            {"switchyard", render_switchyard(meta, nullptr)}};
  return line.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace switchyard::batch
