#pragma once

#include "switchyard/expected.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace switchyard::test {

/// Extra environment variables for a child, added to (or replacing entries
/// of) the test's own environment.
using env_list = std::vector<std::pair<std::string, std::string>>;

/// A program started by a test: stdout is piped to the test, stderr goes to a
/// temporary file that `stderr_text` reads. Stopped by PID, never by name.
class child_process {
public:
  // -- constructors, destructors, and assignment operators -------------------

  child_process() = default;
  child_process(child_process&& other) noexcept;
  child_process& operator=(child_process&& other) noexcept;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// Stops the child (SIGTERM, then SIGKILL after 5 s) if still running.
  ~child_process();

  /// Starts `argv[0]` with arguments `argv[1..]`; fails with a message when
  /// the program cannot be executed.
  static expected<child_process> start(std::vector<std::string> argv,
                                       const env_list& env_extras = {});

  // -- properties ------------------------------------------------------------

  /// The child's process ID, or -1 when none runs.
  pid_t pid() const noexcept {
    return pid_;
  }

  /// True until the child was reaped by `stop` or `wait`.
  bool running() const noexcept {
    return pid_ > 0;
  }

  // -- interaction -----------------------------------------------------------

  /// Reads one line of stdout (without the newline); nullopt on timeout or
  /// when stdout closed before a full line.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);

  /// Waits up to `timeout` for the child to exit by itself and returns its
  /// exit status (128 + signal number when a signal killed it).
  std::optional<int> wait(std::chrono::milliseconds timeout);

  /// Sends SIGTERM, waits up to `grace`, then SIGKILL; returns the exit
  /// status as `wait` does (the cached status if already reaped).
  int stop(std::chrono::milliseconds grace = std::chrono::seconds{5});

  /// Everything the child wrote to stderr so far.
  std::string stderr_text() const;

private:
  void release() noexcept;

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string stderr_path_;
  std::string buffer_; // stdout bytes read past the last returned line
  int status_ = -1;    // exit status once reaped
};

/// Returns SWITCHYARD_BINARY_DIR "/bin/" + name: where programs are built.
std::string binary_path(std::string_view name);

/// Returns SWITCHYARD_SOURCE_DIR "/" + relative.
std::string source_path(std::string_view relative);

/// A running switchyard-mock on 127.0.0.1.
struct mock_server {
  child_process proc;
  uint16_t port = 0;

  /// "http://127.0.0.1:PORT".
  std::string base_url() const;
};

/// Starts bin/switchyard-mock --port 0 plus `extra_args`, reads its
/// `listening on 127.0.0.1:PORT` line within 10 s; fails the test if not.
mock_server start_mock(std::vector<std::string> extra_args = {});

/// Waits for a condition instead of sleeping: polls `pred` every 10 ms until
/// it holds or `bound` passed; returns its last value.
bool eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds bound);

} // namespace switchyard::test
