#include "sections.hpp"

#include <cmath>
#include <limits>

namespace switchyard::config_detail {

namespace {

constexpr double unbounded = std::numeric_limits<double>::infinity();

/// Largest count accepted for window sizes, probes and the like.
constexpr int64_t max_count = 1'000'000;

const name_table<error_class>& error_class_names() {
  static const auto table = [] {
    name_table<error_class> result;
    for (auto cls : all_error_classes)
      result.emplace_back(to_string(cls), cls);
    return result;
  }();
  return table;
}

const name_table<jitter_kind>& jitter_names() {
  static const name_table<jitter_kind> table{
      {"none", jitter_kind::none},
      {"full", jitter_kind::full},
      {"decorrelated", jitter_kind::decorrelated},
  };
  return table;
}

const name_table<breaker_settings::window_kind>& window_names() {
  static const name_table<breaker_settings::window_kind> table{
      {"count", breaker_settings::window_kind::count},
      {"time", breaker_settings::window_kind::time},
  };
  return table;
}

/// Reads a list of error class names into a set.
std::optional<error_class_set> read_classes(reader& rd, const json& value,
                                            const std::string& path) {
  if (!rd.array(value, path))
    return std::nullopt;
  error_class_set result;
  bool ok = true;
  for (size_t i = 0; i < value.size(); ++i) {
    auto cls = rd.enumeration(value[i], element(path, i), "error class",
                              error_class_names());
    if (cls)
      result.insert(*cls);
    else
      ok = false;
  }
  if (!ok)
    return std::nullopt;
  return result;
}

/// Reads a list of 1 to 16 durations of at least 1 ms; `what` names them in
/// the error about the count.
std::optional<std::vector<timespan>> read_ladder(reader& rd, const json& value,
                                                 const std::string& path,
                                                 std::string_view what) {
  if (!rd.array(value, path))
    return std::nullopt;
  if (value.empty() || value.size() > 16) {
    rd.error(path, "expected 1 to 16 " + std::string{what} + ", got "
                       + std::to_string(value.size()));
    return std::nullopt;
  }
  std::vector<timespan> result;
  bool ok = true;
  for (size_t i = 0; i < value.size(); ++i) {
    if (auto t = rd.millis(value[i], element(path, i), 1))
      result.push_back(*t);
    else
      ok = false;
  }
  if (!ok)
    return std::nullopt;
  return result;
}

template <class T>
void set_if(std::optional<T> x, T& out) {
  if (x)
    out = *x;
}

template <class T, class U>
void set_cast_if(std::optional<T> x, U& out) {
  if (x)
    out = static_cast<U>(*x);
}

/// Rejects the first entry of a ladder (`name` under `path`) longer than
/// `deadline`, blaming the ladder when this object sets it and the deadline
/// when only that is set here. Inherited pairs were checked where they were
/// set.
void check_ladder(reader& rd, const std::string& path, std::string_view name,
                  const std::vector<timespan>& ladder, timespan deadline,
                  bool own_ladder, bool own_deadline) {
  if (!own_ladder && !own_deadline)
    return;
  auto ms = [](timespan t) {
    return std::to_string(
        std::chrono::duration_cast<std::chrono::milliseconds>(t).count());
  };
  for (size_t i = 0; i < ladder.size(); ++i) {
    if (ladder[i] <= deadline)
      continue;
    auto entry = element(std::string{name}, i);
    if (own_ladder) {
      auto where = path;
      if (!where.empty())
        where += '.';
      where += entry;
      rd.error(std::move(where),
               ms(ladder[i]) + " exceeds deadline_ms (" + ms(deadline) + ")");
    } else {
      rd.error(child(path, "deadline_ms"),
               ms(deadline) + " is shorter than the inherited " + entry + " ("
                   + ms(ladder[i]) + "); set " + std::string{name}
                   + " here too");
    }
    return;
  }
}

/// Overlays a `stream` object. Returns false when it holds a
/// `first_token_ms` that does not parse (the inherited one then stays).
bool apply_stream(reader& rd, const json& obj, const std::string& path,
                  stream_settings& out) {
  if (!rd.object(
          obj, path,
          {"first_token_ms", "idle_ms", "max_duration_ms", "buffer_events"}))
    return false;
  auto at = [&](std::string_view key) { return child(path, key); };
  bool first_token_ok = true;
  with(obj, "first_token_ms", [&](const json& v) {
    auto ladder
        = read_ladder(rd, v, at("first_token_ms"), "first-token timeouts");
    if (ladder)
      out.first_token = std::move(*ladder);
    else
      first_token_ok = false;
  });
  with(obj, "idle_ms", [&](const json& v) {
    set_if(rd.millis(v, at("idle_ms"), 1), out.idle);
  });
  with(obj, "max_duration_ms", [&](const json& v) {
    if (v.is_null()) {
      out.max_duration.reset();
      return;
    }
    if (!v.is_number()) {
      rd.error(at("max_duration_ms"),
               "expected a positive integer or null, got " + describe(v));
      return;
    }
    if (auto t = rd.millis(v, at("max_duration_ms"), 1))
      out.max_duration = *t;
  });
  with(obj, "buffer_events", [&](const json& v) {
    set_cast_if(rd.integer(v, at("buffer_events"), 1, max_count),
                out.buffer_events);
  });
  return first_token_ok;
}

} // namespace

const name_table<balance_strategy>& strategy_names() {
  static const name_table<balance_strategy> table{
      {"priority", balance_strategy::priority},
      {"weighted_random", balance_strategy::weighted_random},
      {"sticky", balance_strategy::sticky},
      {"least_in_flight", balance_strategy::least_in_flight},
      {"lowest_latency", balance_strategy::lowest_latency},
      {"cheapest", balance_strategy::cheapest},
  };
  return table;
}

const name_table<stream_failover>& stream_failover_names() {
  static const name_table<stream_failover> table{
      {"error", stream_failover::error},
      {"restart", stream_failover::restart},
      {"continue", stream_failover::continue_},
  };
  return table;
}

void apply_breaker(reader& rd, const json& obj, const std::string& path,
                   breaker_settings& out) {
  if (!rd.object(obj, path,
                 {"consecutive_failures", "failure_rate", "slow_call_rate",
                  "slow_call_duration_ms", "window", "window_size",
                  "window_duration_ms", "minimum_calls", "open_duration_ms",
                  "open_factor", "max_open_duration_ms", "half_open_probes",
                  "half_open_successes", "failure_classes", "active_probe",
                  "probe_timeout_ms"}))
    return;
  auto at = [&](std::string_view key) { return child(path, key); };
  with(obj, "consecutive_failures", [&](const json& v) {
    set_cast_if(rd.integer(v, at("consecutive_failures"), 0, max_count),
                out.consecutive_failures);
  });
  with(obj, "failure_rate", [&](const json& v) {
    set_if(rd.number(v, at("failure_rate"), 0, 1), out.failure_rate);
  });
  with(obj, "slow_call_rate", [&](const json& v) {
    set_if(rd.number(v, at("slow_call_rate"), 0, 1), out.slow_call_rate);
  });
  with(obj, "slow_call_duration_ms", [&](const json& v) {
    set_if(rd.millis(v, at("slow_call_duration_ms"), 1),
           out.slow_call_duration);
  });
  with(obj, "window", [&](const json& v) {
    set_if(rd.enumeration(v, at("window"), "window kind", window_names()),
           out.window);
  });
  with(obj, "window_size", [&](const json& v) {
    set_cast_if(rd.integer(v, at("window_size"), 1, max_count),
                out.window_size);
  });
  with(obj, "window_duration_ms", [&](const json& v) {
    set_if(rd.millis(v, at("window_duration_ms"), 1), out.window_duration);
  });
  with(obj, "minimum_calls", [&](const json& v) {
    set_cast_if(rd.integer(v, at("minimum_calls"), 0, max_count),
                out.minimum_calls);
  });
  with(obj, "open_duration_ms", [&](const json& v) {
    set_if(rd.millis(v, at("open_duration_ms"), 1), out.open_duration);
  });
  with(obj, "open_factor", [&](const json& v) {
    set_if(rd.number(v, at("open_factor"), 1, unbounded), out.open_factor);
  });
  with(obj, "max_open_duration_ms", [&](const json& v) {
    set_if(rd.millis(v, at("max_open_duration_ms"), 1), out.max_open_duration);
  });
  with(obj, "half_open_probes", [&](const json& v) {
    set_cast_if(rd.integer(v, at("half_open_probes"), 1, max_count),
                out.half_open_probes);
  });
  with(obj, "half_open_successes", [&](const json& v) {
    set_cast_if(rd.integer(v, at("half_open_successes"), 1, max_count),
                out.half_open_successes);
  });
  with(obj, "failure_classes", [&](const json& v) {
    set_if(read_classes(rd, v, at("failure_classes")), out.failure_classes);
  });
  with(obj, "active_probe", [&](const json& v) {
    set_if(rd.boolean(v, at("active_probe")), out.active_probe);
  });
  with(obj, "probe_timeout_ms", [&](const json& v) {
    set_if(rd.millis(v, at("probe_timeout_ms"), 1), out.probe_timeout);
  });
  bool touched_open = member(obj, "open_duration_ms") != nullptr
                      || member(obj, "max_open_duration_ms") != nullptr;
  if (touched_open && out.max_open_duration < out.open_duration) {
    auto ms = [](timespan t) {
      return std::to_string(
          std::chrono::duration_cast<std::chrono::milliseconds>(t).count());
    };
    rd.error(at("max_open_duration_ms"), "must be at least open_duration_ms ("
                                             + ms(out.open_duration) + "), got "
                                             + ms(out.max_open_duration));
  }
}

void apply_backoff(reader& rd, const json& obj, const std::string& path,
                   backoff_settings& out) {
  if (!rd.object(obj, path,
                 {"base_ms", "cap_ms", "factor", "jitter", "honour_retry_after",
                  "max_retry_after_ms"}))
    return;
  auto at = [&](std::string_view key) { return child(path, key); };
  with(obj, "base_ms", [&](const json& v) {
    set_if(rd.millis(v, at("base_ms"), 0), out.base);
  });
  with(obj, "cap_ms",
       [&](const json& v) { set_if(rd.millis(v, at("cap_ms"), 0), out.cap); });
  with(obj, "factor", [&](const json& v) {
    set_if(rd.number(v, at("factor"), 1, unbounded), out.factor);
  });
  with(obj, "jitter", [&](const json& v) {
    set_if(rd.enumeration(v, at("jitter"), "jitter", jitter_names()),
           out.jitter);
  });
  with(obj, "honour_retry_after", [&](const json& v) {
    set_if(rd.boolean(v, at("honour_retry_after")), out.honour_retry_after);
  });
  with(obj, "max_retry_after_ms", [&](const json& v) {
    set_if(rd.millis(v, at("max_retry_after_ms"), 0), out.max_retry_after);
  });
  bool touched
      = member(obj, "base_ms") != nullptr || member(obj, "cap_ms") != nullptr;
  if (touched && out.cap < out.base) {
    auto ms = [](timespan t) {
      return std::to_string(
          std::chrono::duration_cast<std::chrono::milliseconds>(t).count());
    };
    rd.error(at("cap_ms"), "must be at least base_ms (" + ms(out.base)
                               + "), got " + ms(out.cap));
  }
}

void apply_retry(reader& rd, const json& obj, const std::string& path,
                 retry_settings& out) {
  if (!rd.object(obj, path, {"max_retries", "fall_back_on"}))
    return;
  with(obj, "max_retries", [&](const json& v) {
    auto p = child(path, "max_retries");
    std::vector<std::string_view> names;
    for (auto& [name, _] : error_class_names())
      names.push_back(name);
    if (!rd.object(v, p, names))
      return;
    for (auto& [key, n] : v.items()) {
      auto cls = parse_error_class(key);
      if (!cls)
        continue; // reported as an unknown key
      set_cast_if(rd.integer(n, child(p, key), 0, 100),
                  out.max_retries[static_cast<size_t>(*cls)]);
    }
  });
  with(obj, "fall_back_on", [&](const json& v) {
    auto p = child(path, "fall_back_on");
    auto classes = read_classes(rd, v, p);
    if (!classes)
      return;
    if (classes->contains(error_class::cancelled)) {
      rd.error(p, "\"cancelled\" cannot fall back: the caller gave up");
      return;
    }
    out.fall_back_on = *classes;
  });
}

void apply_retry_budget(reader& rd, const json& obj, const std::string& path,
                        retry_budget_settings& out) {
  if (!rd.object(obj, path, {"ratio", "min_retries_per_second", "window_ms"}))
    return;
  auto at = [&](std::string_view key) { return child(path, key); };
  with(obj, "ratio", [&](const json& v) {
    set_if(rd.number(v, at("ratio"), 0, unbounded), out.ratio);
  });
  with(obj, "min_retries_per_second", [&](const json& v) {
    set_if(rd.number(v, at("min_retries_per_second"), 0, unbounded),
           out.min_retries_per_second);
  });
  with(obj, "window_ms", [&](const json& v) {
    set_if(rd.millis(v, at("window_ms"), 1), out.window);
  });
}

void apply_hedge(reader& rd, const json& obj, const std::string& path,
                 hedge_settings& out) {
  if (!rd.object(
          obj, path,
          {"enabled", "delay_ms", "percentile", "min_samples", "max_attempts"}))
    return;
  auto at = [&](std::string_view key) { return child(path, key); };
  with(obj, "enabled", [&](const json& v) {
    set_if(rd.boolean(v, at("enabled")), out.enabled);
  });
  with(obj, "delay_ms", [&](const json& v) {
    set_if(rd.millis(v, at("delay_ms"), 0), out.delay);
  });
  with(obj, "percentile", [&](const json& v) {
    if (v.is_null()) {
      out.percentile.reset();
      return;
    }
    if (auto p = rd.number(v, at("percentile"), 0, 1, true))
      out.percentile = *p;
  });
  with(obj, "min_samples", [&](const json& v) {
    set_cast_if(rd.integer(v, at("min_samples"), 0, max_count),
                out.min_samples);
  });
  with(obj, "max_attempts", [&](const json& v) {
    set_cast_if(rd.integer(v, at("max_attempts"), 1, 16), out.max_attempts);
  });
}

void apply_limits(reader& rd, const json& obj, const std::string& path,
                  deployment_limits& out) {
  if (!rd.object(obj, path,
                 {"requests_per_minute", "tokens_per_minute", "follow_headers",
                  "max_in_flight", "max_queue"}))
    return;
  auto at = [&](std::string_view key) { return child(path, key); };
  with(obj, "requests_per_minute", [&](const json& v) {
    set_if(rd.number(v, at("requests_per_minute"), 0, unbounded),
           out.rate.requests_per_minute);
  });
  with(obj, "tokens_per_minute", [&](const json& v) {
    set_if(rd.number(v, at("tokens_per_minute"), 0, unbounded),
           out.rate.tokens_per_minute);
  });
  with(obj, "follow_headers", [&](const json& v) {
    set_if(rd.boolean(v, at("follow_headers")), out.rate.follow_headers);
  });
  with(obj, "max_in_flight", [&](const json& v) {
    set_cast_if(rd.integer(v, at("max_in_flight"), 0, max_count),
                out.max_in_flight);
  });
  with(obj, "max_queue", [&](const json& v) {
    set_cast_if(rd.integer(v, at("max_queue"), 0, max_count), out.max_queue);
  });
}

void apply_timeouts(reader& rd, const json& obj, const std::string& path,
                    transfer_timeouts& out) {
  if (!rd.object(obj, path,
                 {"connect_ms", "first_byte_ms", "idle_ms", "total_ms"}))
    return;
  auto one = [&](std::string_view key, std::optional<timespan>& field) {
    with(obj, key, [&](const json& v) {
      if (v.is_null()) {
        field.reset();
        return;
      }
      if (!v.is_number()) {
        rd.error(child(path, key),
                 "expected a positive integer or null, got " + describe(v));
        return;
      }
      if (auto t = rd.millis(v, child(path, key), 1))
        field = *t;
    });
  };
  one("connect_ms", out.connect);
  one("first_byte_ms", out.first_byte);
  one("idle_ms", out.idle);
  one("total_ms", out.total);
}

void apply_transport(reader& rd, const json& obj, const std::string& path,
                     transport_config& out) {
  if (!rd.object(obj, path,
                 {"max_host_connections", "max_connections", "ca_file",
                  "ca_path", "insecure_skip_verify", "max_response_bytes"}))
    return;
  auto at = [&](std::string_view key) { return child(path, key); };
  with(obj, "max_host_connections", [&](const json& v) {
    set_cast_if(rd.integer(v, at("max_host_connections"), 1, 65536),
                out.max_host_connections);
  });
  with(obj, "max_connections", [&](const json& v) {
    set_cast_if(rd.integer(v, at("max_connections"), 0, 1 << 20),
                out.max_connections);
  });
  with(obj, "ca_file", [&](const json& v) {
    set_if(rd.string(v, at("ca_file")), out.ca_file);
  });
  with(obj, "ca_path", [&](const json& v) {
    set_if(rd.string(v, at("ca_path")), out.ca_path);
  });
  with(obj, "insecure_skip_verify", [&](const json& v) {
    set_if(rd.boolean(v, at("insecure_skip_verify")), out.insecure_skip_verify);
  });
  with(obj, "max_response_bytes", [&](const json& v) {
    set_cast_if(rd.integer(v, at("max_response_bytes"), 1),
                out.max_response_bytes);
  });
}

void apply_route_policy(reader& rd, const json& obj, const std::string& path,
                        route_policy& out) {
  auto at = [&](std::string_view key) { return child(path, key); };
  with(obj, "strategy", [&](const json& v) {
    set_if(rd.enumeration(v, at("strategy"), "strategy", strategy_names()),
           out.strategy);
  });
  with(obj, "deadline_ms", [&](const json& v) {
    set_if(rd.millis(v, at("deadline_ms"), 1), out.deadline);
  });
  bool ladder_ok = true;
  with(obj, "ladder_ms", [&](const json& v) {
    auto ladder = read_ladder(rd, v, at("ladder_ms"), "attempt timeouts");
    if (ladder)
      out.ladder = std::move(*ladder);
    else
      ladder_ok = false;
  });
  with(obj, "retry",
       [&](const json& v) { apply_retry(rd, v, at("retry"), out.retry); });
  with(obj, "backoff", [&](const json& v) {
    apply_backoff(rd, v, at("backoff"), out.backoff);
  });
  with(obj, "retry_budget", [&](const json& v) {
    apply_retry_budget(rd, v, at("retry_budget"), out.retry_budget);
  });
  with(obj, "hedge",
       [&](const json& v) { apply_hedge(rd, v, at("hedge"), out.hedge); });
  with(obj, "stream_failover", [&](const json& v) {
    set_if(rd.enumeration(v, at("stream_failover"), "stream_failover mode",
                          stream_failover_names()),
           out.stream_failover_mode);
  });
  bool first_token_ok = true;
  with(obj, "stream", [&](const json& v) {
    first_token_ok = apply_stream(rd, v, at("stream"), out.stream);
  });
  // A timeout longer than the whole deadline is almost surely a typo (15000
  // vs 150000); it would be clipped silently, so reject it.
  bool own_deadline = member(obj, "deadline_ms") != nullptr;
  if (ladder_ok)
    check_ladder(rd, path, "ladder_ms", out.ladder, out.deadline,
                 member(obj, "ladder_ms") != nullptr, own_deadline);
  auto stream = member(obj, "stream");
  bool own_first_token
      = stream != nullptr && member(*stream, "first_token_ms") != nullptr;
  if (first_token_ok)
    check_ladder(rd, path, "stream.first_token_ms", out.stream.first_token,
                 out.deadline, own_first_token, own_deadline);
}

} // namespace switchyard::config_detail
