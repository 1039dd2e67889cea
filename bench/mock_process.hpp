#pragma once

// Starts and stops the switchyard-mock that sits next to a benchmark's own
// binary, for the benchmarks that measure against a real mock provider.

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <climits>

namespace switchyard::bench {

/// A running mock provider: its PID and the port it listens on.
struct mock_process {
  pid_t pid = -1;
  int port = 0;
};

/// Returns the directory of the running executable.
inline std::string binary_dir() {
  char buf[PATH_MAX];
  auto n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0)
    return ".";
  std::string path{buf, static_cast<size_t>(n)};
  return path.substr(0, path.rfind('/'));
}

/// Starts `switchyard-mock --port 0` plus `extra` arguments and waits up to
/// 10 s for its port.
inline std::optional<mock_process> start_mock(std::vector<std::string> extra
                                              = {}) {
  auto exe = binary_dir() + "/switchyard-mock";
  std::vector<std::string> args{exe, "--port", "0"};
  args.insert(args.end(), extra.begin(), extra.end());
  int fds[2];
  if (pipe(fds) != 0)
    return std::nullopt;
  auto pid = fork();
  if (pid < 0)
    return std::nullopt;
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(exe.c_str(), argv.data());
    std::perror(exe.c_str());
    _exit(127);
  }
  close(fds[1]);
  mock_process m{pid, 0};
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
  while (m.port == 0 && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, 100) <= 0)
      continue;
    char buf[512];
    auto n = read(fds[0], buf, sizeof(buf));
    if (n <= 0)
      break;
    out.append(buf, static_cast<size_t>(n));
    if (auto at = out.find("listening on 127.0.0.1:"); at != std::string::npos)
      if (out.find('\n', at) != std::string::npos)
        m.port = std::atoi(out.c_str() + at + 23);
  }
  close(fds[0]);
  if (m.port == 0) {
    std::fprintf(stderr, "switchyard-mock did not report its port: %s\n",
                 out.c_str());
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return std::nullopt;
  }
  return m;
}

/// Stops the mock by PID: SIGTERM, then SIGKILL after 5 s.
inline void stop_mock(const mock_process& m) {
  kill(m.pid, SIGTERM);
  for (int i = 0; i < 50; ++i) {
    if (waitpid(m.pid, nullptr, WNOHANG) == m.pid)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
  kill(m.pid, SIGKILL);
  waitpid(m.pid, nullptr, 0);
}

} // namespace switchyard::bench
