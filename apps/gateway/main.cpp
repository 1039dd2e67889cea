// switchyard-gateway: an OpenAI- and Anthropic-compatible HTTP gateway on the
// embedded engine. See configs/README.md (section "gateway").
#include "calls.hpp"
#include "chartjs.hpp"
#include "observe.hpp"
#include "server.hpp"
#include "service.hpp"
#include "settings.hpp"
#include "switchyard/engine.hpp"
#include "switchyard/event_log.hpp"
#include "switchyard/metrics.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>

namespace {

using namespace switchyard;
using namespace switchyard::gateway;

/// Command line of the gateway.
struct options {
  std::string config_file;
  std::string listen;
  int threads = 0;
  bool allow_unauthenticated = false;
};

int fail(const std::string& msg, int code = 2) {
  std::cerr << "switchyard-gateway: " << msg << '\n';
  return code;
}

} // namespace

int main(int argc, char** argv) {
  options opts;
  CLI::App app{"switchyard-gateway: OpenAI- and Anthropic-compatible gateway"};
  app.add_option("--config", opts.config_file,
                 "engine JSON config with an optional `gateway` section")
      ->required();
  app.add_option("--listen", opts.listen,
                 "HOST:PORT (overrides gateway.listen; port 0: any free)");
  app.add_option("--threads", opts.threads, "I/O threads (default: cores)")
      ->check(CLI::Range(1, 256));
  app.add_flag("--allow-unauthenticated", opts.allow_unauthenticated,
               "serve without keys on a non-loopback address");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(e.what());
  }
  std::ifstream in{opts.config_file, std::ios::binary};
  if (!in)
    return fail(opts.config_file + ": cannot read the file");
  std::stringstream text;
  text << in.rdbuf();
  auto file = parse_gateway_file(text.str());
  if (!file)
    return fail(opts.config_file + ":\n" + file.error());
  auto& settings = file->settings;
  std::string listen = !opts.listen.empty()       ? opts.listen
                       : !settings.listen.empty() ? settings.listen
                                                  : "127.0.0.1:8080";
  auto addr = parse_listen(listen);
  if (!addr)
    return fail("--listen: " + addr.error());
  if (settings.keys.empty() && !is_loopback(addr->host)
      && !opts.allow_unauthenticated)
    return fail("refusing to listen on " + listen
                + " without authentication: configure gateway.keys, listen "
                  "on a loopback address, or pass --allow-unauthenticated");
  auto tracker = std::make_shared<attempt_tracker>();
  observability obs;
  obs.metrics = std::make_shared<metric_registry>();
  obs.events = std::make_shared<event_ring>();
  // Without Chart.js the dashboard still works, without its chart.
  obs.dashboard = dashboard_page(read_chart_js().value_or(std::string{}));
  engine_options eng_opts;
  eng_opts.events = std::make_shared<fanout_sink>(
      std::vector<std::shared_ptr<event_sink>>{tracker, obs.events});
  eng_opts.metrics = obs.metrics;
  auto parsed = parse_config(file->engine_json);
  if (!parsed)
    return fail(opts.config_file + ":\n" + to_string(parsed.error()));
  // The gateway opens the log itself so that `config_loaded` follows the
  // `listening on` line (the first line of stdout, where the log may go).
  auto loaded = describe_config(*parsed);
  std::shared_ptr<log_sink> log;
  if (parsed->log.enabled) {
    auto opened = log_sink::open(parsed->log);
    if (!opened)
      return fail(opts.config_file + ":\n" + opened.error());
    log = eng_opts.log = *opened;
  }
  auto eng = engine::create(std::move(*parsed), eng_opts);
  if (!eng)
    return fail(opts.config_file + ":\n" + eng.error());
  auto grace = settings.drain_grace;
  server_options srv_opts;
  srv_opts.host = addr->host;
  srv_opts.port = addr->port;
  srv_opts.threads = opts.threads > 0
                         ? opts.threads
                         : std::max(1u, std::thread::hardware_concurrency());
  srv_opts.limits = settings.limits;
  service svc{**eng, tracker, std::move(settings), std::move(obs)};
  std::unique_ptr<http_server> server;
  try {
    server = std::make_unique<http_server>(srv_opts, svc);
  } catch (const std::exception& e) {
    return fail("cannot listen on " + listen + ": " + e.what(), 1);
  }
  std::printf("listening on %s:%u\n", addr->host.c_str(),
              static_cast<unsigned>(server->port()));
  std::fflush(stdout);
  if (log)
    log->note(log_level::info, "config_loaded", loaded);
  std::thread drainer;
  server->run([&] {
    // Stop taking work, let what runs finish within the grace period, cancel
    // the rest (each gets its error answer), then stop serving.
    svc.begin_drain();
    server->stop_accepting();
    drainer = std::thread{[&] {
      (*eng)->shutdown(grace);
      auto until = std::chrono::steady_clock::now() + std::chrono::seconds{2};
      while (server->open_exchanges() > 0
             && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds{5});
      server->stop();
    }};
  });
  if (drainer.joinable())
    drainer.join();
  (*eng)->shutdown(std::chrono::seconds{0});
  return 0;
}
