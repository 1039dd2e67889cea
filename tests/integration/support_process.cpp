#include "integration/support_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <poll.h>
#include <sstream>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <caf/test/unit_test.hpp>

extern char** environ;

namespace switchyard::test {

namespace {

using clock_type = std::chrono::steady_clock;

int decode_status(int raw) {
  if (WIFEXITED(raw))
    return WEXITSTATUS(raw);
  if (WIFSIGNALED(raw))
    return 128 + WTERMSIG(raw);
  return -1;
}

} // namespace

// -- child_process ------------------------------------------------------------

child_process::child_process(child_process&& other) noexcept {
  *this = std::move(other);
}

child_process& child_process::operator=(child_process&& other) noexcept {
  if (this != &other) {
    release();
    pid_ = std::exchange(other.pid_, -1);
    stdout_fd_ = std::exchange(other.stdout_fd_, -1);
    stderr_path_ = std::exchange(other.stderr_path_, std::string{});
    buffer_ = std::move(other.buffer_);
    status_ = other.status_;
  }
  return *this;
}

child_process::~child_process() {
  release();
}

void child_process::release() noexcept {
  if (pid_ > 0)
    stop();
  if (stdout_fd_ >= 0)
    ::close(stdout_fd_);
  stdout_fd_ = -1;
  if (!stderr_path_.empty())
    ::unlink(stderr_path_.c_str());
  stderr_path_.clear();
}

expected<child_process> child_process::start(std::vector<std::string> argv,
                                             const env_list& env_extras) {
  if (argv.empty())
    return unexpected{std::string{"empty argv"}};
  // Environment: ours, with the extras added or replaced.
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv{*e};
    auto eq = kv.find('=');
    if (eq != std::string_view::npos)
      env[std::string{kv.substr(0, eq)}] = std::string{kv.substr(eq + 1)};
  }
  for (const auto& [k, v] : env_extras)
    env[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env)
    env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings)
    envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (auto& s : argv)
    args.push_back(s.data());
  args.push_back(nullptr);
  // stderr goes to a file so that a chatty child never blocks on a pipe.
  std::string err_path = "/tmp/switchyard-test-stderr-XXXXXX";
  int err_fd = ::mkstemp(err_path.data());
  if (err_fd < 0)
    return unexpected{std::string{"mkstemp: "} + std::strerror(errno)};
  int out_pipe[2];
  int exec_pipe[2]; // reports an exec failure to the parent
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(exec_pipe, O_CLOEXEC) != 0) {
    ::close(err_fd);
    return unexpected{std::string{"pipe2: "} + std::strerror(errno)};
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(err_fd);
    return unexpected{std::string{"fork: "} + std::strerror(errno)};
  }
  if (pid == 0) {
    // A test binary that crashes must not leave its servers running.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    ::execve(args[0], args.data(), envp.data());
    int err = errno;
    [[maybe_unused]] auto n = ::write(exec_pipe[1], &err, sizeof(err));
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(exec_pipe[1]);
  ::close(err_fd);
  int child_errno = 0;
  auto n = ::read(exec_pipe[0], &child_errno, sizeof(child_errno));
  ::close(exec_pipe[0]);
  if (n == static_cast<ssize_t>(sizeof(child_errno))) {
    ::waitpid(pid, nullptr, 0);
    ::close(out_pipe[0]);
    ::unlink(err_path.c_str());
    return unexpected{"cannot execute " + argv[0] + ": "
                      + std::strerror(child_errno)};
  }
  child_process result;
  result.pid_ = pid;
  result.stdout_fd_ = out_pipe[0];
  result.stderr_path_ = std::move(err_path);
  return result;
}

std::optional<std::string>
child_process::read_line(std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  for (;;) {
    if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
      auto line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    if (stdout_fd_ < 0)
      return std::nullopt;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - clock_type::now());
    if (left.count() <= 0)
      return std::nullopt;
    pollfd pfd{stdout_fd_, POLLIN, 0};
    int rc = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno == EINTR)
      continue;
    if (rc <= 0)
      return std::nullopt;
    char buf[4096];
    auto n = ::read(stdout_fd_, buf, sizeof(buf));
    if (n <= 0) {
      ::close(stdout_fd_);
      stdout_fd_ = -1;
      continue;
    }
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

std::optional<int> child_process::wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0)
    return status_;
  auto deadline = clock_type::now() + timeout;
  for (;;) {
    int raw = 0;
    auto rc = ::waitpid(pid_, &raw, WNOHANG);
    if (rc == pid_) {
      status_ = decode_status(raw);
      pid_ = -1;
      return status_;
    }
    if (rc < 0 && errno != EINTR) {
      pid_ = -1;
      return status_;
    }
    if (clock_type::now() >= deadline)
      return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
}

int child_process::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0)
    return status_;
  ::kill(pid_, SIGTERM);
  if (auto st = wait(grace))
    return *st;
  ::kill(pid_, SIGKILL);
  return wait(std::chrono::seconds{10}).value_or(-1);
}

std::string child_process::stderr_text() const {
  if (stderr_path_.empty())
    return {};
  std::ifstream in{stderr_path_, std::ios::binary};
  std::ostringstream out;
  out << in.rdbuf();
  return std::move(out).str();
}

// -- free functions -----------------------------------------------------------

std::string binary_path(std::string_view name) {
  std::string result = SWITCHYARD_BINARY_DIR "/bin/";
  result += name;
  return result;
}

std::string source_path(std::string_view relative) {
  std::string result = SWITCHYARD_SOURCE_DIR "/";
  result += relative;
  return result;
}

std::string mock_server::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port);
}

mock_server start_mock(std::vector<std::string> extra_args) {
  std::vector<std::string> argv{binary_path("switchyard-mock"), "--port", "0"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  auto proc = child_process::start(std::move(argv));
  if (!proc)
    CAF_FAIL("cannot start switchyard-mock: " << proc.error());
  mock_server result;
  result.proc = std::move(*proc);
  auto line = result.proc.read_line(std::chrono::seconds{10});
  constexpr std::string_view prefix = "listening on 127.0.0.1:";
  if (!line || line->rfind(prefix, 0) != 0)
    CAF_FAIL("switchyard-mock did not report its port; stdout: "
             << line.value_or("<nothing>")
             << "; stderr: " << result.proc.stderr_text());
  result.port = static_cast<uint16_t>(std::stoi(line->substr(prefix.size())));
  return result;
}

bool eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds bound) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return true;
}

} // namespace switchyard::test
