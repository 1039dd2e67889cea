#pragma once

#include "scenario.hpp"
#include "wire.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::mock {

/// What the server must do with one request, decided without any I/O.
struct response_plan {
  enum class action : uint8_t { respond, close, hang };
  /// What happens after the body or the frames were written.
  enum class ending : uint8_t { complete, drop, stall, close };

  /// One SSE event and the delay before writing it.
  struct frame {
    std::string bytes;
    int64_t delay_ms = 0;
  };

  action what = action::respond;
  /// Waited before anything is sent (latency + first_byte).
  int64_t delay_ms = 0;
  /// Status, headers and (non-streaming) body.
  rendered head;
  bool stream = false;
  std::vector<frame> frames;
  ending end = ending::complete;
  /// Non-streaming drop/stall: how many body bytes go out before the end.
  size_t body_cut = 0;
  /// The listener schedule changed (a new scenario was loaded).
  bool scenario_changed = false;
};

/// The parts of an HTTP request the mock looks at.
struct request_view {
  std::string_view method;
  std::string_view target;
  std::string_view body;
  std::optional<std::string_view> fault;       // x-mock-fault
  std::optional<std::string_view> words;       // x-mock-words
  std::optional<std::string_view> chunk_delay; // x-mock-chunk-delay-ms
};

/// The mock's brain: scenario, seeded randomness, stats; thread-safe.
class mock_engine {
public:
  /// Starts with `sc` loaded now.
  mock_engine(uint64_t seed, scenario sc);

  /// Decides the response to one request and counts it.
  response_plan handle(const request_view& req);

  /// `GET /mock/stats`, asked on one of the open connections (which the
  /// `open_connections` gauge leaves out).
  std::string stats_json() const;

  /// Clears every counter (not the `open_connections` gauge).
  void reset_stats();

  /// The server accepted a client connection.
  void connection_opened() noexcept;

  /// The server closed a client connection (once per accepted one).
  void connection_closed() noexcept;

  /// The listener schedule of the current scenario and when it was loaded.
  std::vector<listener_event>
  listener_schedule(std::chrono::steady_clock::time_point& loaded_at) const;

private:
  using counter_map = std::map<std::string, uint64_t, std::less<>>;

  response_plan control(const request_view& req, std::string_view path);
  void count(std::string_view endpoint, const fault_plan& plan,
             std::string_view fault_label, std::string_view model);
  response_plan success(const mock_request& req, const fault_plan& plan,
                        int64_t words, int64_t chunk_delay_ms);

  uint64_t seed_;
  mutable std::mutex scenario_mtx_; // guards the next three
  std::shared_ptr<const scenario> scenario_;
  std::chrono::steady_clock::time_point loaded_at_;
  prng rng_;
  mutable std::mutex stats_mtx_; // guards the counters
  uint64_t total_ = 0;
  uint64_t streams_ = 0;
  counter_map endpoints_;
  counter_map faults_;
  counter_map models_;
  std::atomic<int64_t> open_connections_ = 0;
};

} // namespace switchyard::mock
