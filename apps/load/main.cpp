// switchyard-load: drives the embedded engine, or any OpenAI-compatible URL,
// at a known rate (open loop, latency from each request's scheduled time) or
// concurrency (closed loop), optionally while mock providers play a fault
// scenario; prints live progress and a summary, writes JSON and a
// self-contained HTML report. Exit 0: run completed and expectations held;
// 1: an expectation failed; 2: bad arguments or configuration.
#include "chartjs.hpp"
#include "driver.hpp"
#include "mock_fleet.hpp"
#include "report.hpp"
#include "scenario.hpp"
#include "target.hpp"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <curl/curl.h>

namespace {

using namespace switchyard;
using namespace switchyard::load;

std::atomic<bool> interrupted{false};

extern "C" void on_signal(int) {
  interrupted = true;
}

struct options {
  std::string config;
  double rate = 0;
  size_t concurrency = 0;
  std::string duration;
  std::string warmup;
  std::string drain = "30s";
  std::string timeout = "60s";
  size_t connections = default_http_connections;
  /// The options that only --target requests use, as given on the command
  /// line (an error when the run drives the embedded engine).
  std::vector<std::string> http_only;
  bool stream = false;
  bool poisson = false;
  std::string prompts;
  std::string target;
  std::string model = "gpt-4o-mini";
  std::string route;
  std::string scenario;
  std::string report;
  std::string json;
  uint64_t seed = 1;
  bool quiet = false;
  std::string mock;
};

/// The scenario's temporary directory of mock scenario files, if any.
std::string tmp_dir;

/// Removes the mock scenario files and their directory.
void remove_tmp_dir() {
  if (tmp_dir.empty())
    return;
  std::error_code ec;
  std::filesystem::remove_all(tmp_dir, ec);
  tmp_dir.clear();
}

/// Exits with 2 after printing one line. Mocks already started die with
/// this process (PR_SET_PDEATHSIG).
[[noreturn]] void fail(const std::string& msg) {
  std::cerr << "switchyard-load: " << msg << '\n';
  remove_tmp_dir();
  std::exit(2);
}

timespan duration_or_fail(const std::string& text, const char* what) {
  auto d = parse_duration(text);
  if (!d)
    fail(std::string{what} + ": expected a duration such as 6s, 500ms or 2m, "
         + "got \"" + text + "\"");
  return *d;
}

int parse(int argc, char** argv, options& o) {
  CLI::App app{"switchyard-load: drives the Switchyard engine (or any "
               "OpenAI-compatible URL) at a known rate and reports what "
               "callers saw"};
  app.add_option("--config", o.config,
                 "engine configuration (JSON); not needed with --target or "
                 "a scenario that brings its own")
      ->check(CLI::ExistingFile);
  auto* rate = app.add_option("--rate", o.rate,
                              "open loop: requests per second, each "
                              "scheduled in advance; latency counts from the "
                              "scheduled time")
                   ->check(CLI::PositiveNumber);
  auto* conc = app.add_option("--concurrency", o.concurrency,
                              "closed loop: requests in flight")
                   ->check(CLI::Range(1, 100000));
  rate->excludes(conc);
  app.add_option("--duration", o.duration,
                 "measured time after the warmup: 6s, 500ms, 2m");
  app.add_option("--warmup", o.warmup,
                 "load before the measured window (not counted); default 0");
  app.add_option("--drain", o.drain,
                 "wait this long for running requests at the end; the rest "
                 "count as 'unfinished' (default 30s)");
  app.add_option("--timeout", o.timeout,
                 "per-request timeout of --target requests (default 60s)");
  app.add_option("--connections", o.connections,
                 "most connections to --target (one request each; more wait "
                 "for a free one, their latency counted from their scheduled "
                 "time); default "
                     + std::to_string(default_http_connections))
      ->check(CLI::Range(size_t{1}, size_t{65536}));
  app.add_flag("--stream", o.stream,
               "streamed calls: adds time to first token, inter-token gaps, "
               "tokens/s");
  app.add_flag("--poisson", o.poisson,
               "open loop: Poisson arrivals instead of evenly spaced ones");
  app.add_option("--prompts", o.prompts,
                 "file with one prompt per line (used round-robin)")
      ->check(CLI::ExistingFile);
  app.add_option("--target", o.target,
                 "drive this OpenAI-compatible base URL (e.g. "
                 "http://127.0.0.1:8080/v1) instead of the embedded engine");
  app.add_option("--model", o.model, "model named in --target requests");
  app.add_option("--route", o.route, "engine route (default: the config's)");
  app.add_option("--scenario", o.scenario,
                 "chaos scenario: starts its mock providers, points the "
                 "engine at them, runs, checks its expectations")
      ->check(CLI::ExistingFile);
  app.add_option("--report", o.report, "write a self-contained HTML report");
  app.add_option("--json", o.json, "write the numbers as JSON");
  app.add_option("--seed", o.seed, "seed of arrivals, mocks and the engine");
  app.add_flag("--quiet", o.quiet, "no live progress");
  app.add_option("--mock", o.mock,
                 "switchyard-mock program (default: next to this one)");
  app.footer("Exit codes: 0 the run completed (and a scenario's expectations "
             "held), 1 an expectation failed, 2 bad arguments or "
             "configuration. See README.md, \"Load driver\".");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    auto rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  for (const char* name : {"--connections", "--timeout", "--model"})
    if (app.count(name) > 0)
      o.http_only.emplace_back(name);
  if (o.mock.empty())
    o.mock = demo::program_dir() + "/switchyard-mock";
  return -1;
}

std::vector<std::string> read_prompts(const std::string& file) {
  if (file.empty())
    return {"Say hello.",           "What is a circuit breaker?",
            "Name three rivers.",   "Summarise the plot of Hamlet.",
            "Why is the sky blue?", "Write a haiku about load tests."};
  std::ifstream in{file};
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty())
      out.push_back(line);
  if (out.empty())
    fail(file + ": no prompts (one per line)");
  return out;
}

std::string chart_js() {
  auto text = read_chart_js();
  if (!text)
    fail("--report needs Chart.js at " + chart_js_path()
         + " (apt-get install libjs-chart.js, or set SWITCHYARD_CHARTJS)");
  return *text;
}

/// Starts the scenario's mocks; their ports go to MOCK_<NAME>_PORT.
void start_mocks(demo::mock_fleet& fleet, const load_scenario& sc,
                 const std::string& dir, uint64_t seed) {
  for (const auto& m : sc.mocks) {
    auto file = dir + "/" + m.name + ".json";
    std::ofstream{file} << m.scenario.dump(2);
    auto port = fleet.start(m.name, file, seed);
    if (!port)
      fail(sc.file + ": mock " + m.name + ": " + port.error());
    setenv(m.env.c_str(), std::to_string(*port).c_str(), 1);
  }
}

} // namespace

int main(int argc, char** argv) {
  options o;
  if (auto rc = parse(argc, argv, o); rc >= 0)
    return rc;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);

  // The scenario, then the command line over it.
  std::optional<load_scenario> sc;
  if (!o.scenario.empty()) {
    auto read = read_scenario(o.scenario);
    if (!read)
      fail(read.error());
    sc = std::move(*read);
  }
  load_plan plan;
  plan.rate
      = o.rate > 0 ? o.rate : (sc && !o.concurrency ? sc->rate.value_or(0) : 0);
  plan.concurrency
      = o.concurrency > 0
            ? o.concurrency
            : (sc && plan.rate == 0 ? sc->concurrency.value_or(0) : 0);
  if (plan.rate <= 0 && plan.concurrency == 0)
    fail("give --rate R or --concurrency C");
  if (!o.duration.empty())
    plan.duration = duration_or_fail(o.duration, "--duration");
  else if (sc && sc->duration)
    plan.duration = *sc->duration;
  else
    fail("give --duration D (e.g. 10s)");
  if (plan.duration <= timespan{})
    fail("--duration must be positive");
  if (!o.warmup.empty())
    plan.warmup = duration_or_fail(o.warmup, "--warmup");
  else if (sc && sc->warmup)
    plan.warmup = *sc->warmup;
  plan.drain = duration_or_fail(o.drain, "--drain");
  auto timeout = duration_or_fail(o.timeout, "--timeout");
  bool stream = o.stream || (sc && sc->stream.value_or(false));
  plan.poisson = o.poisson || (sc && sc->poisson.value_or(false));
  plan.seed = o.seed;
  plan.prompts = read_prompts(o.prompts);
  plan.live = !o.quiet;
  plan.tty = isatty(STDOUT_FILENO) != 0;
  std::string js = o.report.empty() ? std::string{} : chart_js();
  std::string target_url = o.target;
  if (target_url.empty() && sc && !sc->target.empty())
    target_url = sc->target;
  if (target_url.empty() && o.config.empty() && !(sc && !sc->engine.is_null()))
    fail("give --config FILE (the engine's configuration) or --target URL");
  if (target_url.empty() && !o.http_only.empty())
    fail(o.http_only.front()
         + " applies to --target requests only; the embedded engine takes "
           "its connections, timeouts and models from its config");

  // Mocks, then the system under test on top of them.
  demo::mock_fleet fleet{o.mock};
  if (sc && !sc->mocks.empty()) {
    char tmpl[] = "/tmp/switchyard-load-XXXXXX";
    if (!mkdtemp(tmpl))
      fail("cannot create a temporary directory");
    tmp_dir = tmpl;
    start_mocks(fleet, *sc, tmp_dir, o.seed);
  }
  auto rec = std::make_shared<recorder>(clock_type::now(), plan.warmup,
                                        plan.duration);
  std::unique_ptr<engine> eng;
  std::unique_ptr<target> tgt;
  run_info info;
  if (!target_url.empty()) {
    target_url = expand_env(target_url);
    tgt = make_http_target(target_url, o.model, stream, timeout, o.connections);
    info.target = target_url;
  } else {
#ifdef SWITCHYARD_LOAD_ENGINE
    engine_options eopts;
    eopts.events = rec;
    eopts.seed = o.seed;
    auto created = o.config.empty()
                       ? engine::from_json(sc->engine.dump(), std::move(eopts))
                       : engine::from_file(o.config, std::move(eopts));
    if (!created)
      fail((o.config.empty() ? sc->file : o.config) + ":\n" + created.error());
    eng = std::move(*created);
    auto route = !o.route.empty() ? o.route : sc ? sc->route : std::string{};
    if (const auto* r = eng->config().find_route(
            route.empty() ? eng->config().default_route : route))
      for (const auto& t : r->targets)
        plan.deployments.push_back(t.deployment);
    tgt = make_engine_target(*eng, stream, route);
    info.target = "engine (" + (o.config.empty() ? sc->file : o.config) + ")";
#else
    fail("this switchyard-load was built without the embedded engine "
         "(SWITCHYARD_LOAD_ENGINE=OFF): give --target URL");
#endif
  }
  info.target_rate = plan.rate;
  info.concurrency = plan.concurrency;
  info.stream = stream;
  info.poisson = plan.poisson;
  info.scenario = sc ? &*sc : nullptr;

  // The run: mock timelines restart now, so scenario times match ours.
  for (const auto& m : fleet.processes())
    if (auto body = demo::read_file(m.scenario_file))
      if (!demo::http_exchange(m.port, "POST", "/mock/scenario", *body))
        fail("could not restart the timeline of mock " + m.name);
  rec->restart(clock_type::now() + std::chrono::milliseconds{20});
  if (!o.quiet && sc)
    std::printf("scenario %s: %s\n", sc->file.c_str(), sc->description.c_str());
  auto sum = run_load(*tgt, *rec, plan, interrupted);
  tgt->stop();
  sum.waited_for_connection = tgt->waited_for_connection();
  tgt.reset();
  eng.reset();
  fleet.stop_all();
  remove_tmp_dir();

  // Report.
  auto metrics = metrics_of(*rec, sum);
  std::vector<verdict> verdicts;
  if (sc)
    verdicts = check(*sc, *rec, metrics);
  auto doc = to_json(info, *rec, sum, verdicts);
  print_summary(doc);
  if (!o.json.empty()) {
    std::ofstream out{o.json};
    out << doc.dump(2) << '\n';
    if (!out)
      fail(o.json + ": cannot write");
  }
  if (!o.report.empty())
    if (auto err = write_html(o.report, doc, js); !err.empty())
      fail(err);
  if (sum.interrupted)
    return 130;
  for (const auto& v : verdicts)
    if (!v.pass)
      return 1;
  return 0;
}
