#pragma once

// Helpers for the engine_* suites: the real engine (real transport) against
// real switchyard-mock processes.

#include "integration/support_process.hpp"
#include "switchyard/engine.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace switchyard::test {

/// Keeps every engine event, in arrival order. Thread-safe.
class event_recorder final : public event_sink {
public:
  void on_event(const engine_event& ev) override;

  /// Every event recorded so far.
  std::vector<engine_event> events() const;

  /// The recorded events of type `T`.
  template <class T>
  std::vector<T> of() const {
    std::vector<T> out;
    std::lock_guard guard{mtx_};
    for (const auto& ev : events_)
      if (const auto* x = std::get_if<T>(&ev))
        out.push_back(*x);
    return out;
  }

  /// Forgets every event recorded so far.
  void clear();

private:
  mutable std::mutex mtx_;
  std::vector<engine_event> events_;
};

/// A chat request with one user message.
chat_request user_request(std::string text);

/// GET /mock/stats, parsed; fails the test if the mock does not answer.
nlohmann::json mock_stats(const mock_server& m);

/// The mock's total request count (control endpoints excluded).
int64_t mock_total(const mock_server& m);

/// POST /mock/scenario; fails the test unless the mock accepts it.
void load_scenario(const mock_server& m, const nlohmann::json& scenario);

/// A provider entry for a config: `kind` at the mock's base URL (with `path`
/// appended), no key, plus `headers` sent on every request.
nlohmann::json mock_provider(const mock_server& m,
                             std::string_view kind = "openai_chat",
                             nlohmann::json headers = nlohmann::json::object(),
                             std::string_view path = "");

/// Builds an engine with the real transport from a JSON configuration;
/// fails the test with the engine's message if it cannot.
std::unique_ptr<engine> make_engine(const nlohmann::json& config,
                                    std::shared_ptr<event_sink> events
                                    = nullptr);

/// The status of deployment `name`; fails the test if there is none.
deployment_status status_of(const engine& eng, std::string_view name);

/// One call's outcome, as the caller saw it.
struct call_outcome {
  std::optional<call_result> result;
  /// From `complete` to the callback.
  std::chrono::milliseconds elapsed{0};
};

/// Runs `n` calls through the callback API with at most `concurrency` in
/// flight, the i-th with `make(i)`. Waits at most `timeout`; calls that had
/// not finished by then have no `result`.
std::vector<call_outcome>
run_calls(engine& eng, size_t n, size_t concurrency,
          const std::function<chat_request(size_t)>& make,
          const call_options& opts, std::chrono::milliseconds timeout);

/// Runs one call through the future API, waiting at most `timeout`; fails
/// the test if it does not complete in time.
call_outcome run_call(engine& eng, chat_request req, call_options opts = {},
                      std::chrono::milliseconds timeout
                      = std::chrono::seconds{15});

/// Renders an attempt trail for failure messages.
std::string describe(const std::vector<attempt_record>& trail);

/// The trail of a finished call, successful or not.
const std::vector<attempt_record>& trail_of(const call_result& r);

/// The deployment that answered (empty for a failed call).
std::string answered_by(const call_result& r);

// -- streamed calls -----------------------------------------------------------

/// True for `stream_end` and `stream_error`, the events that end a stream.
bool is_terminal(const stream_event& ev);

/// Keeps the events of one streamed call, in arrival order, with the time
/// the terminal one arrived. Thread-safe; the callback keeps it alive.
class stream_capture : public std::enable_shared_from_this<stream_capture> {
public:
  /// A new, empty capture.
  static std::shared_ptr<stream_capture> make();

  /// The consumer to hand to `engine::stream`.
  stream_callback callback();

  /// Waits until `pred` holds for the events so far or `timeout` passed;
  /// returns its last value.
  bool
  wait_until(const std::function<bool(const std::vector<stream_event>&)>& pred,
             std::chrono::milliseconds timeout) const;

  /// Waits up to `timeout` for the terminal event.
  bool wait_done(std::chrono::milliseconds timeout) const;

  /// Every event received so far.
  std::vector<stream_event> events() const;

  /// When the terminal event arrived (unset before).
  std::optional<std::chrono::steady_clock::time_point> done_at() const;

private:
  stream_capture() = default;

  void add(stream_event ev);

  mutable std::mutex mtx_;
  mutable std::condition_variable cv_;
  std::vector<stream_event> events_;
  std::optional<std::chrono::steady_clock::time_point> done_at_;
};

/// Reads `reader` until its terminal event or until `timeout` passed.
std::vector<stream_event> read_all(stream_reader& reader,
                                   std::chrono::milliseconds timeout);

/// The events of type `T`, in order.
template <class T>
std::vector<T> events_of(const std::vector<stream_event>& evs) {
  std::vector<T> out;
  for (const auto& ev : evs)
    if (const auto* x = std::get_if<T>(&ev))
      out.push_back(*x);
  return out;
}

/// The concatenated text of every `text_delta`.
std::string text_of(const std::vector<stream_event>& evs);

/// Renders a stream's events for failure messages, e.g.
/// `start(primary m) text("alpha") notice(restart a->b) end(stop 5+12)`.
std::string describe(const std::vector<stream_event>& evs);

} // namespace switchyard::test
