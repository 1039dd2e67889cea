#include "integration/support_gateway.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cstdio>
#include <fstream>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/test/unit_test.hpp>

namespace switchyard::test {

using json = nlohmann::json;

namespace {

std::string write_config(const json& config) {
  char path[] = "/tmp/switchyard-gateway-XXXXXX.json";
  int fd = mkstemps(path, 5);
  if (fd < 0)
    CAF_FAIL("cannot create a temporary config file");
  auto text = config.dump(2);
  auto n = ::write(fd, text.data(), text.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size()))
    CAF_FAIL("cannot write the temporary config file");
  return path;
}

} // namespace

gateway_server::~gateway_server() {
  if (proc.running())
    proc.stop();
  if (!config_path.empty())
    std::remove(config_path.c_str());
}

std::string gateway_server::url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port) + std::string{path};
}

gateway_server start_gateway(const json& config,
                             std::vector<std::string> extra_args,
                             const env_list& env) {
  gateway_server gw;
  gw.config_path = write_config(config);
  std::vector<std::string> argv{binary_path("switchyard-gateway"),
                                "--config",
                                gw.config_path,
                                "--listen",
                                "127.0.0.1:0",
                                "--threads",
                                "2"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  auto proc = child_process::start(std::move(argv), env);
  if (!proc)
    CAF_FAIL("cannot start switchyard-gateway: " << proc.error());
  gw.proc = std::move(*proc);
  auto line = gw.proc.read_line(std::chrono::seconds{10});
  constexpr std::string_view prefix = "listening on 127.0.0.1:";
  if (!line || line->rfind(prefix, 0) != 0)
    CAF_FAIL("switchyard-gateway did not report its port; stdout: "
             << line.value_or("<nothing>")
             << "; stderr: " << gw.proc.stderr_text());
  gw.port = static_cast<uint16_t>(std::stoi(line->substr(prefix.size())));
  return gw;
}

std::pair<int, std::string>
run_gateway_expecting_failure(const json& config,
                              std::vector<std::string> extra_args,
                              const env_list& env) {
  auto path = write_config(config);
  std::vector<std::string> argv{binary_path("switchyard-gateway"), "--config",
                                path};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  auto proc = child_process::start(std::move(argv), env);
  if (!proc)
    CAF_FAIL("cannot start switchyard-gateway: " << proc.error());
  auto status = proc->wait(std::chrono::seconds{10});
  std::remove(path.c_str());
  if (!status)
    CAF_FAIL("switchyard-gateway started although it should refuse");
  return {*status, proc->stderr_text()};
}

json gateway_config(const std::vector<target_spec>& targets, json route_extra) {
  json providers = json::object();
  json deployments = json::object();
  json names = json::array();
  for (const auto& t : targets) {
    providers[t.name] = mock_provider(*t.mock, t.kind, t.headers);
    deployments[t.name] = {{"provider", t.name}, {"model", t.model}};
    names.push_back(t.name);
  }
  json route = {{"targets", names},
                {"deadline_ms", 10000},
                {"ladder_ms", {5000}},
                {"retry",
                 {{"max_retries",
                   {{"rate_limited", 0},
                    {"server_error", 0},
                    {"timeout", 0},
                    {"malformed", 0}}}}}};
  route.update(route_extra);
  return {{"providers", providers},
          {"deployments", deployments},
          {"routes", {{"chat", route}}},
          {"engine", {{"threads", 2}}}};
}

json json_of(const http_result& res) {
  auto doc = json::parse(res.body, nullptr, false);
  if (doc.is_discarded())
    CAF_FAIL("not JSON (status " << res.status << "): " << res.body);
  return doc;
}

json field_of(const http_result& res, const std::string& pointer) {
  auto doc = json_of(res);
  json::json_pointer ptr{pointer};
  return doc.contains(ptr) ? doc[ptr] : json{};
}

std::vector<sse_event> parse_sse(const std::string& body) {
  std::vector<sse_event> out;
  sse_event cur;
  bool any = false;
  size_t pos = 0;
  while (pos < body.size()) {
    auto nl = body.find('\n', pos);
    if (nl == std::string::npos)
      nl = body.size();
    auto line = body.substr(pos, nl - pos);
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.empty()) {
      if (any)
        out.push_back(std::move(cur));
      cur = {};
      any = false;
    } else if (line[0] == ':') {
      cur.comment = line.size() > 2 ? line.substr(2) : "";
      any = true;
    } else if (line.rfind("event: ", 0) == 0) {
      cur.event = line.substr(7);
      any = true;
    } else if (line.rfind("data: ", 0) == 0) {
      cur.data += line.substr(6);
      any = true;
    }
  }
  if (any)
    out.push_back(std::move(cur));
  return out;
}

raw_client::raw_client(uint16_t port, int receive_buffer) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (receive_buffer > 0)
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer,
                 sizeof(receive_buffer));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    CAF_FAIL("cannot connect to 127.0.0.1:" << port);
}

raw_client::~raw_client() {
  close();
}

bool raw_client::send(std::string_view bytes) {
  while (!bytes.empty()) {
    auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0)
      return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

raw_client::got
raw_client::read_some(std::chrono::steady_clock::time_point until) {
  if (fd_ < 0)
    return got::end;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      until - std::chrono::steady_clock::now());
  if (left.count() <= 0)
    return got::nothing;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
    return got::nothing;
  char buf[65536];
  auto n = ::recv(fd_, buf, sizeof(buf), 0);
  if (n <= 0)
    return got::end;
  in_.append(buf, static_cast<size_t>(n));
  return got::bytes;
}

std::string raw_client::read_until(std::string_view needle,
                                   std::chrono::milliseconds timeout,
                                   size_t start) {
  auto until = std::chrono::steady_clock::now() + timeout;
  size_t from = start; // where the needle may start in what is new
  while (in_.find(needle, from) == std::string::npos) {
    from = std::max(start, in_.size() >= needle.size()
                               ? in_.size() - needle.size() + 1
                               : size_t{0});
    if (read_some(until) != got::bytes)
      break;
  }
  return in_;
}

bool raw_client::read_total(size_t total, std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (in_.size() < total)
    if (read_some(until) != got::bytes)
      return false;
  return true;
}

bool raw_client::wait_closed(std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto r = read_some(until);
    if (r != got::bytes)
      return r == got::end && fd_ >= 0;
  }
}

void raw_client::close(bool reset) {
  if (fd_ < 0)
    return;
  if (reset) {
    linger lg{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  }
  ::close(fd_);
  fd_ = -1;
}

std::string raw_post(std::string_view path, std::string_view body,
                     const http_headers& headers) {
  std::string out = "POST " + std::string{path} + " HTTP/1.1\r\n"
                    + "host: 127.0.0.1\r\ncontent-type: application/json\r\n"
                    + "content-length: " + std::to_string(body.size()) + "\r\n";
  for (const auto& [k, v] : headers)
    out += k + ": " + v + "\r\n";
  out += "\r\n";
  out += body;
  return out;
}

} // namespace switchyard::test
