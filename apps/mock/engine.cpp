#include "engine.hpp"

#include <algorithm>
#include <charconv>

#include <nlohmann/json.hpp>

namespace switchyard::mock {

namespace {

std::optional<int64_t> header_int(std::optional<std::string_view> v) {
  if (!v)
    return std::nullopt;
  int64_t result = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), result);
  if (ec != std::errc{} || ptr != v->data() + v->size() || result < 0)
    return std::nullopt;
  return result;
}

void bump(std::map<std::string, uint64_t, std::less<>>& m,
          std::string_view key) {
  auto it = m.find(key);
  if (it == m.end())
    m.emplace(std::string{key}, 1);
  else
    ++it->second;
}

rendered json_ok(std::string body) {
  rendered r;
  r.body = std::move(body);
  return r;
}

} // namespace

mock_engine::mock_engine(uint64_t seed, scenario sc)
    : seed_(seed), scenario_(std::make_shared<const scenario>(std::move(sc))),
      loaded_at_(std::chrono::steady_clock::now()), rng_(seed) {
  // nop
}

std::vector<listener_event> mock_engine::listener_schedule(
    std::chrono::steady_clock::time_point& loaded_at) const {
  std::lock_guard guard{scenario_mtx_};
  loaded_at = loaded_at_;
  return scenario_->listener;
}

void mock_engine::count(std::string_view endpoint, const fault_plan& plan,
                        std::string_view fault_label, std::string_view model) {
  std::lock_guard guard{stats_mtx_};
  ++total_;
  bump(endpoints_, endpoint);
  if (!fault_label.empty())
    bump(faults_, fault_label);
  else if (plan.names.empty())
    bump(faults_, "none");
  else
    for (auto name : plan.names)
      bump(faults_, name);
  if (!model.empty())
    bump(models_, model);
}

std::string mock_engine::stats_json() const {
  // The connection that asks is open too; it is not one the caller counts.
  auto others = std::max<int64_t>(0, open_connections_.load() - 1);
  std::lock_guard guard{stats_mtx_};
  nlohmann::json j = {{"total", total_},
                      {"streams", streams_},
                      {"open_connections", others},
                      {"endpoints", nlohmann::json::object()},
                      {"faults", nlohmann::json::object()},
                      {"models", nlohmann::json::object()}};
  for (const auto& [k, v] : endpoints_)
    j["endpoints"][k] = v;
  for (const auto& [k, v] : faults_)
    j["faults"][k] = v;
  for (const auto& [k, v] : models_)
    j["models"][k] = v;
  return j.dump();
}

void mock_engine::reset_stats() {
  std::lock_guard guard{stats_mtx_};
  total_ = 0;
  streams_ = 0;
  endpoints_.clear();
  faults_.clear();
  models_.clear();
}

void mock_engine::connection_opened() noexcept {
  ++open_connections_;
}

void mock_engine::connection_closed() noexcept {
  --open_connections_;
}

response_plan mock_engine::control(const request_view& req,
                                   std::string_view path) {
  response_plan out;
  if (path == "/mock/stats" && req.method == "GET") {
    out.head = json_ok(stats_json());
  } else if (path == "/mock/stats/reset" && req.method == "POST") {
    reset_stats();
    out.head = json_ok(R"({"ok":true})");
  } else if (path == "/mock/scenario" && req.method == "POST") {
    auto sc = parse_scenario(req.body);
    if (!sc) {
      out.head
          = render_bad_request(api::openai_chat, "scenario: " + sc.error());
      return out;
    }
    {
      std::lock_guard guard{scenario_mtx_};
      scenario_ = std::make_shared<const scenario>(std::move(*sc));
      loaded_at_ = std::chrono::steady_clock::now();
    }
    out.scenario_changed = true;
    out.head = json_ok(R"({"ok":true})");
  } else {
    out.head = render_not_found(req.method, req.target);
  }
  return out;
}

response_plan mock_engine::handle(const request_view& req) {
  auto r = classify(req.method, req.target);
  if (r.kind == api::mock_control)
    return control(req, r.path);
  auto endpoint = to_string(r.kind);
  fault_plan plan;
  response_plan out;
  if (r.kind == api::not_found) {
    count(endpoint, plan, {}, {});
    out.head = render_not_found(req.method, req.target);
    return out;
  }
  if (req.fault) {
    if (auto err = apply_fault_list(*req.fault, plan)) {
      count(endpoint, plan, "invalid_fault_header", {});
      out.head = render_bad_request(r.kind, "x-mock-fault: " + *err);
      return out;
    }
  }
  mock_request mreq;
  if (r.kind != api::openai_models) {
    auto parsed = parse_request(r, req.body);
    if (!parsed) {
      count(endpoint, plan, "bad_request", {});
      out.head = render_bad_request(r.kind, parsed.error());
      return out;
    }
    mreq = std::move(*parsed);
  }
  // Settings and faults from the scenario unless the header overrides them.
  int64_t words = 12;
  int64_t chunk_delay = 0;
  {
    std::lock_guard guard{scenario_mtx_};
    const auto& sc = *scenario_;
    words = sc.words;
    chunk_delay = sc.chunk_delay_ms;
    auto latency = sc.latency;
    const auto* rule = sc.rules.empty()
                           ? nullptr
                           : find_rule(sc, r.path, endpoint, mreq.model);
    if (rule != nullptr) {
      words = rule->words.value_or(words);
      chunk_delay = rule->chunk_delay_ms.value_or(chunk_delay);
      if (rule->latency)
        latency = rule->latency;
    }
    if (!req.fault) {
      if (latency)
        plan.latency_ms = latency->sample(rng_);
      if (rule != nullptr) {
        auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - loaded_at_)
                           .count();
        draw_faults(active_faults(*rule, elapsed), rng_, plan);
      }
    }
  }
  words = header_int(req.words).value_or(words);
  chunk_delay = header_int(req.chunk_delay).value_or(chunk_delay);
  count(endpoint, plan, {}, mreq.model);
  out.delay_ms = plan.latency_ms + plan.first_byte_ms;
  if (plan.close) {
    out.what = response_plan::action::close;
  } else if (plan.hang) {
    out.what = response_plan::action::hang;
  } else if (plan.error != error_fault::none) {
    out.head = render_error(r.kind, plan, mreq.model);
  } else if (r.kind == api::openai_models) {
    out.head = json_ok(render_models());
  } else {
    auto delay = out.delay_ms;
    out = success(mreq, plan, words, chunk_delay);
    out.delay_ms = delay;
  }
  add_fault_headers(plan, out.head.headers);
  return out;
}

response_plan mock_engine::success(const mock_request& req,
                                   const fault_plan& plan, int64_t words,
                                   int64_t chunk_delay_ms) {
  using ending = response_plan::ending;
  response_plan out;
  auto ans = make_answer(seed_, req.model, req.messages, words, plan.overlap);
  if (plan.empty) {
    ans.text.clear();
    ans.completion_tokens = 0;
  }
  name_answer(ans, req.model);
  if (!req.stream) {
    out.head.body
        = plan.malformed ? render_malformed_body(req) : render_body(req, ans);
    if (plan.drop_after || plan.stall_after) {
      out.body_cut = out.head.body.size() / 2;
      out.end = plan.drop_after ? ending::drop : ending::stall;
    }
    return out;
  }
  {
    std::lock_guard guard{stats_mtx_};
    ++streams_;
  }
  out.stream = true;
  out.head.content_type = "text/event-stream; charset=utf-8";
  out.head.headers.emplace_back("cache-control", "no-cache");
  for (auto& f : stream_prologue(req, ans))
    out.frames.push_back({std::move(f), 0});
  auto pieces = stream_pieces(ans.text);
  bool gemini_empty = req.kind == api::gemini && pieces.empty();
  if (gemini_empty)
    pieces.emplace_back(); // Gemini always sends one candidate chunk
  auto n = pieces.size();
  std::optional<int64_t> cut;
  for (auto c : {plan.drop_after, plan.stall_after, plan.error_event_after})
    if (c)
      cut = cut ? std::min(*cut, *c) : *c;
  auto sent = cut ? std::min(n, static_cast<size_t>(*cut)) : n;
  bool truncated = cut.has_value() || plan.no_done;
  // Content chunks differ only in their piece (but Gemini's last): one is
  // rendered around a marker and each piece's JSON text spliced in, as an
  // answer may have tens of thousands of them.
  constexpr std::string_view marker = "\x01mock-piece\x01";
  constexpr std::string_view marker_json = "\\u0001mock-piece\\u0001";
  std::string tpl;
  auto at = std::string::npos;
  if (sent > 1) {
    tpl = stream_content(req, ans, marker, false);
    at = tpl.find(marker_json);
  }
  for (size_t i = 0; i < sent; ++i) {
    bool final = i + 1 == n && !truncated;
    auto delay = i == 0 ? 0 : chunk_delay_ms;
    if (at == std::string::npos || (final && req.kind == api::gemini)) {
      out.frames.push_back({stream_content(req, ans, pieces[i], final), delay});
      continue;
    }
    auto text = nlohmann::json(pieces[i]).dump();
    std::string bytes;
    bytes.reserve(tpl.size() + text.size());
    bytes.append(tpl, 0, at);
    bytes.append(text, 1, text.size() - 2);
    bytes.append(tpl, at + marker_json.size());
    out.frames.push_back({std::move(bytes), delay});
  }
  if (plan.malformed) {
    auto first = out.frames.size() - sent;
    if (sent > 0)
      out.frames[first].bytes = stream_malformed(req.kind);
    else
      out.frames.push_back({stream_malformed(req.kind), 0});
  }
  if (plan.drop_after && *plan.drop_after == *cut) {
    out.end = ending::drop;
  } else if (plan.stall_after && *plan.stall_after == *cut) {
    out.end = ending::stall;
  } else if (plan.error_event_after) {
    out.frames.push_back({stream_error(req.kind), chunk_delay_ms});
    out.end = ending::close;
  } else if (!plan.no_done) {
    for (auto& f : stream_epilogue(req, ans))
      out.frames.push_back({std::move(f), 0});
  }
  return out;
}

} // namespace switchyard::mock
