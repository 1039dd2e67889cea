// switchyard-batch: runs a JSONL file of chat requests through the engine
// and writes every line's answer exactly once, even across kill -9 and
// --resume. Parse the command line and config, then run (or dry-run).

#include "journal.hpp"
#include "runner.hpp"

#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

using namespace switchyard;

namespace {

constexpr const char* description
    = R"(switchyard-batch: send every line of a JSONL file through the Switchyard engine
and write one output line per input line, exactly once.

Input: one request per line, in the OpenAI Batch API request format
  {"custom_id": "...", "method": "POST", "url": "/v1/chat/completions", "body": {...}}
or a plain chat request object (its custom_id is then "line-N"). body.model
names a route of the config unless --route is given. Blank lines are skipped.

Output: the OpenAI Batch API output format, one line per input line, in the
order the answers arrive:
  {"id", "custom_id", "response": {"status_code": 200, "request_id", "body"},
   "error": null, "switchyard": {...}}
or "response": null and "error": {"code", "message"} (the failure class and
reason; invalid_json, invalid_request, unknown_route or duplicate_custom_id for
a line that was never sent). "switchyard" holds the input line number, the
provider, deployment and model that answered, attempts, latency_ms,
fell_back, requeued and the attempt trail.

Exactly once: lines are handed to write(2) in groups of at most 64 lines or
every 50 ms, and fdatasync(2) runs at most once a second and at the end. A
kill -9 loses only answers not yet written; --resume with the same arguments
reads the output back (matching lines to input lines), cuts off a torn last
line and sends only what is missing. OUT.state, next to the output, records
the input's size and FNV-1a fingerprint: a resume against another input is
refused. SIGINT / SIGTERM stop starting lines, let calls in flight finish for
--grace seconds (then cancel them; they are not written), flush and print the
resume command (exit 130). A second signal cancels at once.

When the engine reports that no target can take a line right now (breakers
open, local rate limits, queues full), the line waits for the time the engine
names and is sent again, and no new line starts meanwhile; --concurrency is an
upper bound on lines in the engine.

Exit codes: 0 every line answered; 1 some lines failed or were invalid, or
--max-failures stopped the run; 2 bad arguments, config or input, or a refused
resume (nothing sent); 130 interrupted.)";

} // namespace

int main(int argc, char** argv) {
  batch::run_options opts;
  opts.argv.assign(argv, argv + argc);
  CLI::App app{description, "switchyard-batch"};
  app.get_formatter()->column_width(34);
  app.add_option("--config", opts.config, "engine configuration (JSON)")
      ->required();
  app.add_option("--input", opts.input, "input JSONL file, - for stdin")
      ->required();
  app.add_option("--output", opts.output,
                 "output JSONL file, - for stdout (not needed with "
                 "--dry-run)");
  app.add_option("--route", opts.route,
                 "send every line to this route (body.model is ignored)");
  app.add_option("--concurrency", opts.concurrency,
                 "most lines in the engine at once")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  app.add_flag("--resume", opts.resume,
               "finish the batch OUT already holds (same arguments)");
  app.add_flag("--dry-run", opts.dry_run,
               "check the config and every line, send nothing");
  app.add_option("--max-failures", opts.max_failures,
                 "stop after this many failed or invalid lines (0: never)")
      ->capture_default_str();
  double grace_s = 30;
  app.add_option("--grace", grace_s,
                 "seconds calls in flight may finish after SIGINT/SIGTERM")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  double requeue_s = 600;
  app.add_option("--requeue-limit", requeue_s,
                 "seconds a line may keep waiting for a free target before "
                 "it fails")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  double progress_s = 5;
  app.add_option("--progress-every", progress_s,
                 "seconds between progress lines when stderr is not a "
                 "terminal (a terminal gets a live bar)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--quiet", opts.quiet, "no progress and no summary");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& err) {
    auto rc = app.exit(err);
    return rc == 0 ? 0 : batch::exit_usage;
  }
  if (opts.output.empty() && !opts.dry_run) {
    std::cerr << "switchyard-batch: --output is required (except with "
                 "--dry-run)\n";
    return batch::exit_usage;
  }
  auto secs = [](double s) {
    return std::chrono::milliseconds{static_cast<int64_t>(s * 1000)};
  };
  opts.grace = secs(grace_s);
  opts.requeue_limit = secs(requeue_s);
  opts.progress_every = secs(progress_s);
  auto cfg = load_config_file(opts.config);
  if (!cfg) {
    std::cerr << "switchyard-batch: bad config " << opts.config << ":\n"
              << to_string(cfg.error()) << '\n';
    return batch::exit_usage;
  }
  if (!opts.route.empty() && cfg->find_route(opts.route) == nullptr) {
    std::cerr << "switchyard-batch: --route " << opts.route
              << ": no such route in " << opts.config << '\n';
    return batch::exit_usage;
  }
  if (opts.dry_run)
    return batch::dry_run(opts, *cfg);
  return batch::run_batch(opts, std::move(*cfg));
}
