#include "sections.hpp"

#include "keys.hpp"

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

std::string ms(timespan t) {
  return std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(t).count());
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

const section_keys<stream_settings>& stream_keys() {
  using S = stream_settings;
  static const section_keys<S> keys{
      {"first_token_ms",
       [](reader& rd, const json& v, const std::string& p, S& out) {
         return assign(read_ladder(rd, v, p, "first-token timeouts"),
                       out.first_token);
       }},
      {"idle_ms", millis_key(&S::idle, 1)},
      {"max_duration_ms", limit_key(&S::max_duration)},
      {"buffer_events", integer_key(&S::buffer_events, 1, max_count)},
  };
  return keys;
}

/// Overlays a `stream` object. Returns false when it holds a
/// `first_token_ms` that does not parse (the inherited one then stays).
bool apply_stream(reader& rd, const json& obj, const std::string& path,
                  stream_settings& out) {
  auto r = read_section(rd, obj, path, stream_keys(), out);
  return r.object && !r.rejects("first_token_ms");
}

const section_keys<breaker_settings>& breaker_keys() {
  using S = breaker_settings;
  static const section_keys<S> keys{
      {"consecutive_failures",
       integer_key(&S::consecutive_failures, 0, max_count)},
      {"failure_rate", number_key(&S::failure_rate, 0, 1)},
      {"slow_call_rate", number_key(&S::slow_call_rate, 0, 1)},
      {"slow_call_duration_ms", millis_key(&S::slow_call_duration, 1)},
      {"window", enum_key(&S::window, "window kind", window_names())},
      {"window_size", integer_key(&S::window_size, 1, max_count)},
      {"window_duration_ms", millis_key(&S::window_duration, 1)},
      {"minimum_calls", integer_key(&S::minimum_calls, 0, max_count)},
      {"open_duration_ms", millis_key(&S::open_duration, 1)},
      {"open_factor", number_key(&S::open_factor, 1, unbounded)},
      {"max_open_duration_ms", millis_key(&S::max_open_duration, 1)},
      {"half_open_probes", integer_key(&S::half_open_probes, 1, max_count)},
      {"half_open_successes",
       integer_key(&S::half_open_successes, 1, max_count)},
      {"failure_classes",
       [](reader& rd, const json& v, const std::string& p, S& out) {
         return assign(read_classes(rd, v, p), out.failure_classes);
       }},
      {"active_probe", flag_key(&S::active_probe)},
      {"probe_timeout_ms", millis_key(&S::probe_timeout, 1)},
  };
  return keys;
}

const section_keys<backoff_settings>& backoff_keys() {
  using S = backoff_settings;
  static const section_keys<S> keys{
      {"base_ms", millis_key(&S::base, 0)},
      {"cap_ms", millis_key(&S::cap, 0)},
      {"factor", number_key(&S::factor, 1, unbounded)},
      {"jitter", enum_key(&S::jitter, "jitter", jitter_names())},
      {"honour_retry_after", flag_key(&S::honour_retry_after)},
      {"max_retry_after_ms", millis_key(&S::max_retry_after, 0)},
  };
  return keys;
}

/// `retry.max_retries`: one key per error class.
using retry_counts = std::array<uint32_t, error_class_count>;

const section_keys<retry_counts>& max_retries_keys() {
  static const section_keys<retry_counts> keys = [] {
    section_keys<retry_counts> result;
    for (auto cls : all_error_classes)
      result.emplace_back(to_string(cls), [cls](reader& rd, const json& v,
                                                const std::string& p,
                                                retry_counts& out) {
        return assign(rd.integer(v, p, 0, 100), out[static_cast<size_t>(cls)]);
      });
    return result;
  }();
  return keys;
}

const section_keys<retry_settings>& retry_keys() {
  using S = retry_settings;
  static const section_keys<S> keys{
      {"max_retries",
       [](reader& rd, const json& v, const std::string& p, S& out) {
         return read_section(rd, v, p, max_retries_keys(), out.max_retries)
             .rejected.empty();
       }},
      {"fall_back_on",
       [](reader& rd, const json& v, const std::string& p, S& out) {
         auto classes = read_classes(rd, v, p);
         if (!classes)
           return false;
         if (classes->contains(error_class::cancelled)) {
           rd.error(p, "\"cancelled\" cannot fall back: the caller gave up");
           return false;
         }
         out.fall_back_on = *classes;
         return true;
       }},
  };
  return keys;
}

const section_keys<retry_budget_settings>& retry_budget_keys() {
  using S = retry_budget_settings;
  static const section_keys<S> keys{
      {"ratio", number_key(&S::ratio, 0, unbounded)},
      {"min_retries_per_second",
       number_key(&S::min_retries_per_second, 0, unbounded)},
      {"window_ms", millis_key(&S::window, 1)},
  };
  return keys;
}

const section_keys<hedge_settings>& hedge_keys() {
  using S = hedge_settings;
  static const section_keys<S> keys{
      {"enabled", flag_key(&S::enabled)},
      {"delay_ms", millis_key(&S::delay, 0)},
      {"percentile",
       [](reader& rd, const json& v, const std::string& p, S& out) {
         if (v.is_null()) {
           out.percentile.reset();
           return true;
         }
         return assign(rd.number(v, p, 0, 1, true), out.percentile);
       }},
      {"min_samples", integer_key(&S::min_samples, 0, max_count)},
      {"max_attempts", integer_key(&S::max_attempts, 1, 16)},
  };
  return keys;
}

const section_keys<deployment_limits>& limits_keys() {
  using S = deployment_limits;
  using R = rate_limit_settings;
  static const section_keys<S> keys{
      {"requests_per_minute",
       in(&S::rate, number_key(&R::requests_per_minute, 0, unbounded))},
      {"tokens_per_minute",
       in(&S::rate, number_key(&R::tokens_per_minute, 0, unbounded))},
      {"follow_headers", in(&S::rate, flag_key(&R::follow_headers))},
      {"max_in_flight", integer_key(&S::max_in_flight, 0, max_count)},
      {"max_queue", integer_key(&S::max_queue, 0, max_count)},
  };
  return keys;
}

const section_keys<transfer_timeouts>& timeouts_keys() {
  using S = transfer_timeouts;
  static const section_keys<S> keys{
      {"connect_ms", limit_key(&S::connect)},
      {"first_byte_ms", limit_key(&S::first_byte)},
      {"idle_ms", limit_key(&S::idle)},
      {"total_ms", limit_key(&S::total)},
  };
  return keys;
}

const section_keys<transport_config>& transport_keys() {
  using S = transport_config;
  static const section_keys<S> keys{
      {"loops", integer_key(&S::loops, 0, 64)},
      {"max_host_connections", integer_key(&S::max_host_connections, 1, 65536)},
      {"max_connections", integer_key(&S::max_connections, 0, 1 << 20)},
      {"ca_file", string_key(&S::ca_file)},
      {"ca_path", string_key(&S::ca_path)},
      {"insecure_skip_verify", flag_key(&S::insecure_skip_verify)},
      {"max_response_bytes", integer_key(&S::max_response_bytes, 1)},
  };
  return keys;
}

const section_keys<cache_settings>& cache_keys() {
  using S = cache_settings;
  static const section_keys<S> keys{
      {"enabled", flag_key(&S::enabled)},
      {"ttl_ms", millis_key(&S::ttl, 1)},
      {"allow_nonzero_temperature", flag_key(&S::allow_nonzero_temperature)},
      {"coalesce",
       [](reader& rd, const json& v, const std::string& p, S& out) {
         return assign(rd.boolean(v, p), out.coalesce);
       }},
  };
  return keys;
}

const section_keys<cache_limits>& cache_limits_keys() {
  using S = cache_limits;
  static const section_keys<S> keys{
      {"max_entries", integer_key(&S::max_entries, 0, 100'000'000)},
      {"max_bytes", integer_key(&S::max_bytes, 0, int64_t{1} << 40)},
  };
  return keys;
}

const section_keys<route_policy>& route_policy_keys() {
  using S = route_policy;
  static const section_keys<S> keys{
      {"strategy", enum_key(&S::strategy, "strategy", strategy_names())},
      {"deadline_ms", millis_key(&S::deadline, 1)},
      {"ladder_ms",
       [](reader& rd, const json& v, const std::string& p, S& out) {
         return assign(read_ladder(rd, v, p, "attempt timeouts"), out.ladder);
       }},
      {"retry", object_key(&S::retry, apply_retry)},
      {"backoff", object_key(&S::backoff, apply_backoff)},
      {"retry_budget", object_key(&S::retry_budget, apply_retry_budget)},
      {"hedge", object_key(&S::hedge, apply_hedge)},
      {"stream_failover",
       enum_key(&S::stream_failover_mode, "stream_failover mode",
                stream_failover_names())},
      {"stream", [](reader& rd, const json& v, const std::string& p,
                    S& out) { return apply_stream(rd, v, p, out.stream); }},
      {"cache",
       [](reader& rd, const json& v, const std::string& p, S& out) {
         return read_section(rd, v, p, cache_keys(), out.cache).object;
       }},
  };
  return keys;
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
  if (!read_section(rd, obj, path, breaker_keys(), out).object)
    return;
  bool touched_open = member(obj, "open_duration_ms") != nullptr
                      || member(obj, "max_open_duration_ms") != nullptr;
  if (touched_open && out.max_open_duration < out.open_duration)
    rd.error(child(path, "max_open_duration_ms"),
             "must be at least open_duration_ms (" + ms(out.open_duration)
                 + "), got " + ms(out.max_open_duration));
}

void apply_backoff(reader& rd, const json& obj, const std::string& path,
                   backoff_settings& out) {
  if (!read_section(rd, obj, path, backoff_keys(), out).object)
    return;
  bool touched
      = member(obj, "base_ms") != nullptr || member(obj, "cap_ms") != nullptr;
  if (touched && out.cap < out.base)
    rd.error(child(path, "cap_ms"), "must be at least base_ms (" + ms(out.base)
                                        + "), got " + ms(out.cap));
}

void apply_retry(reader& rd, const json& obj, const std::string& path,
                 retry_settings& out) {
  read_section(rd, obj, path, retry_keys(), out);
}

void apply_retry_budget(reader& rd, const json& obj, const std::string& path,
                        retry_budget_settings& out) {
  read_section(rd, obj, path, retry_budget_keys(), out);
}

void apply_hedge(reader& rd, const json& obj, const std::string& path,
                 hedge_settings& out) {
  read_section(rd, obj, path, hedge_keys(), out);
}

void apply_limits(reader& rd, const json& obj, const std::string& path,
                  deployment_limits& out) {
  read_section(rd, obj, path, limits_keys(), out);
}

void apply_timeouts(reader& rd, const json& obj, const std::string& path,
                    transfer_timeouts& out) {
  read_section(rd, obj, path, timeouts_keys(), out);
}

void apply_transport(reader& rd, const json& obj, const std::string& path,
                     transport_config& out) {
  read_section(rd, obj, path, transport_keys(), out);
}

void apply_cache_limits(reader& rd, const json& obj, const std::string& path,
                        cache_limits& out) {
  read_section(rd, obj, path, cache_limits_keys(), out);
}

bool apply_route_policy(reader& rd, const json& obj, const std::string& path,
                        route_policy& out,
                        std::initializer_list<std::string_view> own_keys) {
  auto r = read_section(rd, obj, path, route_policy_keys(), out, own_keys);
  if (!r.object)
    return false;
  // A timeout longer than the whole deadline is almost surely a typo (15000
  // vs 150000); it would be clipped silently, so reject it.
  bool own_deadline = member(obj, "deadline_ms") != nullptr;
  if (!r.rejects("ladder_ms"))
    check_ladder(rd, path, "ladder_ms", out.ladder, out.deadline,
                 member(obj, "ladder_ms") != nullptr, own_deadline);
  auto stream = member(obj, "stream");
  bool own_first_token
      = stream != nullptr && member(*stream, "first_token_ms") != nullptr;
  if (!r.rejects("stream"))
    check_ladder(rd, path, "stream.first_token_ms", out.stream.first_token,
                 out.deadline, own_first_token, own_deadline);
  return true;
}

} // namespace switchyard::config_detail
