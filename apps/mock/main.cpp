// switchyard-mock: serves the providers' wire formats on 127.0.0.1 with
// deterministic answers and injected faults. See README.md.
#include "engine.hpp"
#include "scenario.hpp"
#include "server.hpp"

#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

namespace {

/// Command line of the mock.
struct options {
  uint16_t port = 0;
  std::string scenario_file;
  uint64_t seed = 1;
  int threads = 1;
};

} // namespace

int main(int argc, char** argv) {
  using namespace switchyard::mock;
  options opts;
  CLI::App app{"switchyard-mock: a fault-injecting fake LLM provider"};
  app.add_option("--port", opts.port, "TCP port on 127.0.0.1 (0: any free)");
  app.add_option("--scenario", opts.scenario_file,
                 "scenario JSON file (faults, timelines, listener schedule)");
  app.add_option("--seed", opts.seed, "seed of answers and random faults");
  app.add_option("--threads", opts.threads, "I/O threads")
      ->check(CLI::Range(1, 64));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "switchyard-mock: " << e.what() << '\n';
    return 2;
  }
  scenario sc;
  if (!opts.scenario_file.empty()) {
    auto loaded = load_scenario_file(opts.scenario_file);
    if (!loaded) {
      std::cerr << "switchyard-mock: bad scenario: " << loaded.error() << '\n';
      return 2;
    }
    sc = std::move(*loaded);
  }
  mock_engine engine{opts.seed, std::move(sc)};
  try {
    http_server server{{opts.port, opts.threads}, engine};
    std::printf("listening on 127.0.0.1:%u\n",
                static_cast<unsigned>(server.port()));
    std::fflush(stdout);
    server.run();
  } catch (const std::exception& e) {
    std::cerr << "switchyard-mock: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
