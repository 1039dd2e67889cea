#pragma once

// The batch run: streams the input, keeps at most `concurrency` lines in the
// engine, appends each outcome to the journal exactly once, and stops
// cleanly on SIGINT / SIGTERM or after too many failures.

#include "switchyard/config.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace switchyard::batch {

/// Exit codes.
inline constexpr int exit_all_answered = 0;
inline constexpr int exit_some_failed = 1;
inline constexpr int exit_usage = 2;
inline constexpr int exit_interrupted = 130;

/// Everything the command line says.
struct run_options {
  std::string config;
  std::string input;
  std::string output;
  std::string route;
  size_t concurrency = 64;
  bool resume = false;
  bool dry_run = false;
  /// Stop after this many failed lines (0: never).
  uint64_t max_failures = 0;
  /// How long in-flight calls may finish after SIGINT / SIGTERM.
  std::chrono::milliseconds grace{30000};
  /// A line that no target could take is sent again for at most this long.
  std::chrono::milliseconds requeue_limit{600000};
  /// Plain progress lines (not on a terminal) this often.
  std::chrono::milliseconds progress_every{5000};
  bool quiet = false;
  /// The command line as given, for the resume command.
  std::vector<std::string> argv;
};

/// Runs the batch; returns the exit code.
int run_batch(const run_options& opts, engine_config cfg);

/// Checks every input line without sending anything; prints counts per
/// route and the first problems. Exit 0 when every line is valid, 1 when
/// some are not, 2 when the input cannot be read.
int dry_run(const run_options& opts, const engine_config& cfg);

/// The command that resumes this run (`--resume` added when missing), each
/// argument quoted for a POSIX shell where needed.
std::string resume_command(const std::vector<std::string>& argv);

} // namespace switchyard::batch
