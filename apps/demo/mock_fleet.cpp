#include "mock_fleet.hpp"

#include "switchyard/transport.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <poll.h>
#include <sstream>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <climits>

namespace switchyard::demo {

namespace {

constexpr std::string_view listening_prefix = "listening on 127.0.0.1:";

/// Reads the child's stdout until the listening line or the deadline.
std::optional<uint16_t> read_port(int fd, std::string& out) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0)
      continue;
    char buf[256];
    auto n = read(fd, buf, sizeof(buf));
    if (n <= 0)
      return std::nullopt;
    out.append(buf, static_cast<size_t>(n));
    auto at = out.find(listening_prefix);
    if (at != std::string::npos && out.find('\n', at) != std::string::npos) {
      auto port = std::atoi(out.c_str() + at + listening_prefix.size());
      if (port > 0 && port < 65536)
        return static_cast<uint16_t>(port);
      return std::nullopt;
    }
  }
  return std::nullopt;
}

void stop_one(mock_process& m) {
  if (m.pid > 0) {
    kill(m.pid, SIGTERM);
    bool gone = false;
    for (int i = 0; i < 60 && !gone; ++i) {
      gone = waitpid(m.pid, nullptr, WNOHANG) == m.pid;
      if (!gone)
        std::this_thread::sleep_for(std::chrono::milliseconds{50});
    }
    if (!gone) {
      kill(m.pid, SIGKILL);
      waitpid(m.pid, nullptr, 0);
    }
    m.pid = -1;
  }
  if (m.stdout_fd >= 0) {
    close(m.stdout_fd);
    m.stdout_fd = -1;
  }
}

/// Collects one transfer's outcome for `http_exchange`.
class exchange_sink final : public transfer_sink {
public:
  void on_head(int, const header_list&) override {
    // nop
  }

  void on_chunk(std::string_view) override {
    // nop
  }

  void on_complete(transfer_result result) override {
    done_.set_value(std::move(result));
  }

  std::future<transfer_result> outcome() {
    return done_.get_future();
  }

private:
  std::promise<transfer_result> done_;
};

} // namespace

mock_fleet::mock_fleet(std::string exe) : exe_(std::move(exe)) {
  // nop
}

mock_fleet::~mock_fleet() {
  stop_all();
}

expected<uint16_t, std::string>
mock_fleet::start(const std::string& name, const std::string& scenario_file,
                  uint64_t seed) {
  if (access(exe_.c_str(), X_OK) != 0)
    return unexpected{"cannot run " + exe_ + " (build switchyard-mock)"};
  int fds[2];
  if (pipe(fds) != 0)
    return unexpected{std::string{"pipe failed"}};
  auto seed_arg = std::to_string(seed);
  auto parent = getpid();
  auto pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return unexpected{std::string{"fork failed"}};
  }
  if (pid == 0) {
    // Child: own process group (Ctrl-C goes to the demo only), and die with
    // the demo if it dies first.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
      _exit(1);
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl(exe_.c_str(), exe_.c_str(), "--port", "0", "--scenario",
          scenario_file.c_str(), "--seed", seed_arg.c_str(),
          static_cast<char*>(nullptr));
    std::perror(exe_.c_str());
    _exit(127);
  }
  close(fds[1]);
  mock_process m{name, scenario_file, pid, 0, fds[0]};
  std::string out;
  auto port = read_port(fds[0], out);
  if (!port) {
    stop_one(m);
    return unexpected{"switchyard-mock (" + name
                      + ") did not report its port; it printed: " + out};
  }
  m.port = *port;
  procs_.push_back(std::move(m));
  return *port;
}

void mock_fleet::stop_all() {
  for (auto& m : procs_)
    stop_one(m);
}

std::string program_dir() {
  char buf[PATH_MAX];
  auto n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0)
    return ".";
  std::string path{buf, static_cast<size_t>(n)};
  return path.substr(0, path.rfind('/'));
}

std::optional<std::string> http_exchange(uint16_t port, std::string method,
                                         const std::string& path,
                                         std::string body) {
  transport client;
  http_job job;
  job.request.method = std::move(method);
  job.request.url = "http://127.0.0.1:" + std::to_string(port) + path;
  job.request.body = std::move(body);
  if (!job.request.body.empty())
    job.request.headers.push_back({"content-type", "application/json"});
  job.timeouts.total = std::chrono::seconds{2};
  auto sink = std::make_shared<exchange_sink>();
  auto outcome = sink->outcome();
  client.submit(std::move(job), sink);
  if (outcome.wait_for(std::chrono::seconds{3}) != std::future_status::ready)
    return std::nullopt;
  auto result = outcome.get();
  if (result.error != transport_error::none || result.response.status < 200
      || result.response.status >= 300)
    return std::nullopt;
  return std::move(result.response.body);
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    return std::nullopt;
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

} // namespace switchyard::demo
