#pragma once

// The output file as a journal: lines are appended in small groups, a
// sidecar state file ties it to its input, and a resume reads it back.
//
// Durability: rendered lines are handed to write(2) in groups of at most
// `group_lines` lines or every `group_ms` milliseconds, whichever comes
// first; fdatasync(2) runs at most once per `sync_ms` and at the end. A
// kill -9 therefore loses only answers not yet handed to write(2) (they are
// sent again on resume); a machine crash loses at most the last `sync_ms`
// of answers. A write cut short by the kill leaves a torn last line, which
// a resume detects and cuts off.

#include "input.hpp"
#include "switchyard/expected.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace switchyard::batch {

/// What ties an output to its input: stored in `OUT.state` next to it.
struct journal_state {
  std::string input;
  input_fingerprint fingerprint;
};

/// What a resume found in an existing output.
struct resume_scan {
  /// Output lines read back (every one names its input line).
  uint64_t lines = 0;
  /// Of them, error lines.
  uint64_t errors = 0;
  /// Bytes of a torn last line that were cut off (0 when none).
  uint64_t torn_bytes = 0;
};

/// The batch output, append-only.
class journal {
public:
  static constexpr size_t group_lines = 64;
  static constexpr std::chrono::milliseconds group_ms{50};
  static constexpr std::chrono::milliseconds sync_ms{1000};

  journal() = default;
  ~journal();
  journal(const journal&) = delete;
  journal& operator=(const journal&) = delete;

  /// The sidecar file of `output`.
  static std::string state_path(const std::string& output);

  /// Starts a new output (or standard output for `-`): refuses a non-empty
  /// existing file, writes the state file first.
  expected<bool, std::string> create(const std::string& output,
                                     const journal_state& st);

  /// Reopens an output for `--resume`: refuses when the state file names
  /// another input, reads every line back (marking its input line done in
  /// `done`), cuts off a torn last line. With no output and no state yet
  /// (killed before anything was written) it starts afresh.
  expected<resume_scan, std::string> resume(const std::string& output,
                                            const journal_state& st,
                                            std::vector<bool>& done);

  /// Queues one rendered line (without newline); writes when a group is
  /// full.
  void append(std::string_view line);

  /// Writes the queued group if it is due (full or old enough), and syncs if
  /// a sync is due.
  void tick(std::chrono::steady_clock::time_point now);

  /// Writes everything queued and syncs to disk.
  void finish();

  /// Set after a write failed (disk full...): the message.
  const std::string& write_error() const noexcept {
    return error_;
  }

private:
  void write_group();
  void sync();

  int fd_ = -1;
  bool owned_ = false;
  std::string pending_;
  size_t pending_lines_ = 0;
  std::chrono::steady_clock::time_point first_pending_{};
  std::chrono::steady_clock::time_point last_sync_{};
  bool dirty_ = false;
  std::string error_;
};

} // namespace switchyard::batch
