// switchyard-demo: three fault-injecting mock providers, one engine, a few
// hundred calls through an outage and one stream that breaks mid-answer;
// prints what the engine did, live, and a summary. Exit code 0 only when
// every call was answered and the stream was continued seamlessly.
#include "live_log.hpp"
#include "mock_fleet.hpp"
#include "report.hpp"
#include "stream_act.hpp"
#include "switchyard/engine.hpp"
#include "traffic.hpp"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>
#include <curl/curl.h>

namespace {

using namespace switchyard;
using namespace switchyard::demo;

/// Set by SIGINT / SIGTERM: stop sending, shut down in order.
std::atomic<bool> interrupted{false};

extern "C" void on_signal(int) {
  interrupted = true;
}

/// Command line of the demo.
struct options {
  size_t requests = 300;
  size_t concurrency = 8;
  double seconds = 15;
  bool quiet = false;
  std::string config = SWITCHYARD_SOURCE_DIR "/configs/demo.json";
  std::string scenario_dir = SWITCHYARD_SOURCE_DIR "/configs";
  std::string mock;
  uint64_t seed = 7;
};

/// The demo's mock providers: name, scenario file, environment variable.
struct mock_spec {
  const char* name;
  const char* scenario;
  const char* env;
  const char* plot;
};

constexpr mock_spec mocks[] = {
    {"primary", "demo-primary.json", "MOCK_PRIMARY_PORT",
     "OpenAI format; 429s with Retry-After; 503s from 3.0 s, refused "
     "connections from 4.5 s, healthy again at 8.5 s"},
    {"secondary", "demo-secondary.json", "MOCK_SECONDARY_PORT",
     "Anthropic format; slower; 3 % 500s, 3 % 529 overloaded"},
    {"local", "demo-local.json", "MOCK_LOCAL_PORT",
     "OpenAI-compatible local model; healthy, fast"},
};

int parse(int argc, char** argv, options& opts) {
  CLI::App app{"switchyard-demo: an engine keeps answering through a "
               "provider outage (mock providers on 127.0.0.1)"};
  app.add_option("--requests", opts.requests, "calls to make")
      ->check(CLI::Range(1, 100000));
  app.add_option("--concurrency", opts.concurrency, "calls in flight at most")
      ->check(CLI::Range(1, 4096));
  app.add_option("--seconds", opts.seconds, "spread the calls over this time")
      ->check(CLI::Range(0.0, 600.0));
  app.add_flag("--quiet", opts.quiet, "print only the summary");
  app.add_option("--config", opts.config, "engine configuration")
      ->check(CLI::ExistingFile);
  app.add_option("--scenario-dir", opts.scenario_dir,
                 "directory of demo-{primary,secondary,local}.json")
      ->check(CLI::ExistingDirectory);
  app.add_option("--mock", opts.mock,
                 "switchyard-mock program (default: next to this one)");
  app.add_option("--seed", opts.seed, "seed of the mocks and the engine");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (opts.mock.empty())
    opts.mock = program_dir() + "/switchyard-mock";
  return -1;
}

/// Starts the mocks and exports their ports for the configuration.
bool start_mocks(mock_fleet& fleet, const options& opts) {
  for (const auto& m : mocks) {
    auto file = opts.scenario_dir + "/" + m.scenario;
    auto port = fleet.start(m.name, file, opts.seed);
    if (!port) {
      std::cerr << "switchyard-demo: " << port.error() << '\n';
      return false;
    }
    setenv(m.env, std::to_string(*port).c_str(), 1);
    if (!opts.quiet)
      std::printf("mock %-9s 127.0.0.1:%-5u pid %-7d %s\n", m.name,
                  static_cast<unsigned>(*port),
                  static_cast<int>(fleet.processes().back().pid), m.plot);
  }
  return true;
}

/// Posts each mock's scenario again, so its timeline starts now.
void restart_timelines(const mock_fleet& fleet) {
  for (const auto& m : fleet.processes())
    if (auto body = read_file(m.scenario_file))
      if (!http_exchange(m.port, "POST", "/mock/scenario", *body))
        std::cerr << "switchyard-demo: could not restart the timeline of "
                  << m.name << '\n';
}

std::vector<std::string> route_deployments(const engine& eng) {
  std::vector<std::string> out;
  if (const auto* r = eng.config().find_route(eng.config().default_route))
    for (const auto& t : r->targets)
      out.push_back(t.deployment);
  return out;
}

} // namespace

int main(int argc, char** argv) {
  options opts;
  if (auto rc = parse(argc, argv, opts); rc >= 0)
    return rc;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);

  // Mock providers, then the engine on top of them.
  mock_fleet fleet{opts.mock};
  if (!start_mocks(fleet, opts))
    return 2;
  auto log = std::make_shared<live_log>(clock_type::now());
  engine_options eopts;
  eopts.events = log;
  eopts.seed = opts.seed;
  auto created = engine::from_file(opts.config, std::move(eopts));
  if (!created) {
    std::cerr << "switchyard-demo: " << opts.config << ":\n"
              << created.error() << '\n';
    return 2;
  }
  std::unique_ptr<engine> eng = std::move(*created);

  // The run: paced calls, live events.
  traffic_options topts;
  topts.requests = opts.requests;
  topts.concurrency = opts.concurrency;
  topts.spread = std::chrono::duration_cast<timespan>(
      std::chrono::duration<double>(opts.seconds));
  topts.live = !opts.quiet;
  topts.deployments = route_deployments(*eng);
  if (!opts.quiet)
    std::printf("\n%zu calls over %.0f s, at most %zu in flight, route \"%s\" "
                "(%s)\n\n",
                opts.requests, opts.seconds, opts.concurrency,
                eng->config().default_route.c_str(), opts.config.c_str());
  restart_timelines(fleet);
  log->reset_clock(clock_type::now());
  auto traffic = run_traffic(*eng, topts, *log, interrupted);
  bool streamed = !traffic.interrupted && run_stream_act(*eng, opts.quiet);

  // Report: the engine's and the mocks' view, then stop everything.
  run_report report;
  report.traffic = &traffic;
  report.status = eng->status().deployments;
  report.deployments = topts.deployments;
  for (const auto& m : fleet.processes())
    report.mock_stats.emplace_back(
        m.name, http_exchange(m.port, "GET", "/mock/stats").value_or(""));
  eng->shutdown(std::chrono::seconds{2});
  report.events = log->counts();
  eng.reset();
  fleet.stop_all();
  print_report(report);
  if (traffic.interrupted)
    return 130;
  if (!streamed)
    std::printf("streaming: the failover stream did not complete as "
                "expected\n");
  return all_answered(traffic) && streamed ? 0 : 1;
}
