#include "switchyard/event_log.hpp"

#include <chrono>

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace switchyard {

namespace {

using ojson = nlohmann::ordered_json;

double ms(timespan d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

ojson outcome(const std::optional<error_class>& cls) {
  return cls ? std::string{to_string(*cls)} : std::string{"ok"};
}

/// The fields every event of a call carries.
ojson call_head(const char* kind, uint64_t call_id, const std::string& route) {
  ojson j;
  j["event"] = kind;
  j["call_id"] = call_id;
  j["route"] = route;
  return j;
}

void add_metadata(ojson& j, const call_metadata& meta) {
  if (meta && !meta->empty())
    j["metadata"] = *meta;
}

struct to_json_visitor {
  ojson operator()(const attempt_started& e) const {
    auto j = call_head("attempt_started", e.call_id, {});
    j.erase("route");
    j["deployment"] = e.deployment;
    j["attempt"] = e.attempt;
    j["timeout_ms"] = ms(e.timeout);
    add_metadata(j, e.metadata);
    return j;
  }
  ojson operator()(const attempt_finished& e) const {
    auto j = call_head("attempt", e.call_id, e.route);
    j["deployment"] = e.deployment;
    j["attempt"] = e.attempt;
    j["class"] = outcome(e.cls);
    j["status"] = e.status;
    j["latency_ms"] = ms(e.latency);
    if (e.first_token)
      j["first_token_ms"] = ms(*e.first_token);
    if (e.usage) {
      j["tokens_in"] = e.usage->prompt_tokens;
      j["tokens_out"] = e.usage->completion_tokens;
    }
    add_metadata(j, e.metadata);
    return j;
  }
  ojson operator()(const retry_scheduled& e) const {
    auto j = call_head("retry", e.call_id, e.route);
    j["deployment"] = e.deployment;
    j["class"] = std::string{to_string(e.cls)};
    j["wait_ms"] = ms(e.wait);
    j["from_retry_after"] = e.from_server;
    add_metadata(j, e.metadata);
    return j;
  }
  ojson operator()(const fallback_taken& e) const {
    auto j = call_head("fallback", e.call_id, e.route);
    j["from"] = e.from;
    j["to"] = e.to;
    j["reason"] = e.reason;
    add_metadata(j, e.metadata);
    return j;
  }
  ojson operator()(const hedge_event& e) const {
    auto j = call_head("hedge", e.call_id, e.route);
    j["deployment"] = e.deployment;
    j["phase"] = std::string{to_string(e.phase)};
    add_metadata(j, e.metadata);
    return j;
  }
  ojson operator()(const breaker_changed& e) const {
    ojson j;
    j["event"] = "breaker";
    j["deployment"] = e.deployment;
    j["from"] = e.from;
    j["to"] = e.to;
    if (e.open_for > timespan::zero())
      j["open_for_ms"] = ms(e.open_for);
    return j;
  }
  ojson operator()(const provider_restarted& e) const {
    ojson j;
    j["event"] = "restart";
    j["deployment"] = e.deployment;
    j["reason"] = e.reason;
    j["restarts_in_window"] = e.restarts_in_window;
    j["marked_down"] = e.marked_down;
    return j;
  }
  ojson operator()(const call_finished& e) const {
    auto j = call_head("call", e.call_id, e.route);
    j["outcome"] = outcome(e.cls);
    j["deployment"] = e.deployment;
    j["attempts"] = e.attempts;
    j["latency_ms"] = ms(e.latency);
    add_metadata(j, e.metadata);
    return j;
  }
  ojson operator()(const call_refused& e) const {
    auto j = call_head("refused", e.call_id, e.route);
    j["deployment"] = e.deployment;
    j["reason"] = e.reason;
    add_metadata(j, e.metadata);
    return j;
  }
};

struct level_visitor {
  log_level operator()(const attempt_started&) const {
    return log_level::debug;
  }
  log_level operator()(const attempt_finished& e) const {
    return e.cls ? log_level::warn : log_level::info;
  }
  log_level operator()(const retry_scheduled&) const {
    return log_level::info;
  }
  log_level operator()(const fallback_taken&) const {
    return log_level::warn;
  }
  log_level operator()(const hedge_event&) const {
    return log_level::info;
  }
  log_level operator()(const breaker_changed& e) const {
    return e.to == "closed" ? log_level::info : log_level::warn;
  }
  log_level operator()(const provider_restarted& e) const {
    return e.marked_down ? log_level::error : log_level::warn;
  }
  log_level operator()(const call_finished&) const {
    return log_level::info;
  }
  log_level operator()(const call_refused&) const {
    return log_level::warn;
  }
};

spdlog::level::level_enum spd(log_level l) {
  switch (l) {
    case log_level::debug:
      return spdlog::level::debug;
    case log_level::info:
      return spdlog::level::info;
    case log_level::warn:
      return spdlog::level::warn;
    case log_level::error:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

} // namespace

ojson to_json(const engine_event& ev) {
  return std::visit(to_json_visitor{}, ev);
}

log_level level_of(const engine_event& ev) {
  return std::visit(level_visitor{}, ev);
}

nlohmann::json describe_config(const engine_config& cfg) {
  nlohmann::json routes = nlohmann::json::object();
  for (const auto& [name, r] : cfg.routes) {
    auto& targets = routes[name] = nlohmann::json::array();
    for (const auto& t : r.targets)
      targets.push_back(t.deployment);
  }
  return {{"deployments", cfg.deployments.size()},
          {"routes", std::move(routes)},
          {"default_route", cfg.default_route}};
}

std::string_view to_string(log_level level) noexcept {
  switch (level) {
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warn:
      return "warn";
    case log_level::error:
      return "error";
  }
  return "info";
}

struct log_sink::impl {
  log_level level = log_level::info;
  std::shared_ptr<spdlog::details::thread_pool> pool;
  std::shared_ptr<spdlog::async_logger> logger;

  void write(log_level l, const ojson& j) {
    // `{"ts":...,"level":...,` comes from the pattern and here; the rest is
    // the object without its opening brace.
    auto body = j.dump(-1, ' ', false, ojson::error_handler_t::replace);
    std::string line = R"("level":")";
    line += to_string(l);
    line += "\",";
    line.append(body, 1, std::string::npos);
    logger->log(spd(l), line);
  }
};

expected<std::shared_ptr<log_sink>, std::string>
log_sink::open(const log_settings& s) {
  auto ptr = std::make_unique<impl>();
  ptr->level = s.level;
  spdlog::sink_ptr out;
  try {
    if (s.file.empty())
      out = std::make_shared<spdlog::sinks::stdout_sink_mt>();
    else
      out = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
          s.file, static_cast<size_t>(s.max_size),
          static_cast<size_t>(s.max_files));
  } catch (const std::exception& e) {
    return unexpected{"log.file: cannot open \"" + s.file + "\": " + e.what()};
  }
  ptr->pool = std::make_shared<spdlog::details::thread_pool>(
      static_cast<size_t>(s.queue_size), 1);
  ptr->logger = std::make_shared<spdlog::async_logger>(
      "switchyard", std::move(out), ptr->pool,
      spdlog::async_overflow_policy::overrun_oldest);
  ptr->logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(
      R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ",%v)", spdlog::pattern_time_type::utc));
  ptr->logger->set_level(spd(s.level));
  ptr->logger->flush_on(spdlog::level::err);
  return std::shared_ptr<log_sink>{new log_sink(std::move(ptr))};
}

log_sink::log_sink(std::unique_ptr<impl> ptr) : impl_(std::move(ptr)) {
  // nop
}

log_sink::~log_sink() {
  flush();
  // Dropping the pool joins its thread after the queue is written.
  impl_->logger.reset();
  impl_->pool.reset();
}

void log_sink::on_event(const engine_event& ev) {
  auto l = level_of(ev);
  if (l < impl_->level)
    return;
  impl_->write(l, to_json(ev));
}

void log_sink::note(log_level level, std::string_view event,
                    const nlohmann::json& fields) {
  if (level < impl_->level)
    return;
  ojson j;
  j["event"] = std::string{event};
  if (fields.is_object())
    for (auto& [k, v] : fields.items())
      j[k] = v;
  impl_->write(level, j);
}

void log_sink::flush() {
  if (impl_->logger)
    impl_->logger->flush();
}

} // namespace switchyard
