#pragma once

// What a batch run counts, its live progress on stderr and its summary.

#include "switchyard/config.hpp"
#include "switchyard/engine.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>

namespace switchyard::batch {

/// Latencies in log-spaced buckets (2 % apart, 1 ms to ~3 h): percentiles
/// within 2 % without keeping one value per line.
class latency_histogram {
public:
  void add(std::chrono::milliseconds ms);

  /// The q-quantile (0..1) in ms; 0 when empty.
  double quantile(double q) const;

  uint64_t count() const noexcept {
    return count_;
  }

private:
  static constexpr size_t bucket_count = 800;
  std::array<uint64_t, bucket_count> buckets_{};
  uint64_t count_ = 0;
};

/// Counters of one run (this process only) plus what a resume found done.
struct batch_stats {
  /// Lines with output from an earlier run, and how many were errors.
  uint64_t resumed = 0;
  uint64_t resumed_errors = 0;
  /// Non-blank input lines when known (0 for standard input).
  uint64_t total = 0;
  uint64_t ok = 0;
  /// Lines whose call failed, by failure class.
  std::map<std::string, uint64_t> failed;
  /// Lines never sent, by problem code (invalid_json, duplicate_custom_id...).
  std::map<std::string, uint64_t> invalid;
  uint64_t fell_back = 0;
  /// Attempts on the same deployment after a failure.
  uint64_t retries = 0;
  /// Attempts that moved on to another deployment.
  uint64_t fallbacks = 0;
  /// Lines sent again because no target could take them then.
  uint64_t requeues = 0;
  /// Answers per provider and per deployment.
  std::map<std::string, uint64_t> by_provider;
  std::map<std::string, uint64_t> by_deployment;
  int64_t tokens_in = 0;
  int64_t tokens_out = 0;
  /// Cost of the answers, from the deployments' prices.
  double cost = 0;
  latency_histogram latency;

  uint64_t done() const noexcept;
  uint64_t failures() const noexcept;

  /// Counts an answered line (tokens, cost, trail).
  void add_answer(const chat_response& resp, std::chrono::milliseconds took,
                  bool fell_back, const engine_config& cfg);

  /// Counts a failed call.
  void add_failure(const call_error& err, std::chrono::milliseconds took);

  /// Counts a line never sent.
  void add_invalid(const std::string& code);

private:
  void add_trail(const std::vector<attempt_record>& trail);
};

/// Live progress on stderr: a bar redrawn in place on a terminal, a plain
/// line every `interval` otherwise.
class progress_display {
public:
  progress_display(bool tty, std::chrono::milliseconds interval, bool quiet);

  /// Redraws when due.
  void tick(const batch_stats& st, uint64_t in_flight,
            std::chrono::steady_clock::time_point now);

  /// Clears the bar (before other output).
  void clear();

private:
  std::string line(const batch_stats& st, uint64_t in_flight,
                   std::chrono::steady_clock::time_point now) const;

  bool tty_;
  bool quiet_;
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_{};
  bool drawn_ = false;
};

/// Writes the end-of-run summary.
void print_summary(std::ostream& out, const batch_stats& st,
                   std::chrono::steady_clock::duration wall, bool priced);

} // namespace switchyard::batch
