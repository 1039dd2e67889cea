#include "report.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

namespace switchyard::demo {

namespace {

double ms(timespan d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

/// Returns the `q` quantile (nearest rank) of sorted latencies.
timespan quantile(const std::vector<timespan>& sorted, double q) {
  if (sorted.empty())
    return {};
  auto rank = static_cast<size_t>(q * static_cast<double>(sorted.size()));
  return sorted[std::min(rank, sorted.size() - 1)];
}

void row(const char* label, const std::string& value) {
  std::printf("  %-22s %s\n", label, value.c_str());
}

std::string join_counts(const std::map<std::string, uint64_t>& counts) {
  std::string out;
  for (const auto& [k, n] : counts)
    out += (out.empty() ? "" : ", ") + k + " " + std::to_string(n);
  return out.empty() ? "none" : out;
}

/// Renders a mock's stats body as "N requests (fault n, ...)".
std::string render_mock_stats(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return "unavailable";
  std::map<std::string, uint64_t> faults;
  if (auto f = j.find("faults"); f != j.end() && f->is_object())
    for (const auto& [k, v] : f->items())
      if (v.is_number_unsigned())
        faults[k] = v.get<uint64_t>();
  return std::to_string(j.value("total", uint64_t{0})) + " requests ("
         + join_counts(faults) + ")";
}

} // namespace

bool all_answered(const traffic_result& t) {
  return std::all_of(t.calls.begin(), t.calls.end(),
                     [](const auto& c) { return c.answered; });
}

void print_report(const run_report& r) {
  const auto& t = *r.traffic;
  size_t answered = 0;
  size_t attempts = 0;
  std::map<std::string, uint64_t> passed;
  std::map<std::string, uint64_t> by_deployment;
  std::map<std::string, uint64_t> errors;
  std::vector<timespan> latencies;
  for (const auto& d : r.deployments)
    by_deployment[d] = 0;
  for (const auto& c : t.calls) {
    attempts += c.attempts;
    for (const auto& [dep, why] : c.passed_over)
      ++passed[std::string{dep}.append(": ").append(why)];
    if (c.answered) {
      ++answered;
      ++by_deployment[c.deployment];
      latencies.push_back(c.latency);
    } else {
      ++errors[c.error];
    }
  }
  std::sort(latencies.begin(), latencies.end());
  const auto& ev = r.events;
  std::printf("\nSummary (%.1f s%s)\n",
              std::chrono::duration<double>(t.elapsed).count(),
              t.interrupted ? ", interrupted" : "");
  row("requests answered",
      std::to_string(answered) + "/" + std::to_string(t.calls.size()));
  std::string answers;
  for (const auto& d : r.deployments)
    answers += (answers.empty() ? "" : ", ") + d + " "
               + std::to_string(by_deployment[d]);
  row("answered by", answers);
  row("attempts sent",
      std::to_string(attempts) + " (engine saw " + std::to_string(ev.attempts)
          + "; failed: " + join_counts(ev.attempt_failures) + ")");
  row("retries", std::to_string(ev.retries) + " ("
                     + std::to_string(ev.retries_from_server)
                     + " waited as the server's Retry-After said)");
  row("fallbacks", std::to_string(ev.fallbacks) + " after a failed request ("
                       + join_counts(ev.fallback_pairs) + ")");
  row("", std::to_string(ev.fallbacks_unsent) + " refused before sending ("
              + join_counts(passed) + ")");
  char buf[160];
  std::snprintf(buf, sizeof(buf),
                "p50 %.1f  p90 %.1f  p99 %.1f  max %.1f (ms, per call)",
                ms(quantile(latencies, 0.50)), ms(quantile(latencies, 0.90)),
                ms(quantile(latencies, 0.99)),
                latencies.empty() ? 0.0 : ms(latencies.back()));
  row("latency", buf);
  row("breaker transitions", std::to_string(ev.breaker_transitions.size()));
  for (const auto& b : ev.breaker_transitions) {
    std::snprintf(buf, sizeof(buf), "    %6.2fs  %s %s -> %s",
                  std::chrono::duration<double>(b.at).count(),
                  b.deployment.c_str(), b.from.c_str(), b.to.c_str());
    std::printf("%s\n", buf);
  }
  std::string states;
  for (const auto& s : r.status)
    states += (states.empty() ? "" : ", ") + s.name + " "
              + std::string{to_string(s.breaker)};
  row("breakers at the end", states);
  if (ev.restarts > 0)
    row("provider restarts", std::to_string(ev.restarts));
  for (const auto& [name, body] : r.mock_stats)
    row(("mock " + name).c_str(),
        body.empty() ? std::string{"unavailable"} : render_mock_stats(body));
  for (const auto& [err, n] : errors)
    row("FAILED", std::to_string(n) + " x " + err);
  std::fflush(stdout);
}

} // namespace switchyard::demo
