#include "switchyard/cache.hpp"

#include <algorithm>
#include <cmath>

namespace switchyard {

namespace {

using json = nlohmann::json;

/// Rewrites floats that hold whole numbers as integers (1.0 and 1 ask the
/// same), recursively; object keys are sorted by nlohmann::json already.
void normalize(json& value) {
  if (value.is_object() || value.is_array()) {
    for (auto& x : value)
      normalize(x);
  } else if (value.is_number_float()) {
    auto d = value.get<double>();
    if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9.0e15)
      value = static_cast<int64_t>(d);
  }
}

/// Adds `value` under `name` unless it is null or an empty container (which
/// ask the same as leaving the field out).
void put(json& out, const char* name, const json& value) {
  if (value.is_null() || (value.is_structured() && value.empty()))
    return;
  auto copy = value;
  normalize(copy);
  out[name] = std::move(copy);
}

json message_json(const message& m) {
  json out = json::object();
  out["role"] = to_string(m.from);
  if (m.parts.empty()) {
    out["content"] = m.text;
  } else {
    auto parts = json::array();
    for (const auto& p : m.parts) {
      json part = {{"type", p.type}};
      if (!p.text.empty())
        part["text"] = p.text;
      put(part, "raw", p.raw);
      parts.push_back(std::move(part));
    }
    out["content"] = std::move(parts);
  }
  if (!m.name.empty())
    out["name"] = m.name;
  if (!m.tool_call_id.empty())
    out["tool_call_id"] = m.tool_call_id;
  if (!m.tool_calls.empty()) {
    auto calls = json::array();
    for (const auto& tc : m.tool_calls) {
      // Arguments are JSON text: compare them as JSON when they parse.
      json args = json::parse(tc.arguments, nullptr, false);
      if (args.is_discarded())
        args = tc.arguments;
      else
        normalize(args);
      calls.push_back({{"id", tc.id}, {"name", tc.name}, {"arguments", args}});
    }
    out["tool_calls"] = std::move(calls);
  }
  return out;
}

size_t bytes_of(const attempt_record& a) {
  return sizeof(a) + a.deployment.size() + a.provider.size() + a.model.size()
         + a.reason.size();
}

size_t bytes_of(const std::vector<attempt_record>& xs) {
  size_t n = 0;
  for (const auto& a : xs)
    n += bytes_of(a);
  return n;
}

size_t bytes_of(const stream_event& ev) {
  return sizeof(ev)
         + std::visit(
             [](const auto& x) -> size_t {
               using T = std::decay_t<decltype(x)>;
               if constexpr (std::is_same_v<T, stream_start>)
                 return x.id.size() + x.provider.size() + x.model.size();
               else if constexpr (std::is_same_v<T, text_delta>)
                 return x.text.size();
               else if constexpr (std::is_same_v<T, tool_call_delta>)
                 return x.id.size() + x.name.size() + x.arguments.size();
               else if constexpr (std::is_same_v<T, stream_notice>)
                 return x.message.size() + x.from.size() + x.to.size();
               else if constexpr (std::is_same_v<T, stream_end>)
                 return x.finish_raw.size() + bytes_of(x.attempts);
               else
                 return x.failure.message.size() + bytes_of(x.attempts);
             },
             ev);
}

} // namespace

std::string cache_key(std::string_view route, std::string_view pin,
                      const chat_request& req) {
  json out = json::object();
  out["route"] = route;
  if (!pin.empty())
    out["pin"] = pin;
  if (!req.model.empty())
    out["model"] = req.model;
  auto msgs = json::array();
  for (const auto& m : req.messages)
    msgs.push_back(message_json(m));
  out["messages"] = std::move(msgs);
  if (req.temperature)
    out["temperature"] = *req.temperature;
  if (req.top_p)
    out["top_p"] = *req.top_p;
  if (req.max_tokens)
    out["max_tokens"] = *req.max_tokens;
  if (req.top_k)
    out["top_k"] = *req.top_k;
  if (req.seed)
    out["seed"] = *req.seed;
  if (req.presence_penalty)
    out["presence_penalty"] = *req.presence_penalty;
  if (req.frequency_penalty)
    out["frequency_penalty"] = *req.frequency_penalty;
  if (!req.stop.empty()) {
    // Stop sequences are a set: their order asks nothing different.
    auto stop = req.stop;
    std::sort(stop.begin(), stop.end());
    stop.erase(std::unique(stop.begin(), stop.end()), stop.end());
    out["stop"] = std::move(stop);
  }
  out["stream"] = req.stream;
  put(out, "tools", req.tools);
  put(out, "tool_choice", req.tool_choice);
  if (req.parallel_tool_calls)
    out["parallel_tool_calls"] = *req.parallel_tool_calls;
  put(out, "response_format", req.response_format);
  if (!req.user.empty())
    out["user"] = req.user;
  if (!req.metadata.empty())
    out["metadata"] = req.metadata;
  put(out, "extra", req.extra);
  normalize(out);
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool cache_eligible(const cache_settings& cfg, const chat_request& req) {
  if (cfg.allow_nonzero_temperature)
    return true;
  return req.temperature.has_value() && *req.temperature <= 0.0;
}

size_t approx_bytes(const cached_answer& answer) {
  if (const auto* r = std::get_if<chat_response>(&answer)) {
    size_t n = sizeof(*r) + r->id.size() + r->text.size() + r->finish_raw.size()
               + r->provider.size() + r->model.size() + bytes_of(r->attempts);
    for (const auto& tc : r->tool_calls)
      n += sizeof(tc) + tc.id.size() + tc.name.size() + tc.arguments.size();
    return n;
  }
  size_t n = 0;
  for (const auto& ev : std::get<std::vector<stream_event>>(answer))
    n += bytes_of(ev);
  return n;
}

bool cacheable_stream(const std::vector<stream_event>& events) {
  if (events.size() < 2 || !std::holds_alternative<stream_start>(events.front())
      || !std::holds_alternative<stream_end>(events.back()))
    return false;
  return std::none_of(events.begin(), events.end(), [](const auto& ev) {
    return std::holds_alternative<stream_notice>(ev)
           || std::holds_alternative<stream_error>(ev);
  });
}

// -- response_cache -----------------------------------------------------------

response_cache::response_cache(cache_limits limits) : limits_(limits) {
  // nop
}

std::shared_ptr<const cached_answer>
response_cache::find(const std::string& key, time_point now) {
  std::lock_guard guard{mtx_};
  auto i = index_.find(key);
  if (i == index_.end()) {
    ++stats_.misses;
    return nullptr;
  }
  auto pos = i->second;
  if (pos->expires <= now) {
    drop(pos);
    ++stats_.expirations;
    ++stats_.misses;
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, pos);
  ++stats_.hits;
  return pos->answer;
}

bool response_cache::store(std::string key,
                           std::shared_ptr<const cached_answer> answer,
                           time_point now, timespan ttl) {
  if (!answer || limits_.max_entries == 0)
    return false;
  auto bytes = sizeof(entry) + key.size() + approx_bytes(*answer);
  if (bytes > limits_.max_bytes)
    return false;
  std::lock_guard guard{mtx_};
  if (auto i = index_.find(key); i != index_.end())
    drop(i->second);
  lru_.push_front(entry{std::move(key), std::move(answer), now + ttl, bytes});
  index_.emplace(lru_.front().key, lru_.begin());
  stats_.bytes += bytes;
  ++stats_.stores;
  while (lru_.size() > limits_.max_entries
         || stats_.bytes > limits_.max_bytes) {
    drop(std::prev(lru_.end()));
    ++stats_.evictions;
  }
  return true;
}

void response_cache::clear() {
  std::lock_guard guard{mtx_};
  index_.clear();
  lru_.clear();
  stats_.bytes = 0;
}

response_cache::counters response_cache::stats() const {
  std::lock_guard guard{mtx_};
  auto result = stats_;
  result.entries = lru_.size();
  return result;
}

void response_cache::drop(list_type::iterator pos) {
  stats_.bytes -= pos->bytes;
  index_.erase(std::string_view{pos->key});
  lru_.erase(pos);
}

} // namespace switchyard
