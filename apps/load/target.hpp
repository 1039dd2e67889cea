#pragma once

#include "recorder.hpp"
#include "switchyard/engine.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace switchyard::load {

/// Called once per request with its outcome, on the target's thread; must
/// not block.
using result_callback = std::function<void(request_result)>;

/// The system under test: something that takes chat requests without
/// blocking the caller and reports each outcome once.
class target {
public:
  virtual ~target() = default;

  /// Starts request `n` with `prompt`; `done` runs once, possibly before
  /// `send` returns.
  virtual void send(uint64_t n, const std::string& prompt, result_callback done)
      = 0;

  /// Stops everything still running (their callbacks may still run, once).
  virtual void stop() = 0;

  /// Requests that had to wait for a free connection of the driver's own
  /// (a sign that the driver's pool, not the system under test, limited
  /// them; their latency still counts from their scheduled time).
  virtual uint64_t waited_for_connection() const {
    return 0;
  }
};

/// Drives an embedded engine (`engine::complete` / `engine::stream`).
std::unique_ptr<target> make_engine_target(engine& eng, bool stream,
                                           std::string route);

/// The default of `--connections`.
constexpr size_t default_http_connections = 1024;

/// Drives an OpenAI-compatible HTTP endpoint (`URL/chat/completions`, or
/// the URL as given when it ends in `/chat/completions`) through libcurl
/// multi on its own thread, over at most `connections` connections (one
/// request each; more requests wait for a free one, in order).
std::unique_ptr<target> make_http_target(std::string url, std::string model,
                                         bool stream, timespan timeout,
                                         size_t connections
                                         = default_http_connections);

/// A target that answers every request on a timer thread after `delay`
/// (benchmarks of the driver itself).
std::unique_ptr<target> make_null_target(timespan delay);

} // namespace switchyard::load
