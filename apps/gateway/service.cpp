#include "service.hpp"

#include "switchyard/metrics.hpp"
#include "text.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>

#include <nlohmann/json.hpp>

namespace switchyard::gateway {

using json = nlohmann::json;

namespace {

http_response json_response(int status, const json& body) {
  http_response res;
  res.status = status;
  res.body = body.dump();
  return res;
}

client_error make_error(int status, std::string message, std::string code = {},
                        std::string param = {}) {
  client_error err;
  err.status = status;
  err.message = std::move(message);
  err.code = std::move(code);
  err.param = std::move(param);
  return err;
}

/// The key a client sent: `Authorization: Bearer K` or `x-api-key: K`.
std::string_view presented_key(const request_view& req) {
  if (auto auth = req.header("authorization")) {
    auto v = *auth;
    if (v.size() > 7
        && (v.substr(0, 7) == "Bearer " || v.substr(0, 7) == "bearer "))
      return v.substr(7);
  }
  if (auto k = req.header("x-api-key"))
    return *k;
  return {};
}

/// A request id a client may choose: short, printable, no spaces.
bool good_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128)
    return false;
  for (char c : id)
    if (c <= 0x20 || c >= 0x7f)
      return false;
  return true;
}

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

/// Whether a `cache-control` value holds the `no-cache` directive (among
/// others, any case).
bool asks_no_cache(std::string_view value) {
  while (!value.empty()) {
    auto comma = value.find(',');
    auto item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
      item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t'))
      item.remove_suffix(1);
    if (item.size() == 8) {
      std::string lower{item};
      for (auto& c : lower)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower == "no-cache")
        return true;
    }
    if (comma == std::string_view::npos)
      break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

/// The `after` query parameter of /events (0 when absent or bad).
uint64_t after_param(std::string_view target) {
  auto q = target.find("after=");
  if (q == std::string_view::npos)
    return 0;
  uint64_t v = 0;
  for (auto i = q + 6;
       i < target.size() && target[i] >= '0' && target[i] <= '9'; ++i)
    v = v * 10 + static_cast<uint64_t>(target[i] - '0');
  return v;
}

} // namespace

service::service(engine& eng, std::shared_ptr<attempt_tracker> tracker,
                 gateway_settings settings, observability obs)
    : eng_(eng), tracker_(std::move(tracker)), settings_(std::move(settings)),
      obs_(std::move(obs)) {
  auto now = std::chrono::steady_clock::now();
  for (const auto& k : settings_.keys) {
    auto m = std::make_unique<key_meter>();
    m->tokens = static_cast<double>(k.requests_per_minute);
    m->last = now;
    meters_.push_back(std::move(m));
  }
}

std::optional<int> service::authenticate(const request_view& req) const {
  if (settings_.keys.empty())
    return -1;
  auto key = presented_key(req);
  int found = -1;
  // Compares against every key so that the time taken does not tell which
  // one matched.
  for (size_t i = 0; i < settings_.keys.size(); ++i)
    if (same_key(key, settings_.keys[i].key))
      found = static_cast<int>(i);
  if (found < 0)
    return std::nullopt;
  return found;
}

bool service::is_admin(const request_view& req) const {
  if (settings_.admin_key.empty())
    return settings_.keys.empty(); // unauthenticated loopback gateway
  return same_key(presented_key(req), settings_.admin_key);
}

bool service::may_observe(const request_view& req) const {
  return authenticate(req).has_value() || is_admin(req);
}

std::optional<timespan> service::take(int k) {
  if (k < 0 || settings_.keys[static_cast<size_t>(k)].requests_per_minute == 0)
    return std::nullopt;
  auto rpm = static_cast<double>(
      settings_.keys[static_cast<size_t>(k)].requests_per_minute);
  auto& m = *meters_[static_cast<size_t>(k)];
  auto now = std::chrono::steady_clock::now();
  std::lock_guard guard{m.mtx};
  std::chrono::duration<double> dt = now - m.last;
  m.last = now;
  m.tokens = std::min(rpm, m.tokens + dt.count() * rpm / 60.0);
  if (m.tokens >= 1.0) {
    m.tokens -= 1.0;
    return std::nullopt;
  }
  auto wait = (1.0 - m.tokens) * 60.0 / rpm;
  return std::chrono::duration_cast<timespan>(
      std::chrono::duration<double>{wait});
}

bool service::may_use(int k, std::string_view route) const {
  if (k < 0)
    return true;
  const auto& allowed = settings_.keys[static_cast<size_t>(k)].routes;
  if (allowed.empty())
    return true;
  for (const auto& r : allowed)
    if (r == route)
      return true;
  return false;
}

http_response service::refusal(int status, std::string_view path,
                               std::string message) {
  auto d = path_of(path) == "/v1/messages" ? dialect::anthropic
                                           : dialect::openai_chat;
  return error_response(d, make_error(status, std::move(message)));
}

void service::handle(const request_view& req, std::shared_ptr<exchange> ex) {
  auto path = path_of(req.target());
  auto method = req.method();
  bool post = method == "POST";
  bool get = method == "GET" || method == "HEAD";
  if (path == "/v1/chat/completions" && post)
    return api_call(dialect::openai_chat, req, ex);
  if (path == "/v1/messages" && post)
    return api_call(dialect::anthropic, req, ex);
  if (path == "/v1/completions" && post)
    return api_call(dialect::openai_completions, req, ex);
  auto reply = [&](http_response res) { ex->respond(std::move(res)); };
  auto openai_error = [&](client_error err) {
    reply(error_response(dialect::openai_chat, err));
  };
  if (path == "/health" && get)
    return reply(json_response(200, {{"status", "ok"}}));
  if (path == "/ready" && get)
    return reply(ready());
  if (path == "/v1/models" && get) {
    auto k = authenticate(req);
    if (!k)
      return openai_error(
          make_error(401, "missing or invalid API key", "invalid_api_key"));
    return reply(models(*k));
  }
  if (path == "/status" && get) {
    if (!may_observe(req))
      return openai_error(
          make_error(401, "missing or invalid API key", "invalid_api_key"));
    return reply(status());
  }
  if (path == "/metrics" && get && obs_.metrics) {
    if (!may_observe(req))
      return openai_error(
          make_error(401, "missing or invalid API key", "invalid_api_key"));
    http_response res;
    res.content_type = "text/plain; version=0.0.4; charset=utf-8";
    res.body = obs_.metrics->render();
    return reply(std::move(res));
  }
  if (path == "/events" && get && obs_.events) {
    if (!may_observe(req))
      return openai_error(
          make_error(401, "missing or invalid API key", "invalid_api_key"));
    http_response res;
    res.body = obs_.events->since(after_param(req.target()));
    return reply(std::move(res));
  }
  if (path == "/dashboard" && get && !obs_.dashboard.empty()) {
    // The page holds no data: it fetches /status and /events with a key.
    http_response res;
    res.content_type = "text/html; charset=utf-8";
    res.headers.emplace_back("cache-control", "no-store");
    res.body = obs_.dashboard;
    return reply(std::move(res));
  }
  // A known path with another method: 405 naming what it takes.
  auto wrong_method = [&](std::string_view allow, dialect d) {
    http_response res = error_response(
        d, make_error(405, "method " + std::string{method}
                               + " is not allowed on " + std::string{path}
                               + "; use " + std::string{allow}));
    res.headers.emplace_back("allow", std::string{allow});
    reply(std::move(res));
  };
  if (path.substr(0, 19) == "/admin/deployments/") {
    if (!post)
      return wrong_method("POST", dialect::openai_chat);
    return reply(admin(path.substr(19), req));
  }
  if (path == "/v1/messages")
    return wrong_method("POST", dialect::anthropic);
  if (path == "/v1/chat/completions" || path == "/v1/completions")
    return wrong_method("POST", dialect::openai_chat);
  for (auto known : {"/health", "/ready", "/v1/models", "/status", "/metrics",
                     "/events", "/dashboard"})
    if (path == known && !get) // a GET here is for an endpoint that is off
      return wrong_method("GET, HEAD", dialect::openai_chat);
  openai_error(
      make_error(404, "no such endpoint: " + std::string{path}, "not_found"));
}

void service::api_call(dialect d, const request_view& req,
                       const std::shared_ptr<exchange>& ex) {
  header_list headers;
  std::string request_id;
  if (auto rid = req.header("x-request-id"); rid && good_request_id(*rid))
    request_id = std::string{*rid};
  else
    request_id = make_id("req_");
  headers.emplace_back("x-request-id", request_id);
  auto refuse = [&](const client_error& err) {
    ex->respond(error_response(d, err, std::move(headers)));
  };
  if (draining_.load(std::memory_order_acquire))
    return refuse(make_error(d == dialect::anthropic ? 529 : 503,
                             "the gateway is shutting down"));
  auto k = authenticate(req);
  if (!k)
    return refuse(
        make_error(401, "missing or invalid API key", "invalid_api_key"));
  auto parsed = parse_request(d, req.body());
  if (!parsed)
    return refuse(parsed.error());
  auto& call = *parsed;
  if (eng_.config().find_route(call.route) == nullptr)
    return refuse(make_error(
        404, "The model `" + call.route + "` does not exist (no such route)",
        "model_not_found", "model"));
  if (!may_use(*k, call.route))
    return refuse(
        make_error(403, "this API key may not use model `" + call.route + '`',
                   "model_not_allowed", "model"));
  if (auto wait = take(*k)) {
    auto err = make_error(429, "this API key's request limit is reached",
                          "rate_limit_exceeded");
    err.retry_after_s = std::max<int64_t>(
        1, static_cast<int64_t>(
               std::ceil(std::chrono::duration<double>{*wait}.count())));
    return refuse(err);
  }
  call_options opts;
  opts.route = call.route;
  if (auto v = req.header("x-switchyard-deadline-ms")) {
    int64_t ms = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), ms);
    if (ec != std::errc{} || end != v->data() + v->size() || ms <= 0
        || ms > 86400000)
      return refuse(
          make_error(400,
                     "x-switchyard-deadline-ms must be a whole number "
                     "of milliseconds in 1..86400000",
                     {}, "x-switchyard-deadline-ms"));
    opts.deadline = std::chrono::milliseconds{ms};
  }
  if (auto v = req.header("x-switchyard-pin")) {
    if (eng_.config().find_deployment(*v) == nullptr)
      return refuse(make_error(
          400, "x-switchyard-pin names no deployment: " + std::string{*v}, {},
          "x-switchyard-pin"));
    opts.pin = std::string{*v};
  }
  if (auto v = req.header("x-switchyard-session"))
    opts.session_key = std::string{*v};
  if (auto v = req.header("x-switchyard-cache")) {
    if (*v != "bypass")
      return refuse(make_error(400,
                               "x-switchyard-cache must be \"bypass\", got \""
                                   + std::string{*v} + "\"",
                               {}, "x-switchyard-cache"));
    opts.bypass_cache = true;
  }
  if (auto v = req.header("cache-control"); v && asks_no_cache(*v))
    opts.bypass_cache = true;
  opts.metadata.emplace("request_id", std::move(request_id));
  run_call(eng_, *tracker_, d, std::move(call), std::move(opts),
           std::move(headers), ex, calls_);
}

http_response service::models(int k) const {
  json data = json::array();
  for (const auto& [name, _] : eng_.config().routes)
    if (may_use(k, name))
      data.push_back({{"id", name},
                      {"object", "model"},
                      {"created", 0},
                      {"owned_by", "switchyard"}});
  return json_response(200, {{"object", "list"}, {"data", std::move(data)}});
}

namespace {

bool usable(const deployment_status& d) {
  return !d.disabled && !d.marked_down && d.breaker != breaker_state::open
         && d.breaker != breaker_state::forced_open;
}

double millis(timespan d) {
  return std::chrono::duration<double, std::milli>{d}.count();
}

/// A wall-clock time as ISO 8601 UTC with milliseconds.
std::string iso_time(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                t.time_since_epoch())
                .count();
  auto secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96]; // room for any int in each field: no truncation warning
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

json to_json(const deployment_status& d) {
  json extra = {
      {"latency_p50_ms", millis(d.latency_p50)},
      {"latency_p90_ms", millis(d.latency_p90)},
      {"latency_p99_ms", millis(d.latency_p99)},
      {"recent_samples", d.recent_samples},
      {"recent_errors", d.recent_errors},
      {"last_transition",
       d.last_transition ? json(iso_time(*d.last_transition)) : json{}},
      {"down_reason", d.marked_down ? json(d.down_reason) : json{}},
      {"ratelimit_remaining_requests",
       d.ratelimit_remaining_requests ? json(*d.ratelimit_remaining_requests)
                                      : json{}},
      {"ratelimit_remaining_tokens", d.ratelimit_remaining_tokens
                                         ? json(*d.ratelimit_remaining_tokens)
                                         : json{}},
  };
  json base = {
      {"name", d.name},
      {"provider", d.provider},
      {"model", d.model},
      {"breaker", to_string(d.breaker)},
      {"disabled", d.disabled},
      {"usable", usable(d)},
      {"in_flight", d.in_flight},
      {"queued", d.queued},
      {"calls", d.calls},
      {"failures", d.failures},
      {"recent_error_rate", d.recent_error_rate},
      {"latency_ewma_ms",
       std::chrono::duration<double, std::milli>{d.latency_ewma}.count()},
      {"restarts", d.restarts},
      {"marked_down", d.marked_down},
  };
  base.update(extra);
  return base;
}

} // namespace

http_response service::ready() const {
  auto st = eng_.status();
  size_t n = 0;
  for (const auto& d : st.deployments)
    n += usable(d) ? 1 : 0;
  bool draining = draining_.load(std::memory_order_acquire);
  bool ok = !draining && n > 0;
  return json_response(
      ok ? 200 : 503,
      {{"ready", ok}, {"draining", draining}, {"usable_deployments", n}});
}

http_response service::status() const {
  auto st = eng_.status();
  json routes = json::array();
  for (const auto& r : st.routes)
    routes.push_back(
        {{"name", r.name},
         {"targets", r.targets},
         {"current", r.current.empty() ? json{} : json(r.current)}});
  json deps = json::array();
  for (const auto& d : st.deployments)
    deps.push_back(to_json(d));
  return json_response(200,
                       {{"draining", draining_.load(std::memory_order_acquire)},
                        {"calls_running", st.calls_running},
                        {"calls_queued", st.calls_queued},
                        {"routes", std::move(routes)},
                        {"deployments", std::move(deps)}});
}

http_response service::admin(std::string_view rest, const request_view& req) {
  auto err = [](int status, std::string msg, std::string code = {}) {
    return error_response(dialect::openai_chat,
                          make_error(status, std::move(msg), std::move(code)));
  };
  if (settings_.admin_key.empty() && !settings_.keys.empty())
    return err(403, "admin endpoints are disabled: no gateway.admin_key is "
                    "configured");
  if (!is_admin(req))
    return err(401, "missing or invalid admin key", "invalid_api_key");
  auto slash = rest.rfind('/');
  if (slash == std::string_view::npos || slash == 0)
    return err(404, "expected /admin/deployments/{name}/{command}");
  auto name = rest.substr(0, slash);
  auto cmd_name = rest.substr(slash + 1);
  auto cmd = parse_deployment_command(cmd_name);
  if (!cmd)
    return err(404, "unknown command \"" + std::string{cmd_name}
                        + "\" (expected one of: force-open, force-closed, "
                          "disable, enable, reset)");
  if (!eng_.control(name, *cmd))
    return err(404, "unknown deployment \"" + std::string{name} + '"',
               "deployment_not_found");
  json body = {{"deployment", name}, {"command", to_string(*cmd)}};
  for (const auto& d : eng_.status().deployments)
    if (d.name == name)
      body["status"] = to_json(d);
  return json_response(200, body);
}

} // namespace switchyard::gateway
