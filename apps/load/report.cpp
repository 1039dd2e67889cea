#include "report.hpp"

#include <cstdio>

namespace switchyard::load {

namespace {

using nlohmann::json;

double ms(uint64_t us) {
  return static_cast<double>(us) / 1000.0;
}

json percentiles(const log_histogram& h) {
  return {{"p50", ms(h.quantile(0.5))},  {"p90", ms(h.quantile(0.9))},
          {"p99", ms(h.quantile(0.99))}, {"p999", ms(h.quantile(0.999))},
          {"max", ms(h.max())},          {"mean", h.mean() / 1000.0},
          {"count", h.count()}};
}

double secs(timespan d) {
  return std::chrono::duration<double>(d).count();
}

} // namespace

std::map<std::string, double> metrics_of(const recorder& rec,
                                         const run_summary& sum) {
  std::map<std::string, double> m;
  auto req = static_cast<double>(rec.requests);
  m["requests"] = req;
  m["ok"] = static_cast<double>(rec.ok);
  m["answered"] = req > 0 ? static_cast<double>(rec.ok) / req : 0;
  m["achieved_rate"] = rec.achieved_rate();
  const std::pair<const char*, double> qs[] = {
      {"p50_ms", 0.5}, {"p90_ms", 0.9}, {"p99_ms", 0.99}, {"p999_ms", 0.999}};
  for (auto [name, q] : qs)
    m[name] = ms(rec.latency.quantile(q));
  m["max_ms"] = ms(rec.latency.max());
  double errors = 0;
  for (const auto& [cls, n] : rec.errors) {
    m["error:" + cls] = static_cast<double>(n);
    errors += static_cast<double>(n);
  }
  m["errors"] = errors;
  for (const auto& [d, n] : rec.by_deployment) {
    m["answers:" + d] = static_cast<double>(n);
    m["share:" + d] = rec.ok ? static_cast<double>(n) / rec.ok : 0;
  }
  m["retries"] = static_cast<double>(rec.engine.retries);
  m["retries_from_server"]
      = static_cast<double>(rec.engine.retries_from_server);
  m["fallbacks"] = static_cast<double>(rec.engine.fallbacks);
  for (const auto& [why, n] : rec.engine.fallbacks_by_reason)
    m["fallbacks:" + why] = static_cast<double>(n);
  m["hedges_fired"] = static_cast<double>(rec.engine.hedges_fired);
  m["hedges_won"] = static_cast<double>(rec.engine.hedges_won);
  m["ttft_p50_ms"] = ms(rec.ttft.quantile(0.5));
  m["ttft_p99_ms"] = ms(rec.ttft.quantile(0.99));
  m["tokens_per_s_p50"]
      = static_cast<double>(rec.tokens_per_second.quantile(0.5));
  m["schedule_p99_ms"] = ms(rec.send_lateness.quantile(0.99));
  m["unfinished"] = static_cast<double>(sum.unfinished);
  return m;
}

std::vector<verdict> check(const load_scenario& sc, const recorder& rec,
                           const std::map<std::string, double>& metrics) {
  std::vector<verdict> out;
  char buf[64];
  for (const auto& e : sc.expect) {
    verdict v;
    v.text = describe(e);
    if (!e.why.empty())
      v.text += " (" + e.why + ")";
    if (!e.metric.empty()) {
      auto i = metrics.find(e.metric);
      // A count nobody recorded (no errors of a class...) is zero.
      double value = i == metrics.end() ? 0.0 : i->second;
      std::snprintf(buf, sizeof(buf), "%.4g", value);
      v.actual = buf;
      v.pass = (!e.min || value >= *e.min) && (!e.max || value <= *e.max);
    } else {
      std::optional<timespan> first;
      for (const auto& b : rec.engine.breakers)
        if (b.deployment == e.breaker && b.to == e.to && !first)
          first = b.at;
      if (first) {
        std::snprintf(buf, sizeof(buf), "at %.0f ms", secs(*first) * 1000);
        v.actual = buf;
      } else {
        v.actual = "never";
      }
      v.pass = e.never ? !first : first && *first <= e.after + e.within;
    }
    out.push_back(std::move(v));
  }
  return out;
}

bool driver_was_late(const recorder& rec) {
  return rec.send_lateness.count() > 0
         && rec.send_lateness.quantile(0.99) > 1000;
}

json to_json(const run_info& info, const recorder& rec, const run_summary& sum,
             const std::vector<verdict>& verdicts) {
  auto m = metrics_of(rec, sum);
  json doc;
  doc["target"] = info.target;
  doc["mode"] = info.target_rate > 0 ? "open" : "closed";
  doc["target_rate"] = info.target_rate;
  doc["concurrency"] = info.concurrency;
  doc["arrivals"] = info.poisson ? "poisson" : "constant";
  doc["stream"] = info.stream;
  doc["warmup_s"] = secs(rec.warmup());
  doc["duration_s"] = secs(rec.duration());
  doc["achieved_rate"] = m["achieved_rate"];
  doc["sent"] = sum.sent;
  doc["requests"] = rec.requests;
  doc["ok"] = rec.ok;
  doc["answered"] = m["answered"];
  doc["unfinished"] = sum.unfinished;
  doc["errors"] = json(rec.errors);
  doc["latency_ms"] = percentiles(rec.latency);
  doc["latency_from"] = info.target_rate > 0 ? "scheduled" : "sent";
  doc["service_time_ms"] = percentiles(rec.service_time);
  doc["schedule_error_ms"] = percentiles(rec.send_lateness);
  doc["driver_bottleneck"] = driver_was_late(rec);
  doc["waited_for_connection"] = sum.waited_for_connection;
  doc["by_deployment"] = json(rec.by_deployment);
  if (rec.streams > 0)
    doc["stream_stats"] = {{"streams", rec.streams},
                           {"tokens", rec.tokens},
                           {"ttft_ms", percentiles(rec.ttft)},
                           {"inter_token_ms", percentiles(rec.token_gap)},
                           {"tokens_per_s",
                            {{"p50", rec.tokens_per_second.quantile(0.5)},
                             {"p10", rec.tokens_per_second.quantile(0.1)},
                             {"mean", rec.tokens_per_second.mean()}}}};
  doc["retries"] = rec.engine.retries;
  doc["retries_from_server"] = rec.engine.retries_from_server;
  doc["fallbacks"] = {{"total", rec.engine.fallbacks},
                      {"by_reason", json(rec.engine.fallbacks_by_reason)}};
  doc["hedges"]
      = {{"fired", rec.engine.hedges_fired}, {"won", rec.engine.hedges_won}};
  auto& br = doc["breaker_transitions"] = json::array();
  for (const auto& b : rec.engine.breakers)
    br.push_back({{"t_s", secs(b.at)},
                  {"deployment", b.deployment},
                  {"from", b.from},
                  {"to", b.to}});
  auto& tl = doc["timeline"] = json::array();
  for (size_t i = 0; i < rec.timeline.size(); ++i) {
    const auto& s = rec.timeline[i];
    tl.push_back({{"t", i},
                  {"warmup", std::chrono::seconds{i + 1} <= rec.warmup()},
                  {"requests", s.requests},
                  {"ok", s.ok},
                  {"errors", s.errors},
                  {"completed", s.completed},
                  {"latency_ms", percentiles(s.latency)},
                  {"by_deployment", json(s.by_deployment)},
                  {"errors_by_class", json(s.errors_by_class)}});
  }
  auto& hist = doc["latency_histogram"] = json::array();
  for (const auto& b : rec.latency.buckets())
    hist.push_back({ms(b.lo), ms(b.hi), b.count});
  if (info.scenario) {
    doc["scenario"] = {{"file", info.scenario->file},
                       {"description", info.scenario->description}};
    auto& ev = doc["scenario"]["events"] = json::array();
    for (const auto& e : info.scenario->events)
      ev.push_back({{"t_s", secs(e.at)}, {"label", e.label}});
    auto& ex = doc["expectations"] = json::array();
    for (const auto& v : verdicts)
      ex.push_back(
          {{"expect", v.text}, {"pass", v.pass}, {"actual", v.actual}});
  }
  return doc;
}

void print_summary(const json& doc) {
  auto num = [](const json& v) { return v.get<double>(); };
  std::printf("\n== switchyard-load: %s ==\n",
              doc["target"].get<std::string>().c_str());
  if (doc["mode"] == "open")
    std::printf(
        "rate         %.1f req/s achieved of %.1f target (%s arrivals)\n",
        num(doc["achieved_rate"]), num(doc["target_rate"]),
        doc["arrivals"].get<std::string>().c_str());
  else
    std::printf("rate         %.1f req/s at concurrency %zu\n",
                num(doc["achieved_rate"]), doc["concurrency"].get<size_t>());
  std::printf("requests     %llu measured, %llu ok (%.3f%%), %llu unfinished\n",
              doc["requests"].get<unsigned long long>(),
              doc["ok"].get<unsigned long long>(), 100 * num(doc["answered"]),
              doc["unfinished"].get<unsigned long long>());
  const auto& l = doc["latency_ms"];
  std::printf(
      "latency      p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f ms"
      " (from %s time)\n",
      num(l["p50"]), num(l["p90"]), num(l["p99"]), num(l["p999"]),
      num(l["max"]), doc["latency_from"].get<std::string>().c_str());
  if (doc.contains("stream_stats")) {
    const auto& s = doc["stream_stats"];
    std::printf("streams      ttft p50 %.1f p99 %.1f ms; inter-token p50 %.2f "
                "p99 %.2f ms; %.0f tokens/s (p50)\n",
                num(s["ttft_ms"]["p50"]), num(s["ttft_ms"]["p99"]),
                num(s["inter_token_ms"]["p50"]),
                num(s["inter_token_ms"]["p99"]), num(s["tokens_per_s"]["p50"]));
  }
  for (const auto& [cls, n] : doc["errors"].items())
    std::printf("error        %-16s %llu\n", cls.c_str(),
                n.get<unsigned long long>());
  for (const auto& [d, n] : doc["by_deployment"].items())
    std::printf("answered by  %-16s %llu\n", d.c_str(),
                n.get<unsigned long long>());
  std::printf("engine       %llu retries (%llu after Retry-After), %llu "
              "fallbacks, %llu hedges (%llu won)\n",
              doc["retries"].get<unsigned long long>(),
              doc["retries_from_server"].get<unsigned long long>(),
              doc["fallbacks"]["total"].get<unsigned long long>(),
              doc["hedges"]["fired"].get<unsigned long long>(),
              doc["hedges"]["won"].get<unsigned long long>());
  for (const auto& [why, n] : doc["fallbacks"]["by_reason"].items())
    std::printf("fallback     %-32s %llu\n", why.c_str(),
                n.get<unsigned long long>());
  for (const auto& b : doc["breaker_transitions"])
    std::printf("breaker      %7.3fs %s %s -> %s\n", num(b["t_s"]),
                b["deployment"].get<std::string>().c_str(),
                b["from"].get<std::string>().c_str(),
                b["to"].get<std::string>().c_str());
  const auto& se = doc["schedule_error_ms"];
  std::printf("driver       sends late by p50 %.3f p99 %.3f max %.3f ms\n",
              num(se["p50"]), num(se["p99"]), num(se["max"]));
  if (doc["driver_bottleneck"].get<bool>())
    std::printf("WARNING      the driver sent late (p99 > 1 ms): it, not the "
                "system under test, may have been the bottleneck\n");
  if (auto waited = doc.value("waited_for_connection", uint64_t{0}))
    std::printf("WARNING      %llu requests waited for a free connection "
                "(all --connections busy): the system under test fell "
                "behind, or --connections is low for its latency\n",
                static_cast<unsigned long long>(waited));
  if (doc.contains("expectations"))
    for (const auto& e : doc["expectations"])
      std::printf("%s  %s (got %s)\n", e["pass"].get<bool>() ? "PASS" : "FAIL",
                  e["expect"].get<std::string>().c_str(),
                  e["actual"].get<std::string>().c_str());
  std::fflush(stdout);
}

} // namespace switchyard::load
