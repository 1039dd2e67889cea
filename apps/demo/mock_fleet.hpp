#pragma once

#include "switchyard/expected.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace switchyard::demo {

/// One switchyard-mock child process.
struct mock_process {
  /// The demo's name for it ("primary", ...).
  std::string name;
  std::string scenario_file;
  pid_t pid = -1;
  uint16_t port = 0;
  /// Read end of the child's stdout, kept open so the mock never writes
  /// into a closed pipe.
  int stdout_fd = -1;
};

/// The mock providers of the demo: started with fork/exec on port 0, each
/// stopped by its PID (SIGTERM, then SIGKILL after 3 s). A child also dies
/// with the demo (PR_SET_PDEATHSIG) and runs in its own process group, so a
/// Ctrl-C reaches the demo alone and the demo shuts down in order.
class mock_fleet {
public:
  /// Uses the mock program at `exe`.
  explicit mock_fleet(std::string exe);

  /// Stops every mock still running.
  ~mock_fleet();

  mock_fleet(const mock_fleet&) = delete;
  mock_fleet& operator=(const mock_fleet&) = delete;

  /// Starts a mock with `scenario_file` and waits (at most 10 s) for its
  /// `listening on 127.0.0.1:PORT` line. Returns the port.
  expected<uint16_t, std::string> start(const std::string& name,
                                        const std::string& scenario_file,
                                        uint64_t seed);

  /// Stops every mock, by PID.
  void stop_all();

  /// Returns the running mocks, in start order.
  const std::vector<mock_process>& processes() const noexcept {
    return procs_;
  }

private:
  std::string exe_;
  std::vector<mock_process> procs_;
};

/// Returns the directory of the running program (from /proc/self/exe).
std::string program_dir();

/// Runs one plain HTTP exchange on 127.0.0.1:`port` (a 2 s budget) and
/// returns the response body for a 2xx status, nullopt otherwise.
std::optional<std::string> http_exchange(uint16_t port, std::string method,
                                         const std::string& path,
                                         std::string body = {});

/// Reads a whole file; nullopt if it cannot be read.
std::optional<std::string> read_file(const std::string& path);

} // namespace switchyard::demo
