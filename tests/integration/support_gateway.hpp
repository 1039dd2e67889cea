#pragma once

// Helpers for the gateway_* suites: a real switchyard-gateway process in
// front of real switchyard-mock processes, and clients that read SSE and
// hang up on purpose.

#include "integration/support_engine.hpp"
#include "integration/support_http.hpp"
#include "integration/support_process.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace switchyard::test {

/// A running switchyard-gateway on 127.0.0.1.
struct gateway_server {
  child_process proc;
  uint16_t port = 0;
  /// The config file (removed by the destructor).
  std::string config_path;

  gateway_server() = default;
  gateway_server(gateway_server&&) = default;
  gateway_server& operator=(gateway_server&&) = default;
  ~gateway_server();

  /// "http://127.0.0.1:PORT" + `path`.
  std::string url(std::string_view path = "") const;
};

/// Writes `config` to a temporary file and starts the gateway on
/// 127.0.0.1:0 with it plus `extra_args`; fails the test unless it reports
/// its port within 10 s.
gateway_server start_gateway(const nlohmann::json& config,
                             std::vector<std::string> extra_args = {},
                             const env_list& env = {});

/// Starts the gateway expecting it to refuse to start: returns its exit
/// status and stderr.
std::pair<int, std::string>
run_gateway_expecting_failure(const nlohmann::json& config,
                              std::vector<std::string> extra_args = {},
                              const env_list& env = {});

/// A config with one route `chat` over `targets`, each a (deployment name,
/// mock, provider kind, model, extra provider headers) entry.
struct target_spec {
  std::string name;
  const mock_server* mock = nullptr;
  std::string kind = "openai_chat";
  std::string model = "gpt-4o";
  nlohmann::json headers = nlohmann::json::object();
};
nlohmann::json gateway_config(const std::vector<target_spec>& targets,
                              nlohmann::json route_extra
                              = nlohmann::json::object());

/// The body of `res` as JSON; fails the test when it is not.
nlohmann::json json_of(const http_result& res);

/// The value at JSON `pointer` ("/error/code") in the body of `res` (a
/// copy, so that it can be checked in place); null when absent.
nlohmann::json field_of(const http_result& res, const std::string& pointer);

/// One server-sent event (or comment).
struct sse_event {
  std::string event;
  std::string data;
  /// A `: ...` comment line (event and data empty).
  std::string comment;
};

/// Splits an SSE body into events.
std::vector<sse_event> parse_sse(const std::string& body);

/// A raw TCP client for what libcurl does not do: hang up mid-answer,
/// keep a connection idle, read slowly.
class raw_client {
public:
  /// Connects; `receive_buffer` > 0 sets the socket's SO_RCVBUF first.
  explicit raw_client(uint16_t port, int receive_buffer = 0);
  ~raw_client();
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;

  bool send(std::string_view bytes);

  /// Reads until `needle` was received at or after offset `start` or
  /// `timeout` passed; returns everything received so far.
  std::string read_until(std::string_view needle,
                         std::chrono::milliseconds timeout, size_t start = 0);

  /// Reads until `total` bytes were received in all (true), or the
  /// connection ended or `timeout` passed first (false).
  bool read_total(size_t total, std::chrono::milliseconds timeout);

  /// Reads until the server closes the connection (true) or `timeout`
  /// passed (false).
  bool wait_closed(std::chrono::milliseconds timeout);

  /// Everything received so far.
  const std::string& received() const noexcept {
    return in_;
  }

  /// Closes the connection (abortively with `reset`).
  void close(bool reset = false);

private:
  enum class got { bytes, end, nothing };

  /// Waits until `until` for bytes and appends what one recv gives: `end`
  /// when the connection ended (or is closed here), `nothing` on timeout.
  got read_some(std::chrono::steady_clock::time_point until);

  int fd_ = -1;
  std::string in_;
};

/// A POST request as raw HTTP/1.1 text.
std::string raw_post(std::string_view path, std::string_view body,
                     const http_headers& headers = {});

} // namespace switchyard::test
