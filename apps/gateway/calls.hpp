#pragma once

// Running one client call on the engine and answering it: complete answers,
// streams (SSE), the x-switchyard-* headers and cancellation when the client
// goes away.

#include "api.hpp"
#include "http.hpp"
#include "switchyard/engine.hpp"
#include "switchyard/events.hpp"

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace switchyard::gateway {

/// Follows every running call's attempts through the engine's events, so that
/// a stream's head (sent before the call ends) can name its deployment, its
/// attempts so far and why it fell back.
class attempt_tracker final : public event_sink {
public:
  /// What is known of a running call.
  struct progress {
    std::string deployment;
    uint32_t attempts = 0;
    bool fell_back = false;
    /// Class of the last failed attempt.
    std::optional<error_class> last_failure;
    /// Kept past the call's end until `forget` (a stream's sink still
    /// reads it after the engine reported the end).
    bool claimed = false;
  };

  void on_event(const engine_event& ev) override;

  /// What is known of call `id` now.
  progress of(uint64_t id) const;

  /// Keeps call `id` past its end, until `forget`.
  void claim(uint64_t id);

  /// Forgets call `id`.
  void forget(uint64_t id);

private:
  struct shard {
    mutable std::mutex mtx;
    std::unordered_map<uint64_t, progress> calls;
  };

  shard& shard_of(uint64_t id) const {
    return shards_[id % shards_.size()];
  }

  mutable std::array<shard, 16> shards_;
};

/// Counts calls in flight, for draining.
struct call_counter {
  std::atomic<size_t> running{0};
};

/// Runs `call` on `eng` and answers it through `ex`. `headers` go on the
/// answer (x-request-id); `calls` counts it while it runs.
void run_call(engine& eng, attempt_tracker& tracker, dialect d,
              parsed_call call, call_options opts, header_list headers,
              std::shared_ptr<exchange> ex,
              std::shared_ptr<call_counter> calls);

/// An error answer in `d`'s shape, with `retry-after` when it has one.
http_response error_response(dialect d, const client_error& err,
                             header_list headers = {});

} // namespace switchyard::gateway
