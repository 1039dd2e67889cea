#pragma once

// The gateway's view of HTTP, without Beast: what a handler reads from a
// request and how it answers. server.cpp implements it.

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchyard::gateway {

/// Response headers as (name, value) pairs.
using header_list = std::vector<std::pair<std::string, std::string>>;

/// A complete HTTP answer.
struct http_response {
  int status = 200;
  std::string content_type = "application/json";
  header_list headers;
  std::string body;
};

/// One request as the handler sees it; valid only during `handle`.
class request_view {
public:
  virtual ~request_view() = default;

  /// "GET", "POST", ...
  virtual std::string_view method() const = 0;

  /// The request target (path and query).
  virtual std::string_view target() const = 0;

  virtual std::string_view body() const = 0;

  /// The first header named `name` (case-insensitive).
  virtual std::optional<std::string_view>
  header(std::string_view name) const = 0;
};

/// The answering side of one request. Thread-safe: any thread may call it.
/// Exactly one of `respond` or `stream_head` ... `stream_close` ends it.
class exchange {
public:
  virtual ~exchange() = default;

  /// Sends a complete answer.
  virtual void respond(http_response res) = 0;

  /// Starts a `text/event-stream` answer (chunked) with `status`.
  virtual void stream_head(int status, header_list headers) = 0;

  /// Queues bytes of a stream. Returns false (and drops them) when the
  /// client has not read enough of what was queued before: the connection's
  /// buffer limit is reached.
  virtual bool stream_write(std::string bytes) = 0;

  /// Ends a stream after what was queued and `last` (taken whatever the
  /// buffer holds: a stream always gets its ending).
  virtual void stream_close(std::string last = {}) = 0;

  /// Runs `f` once when the client goes away before the answer was sent
  /// (at once when it is already gone). Replaces an earlier `f`.
  virtual void on_disconnect(std::function<void()> f) = 0;
};

/// What the server calls for every request.
class request_handler {
public:
  virtual ~request_handler() = default;

  /// Answers `req` through `ex`, now or later, from any thread.
  virtual void handle(const request_view& req, std::shared_ptr<exchange> ex)
      = 0;

  /// Answers a request the server refused before parsing it completely
  /// (413, 431, 503 for too many connections): the body in the client's
  /// shape, chosen by `path`.
  virtual http_response refusal(int status, std::string_view path,
                                std::string message)
      = 0;
};

} // namespace switchyard::gateway
