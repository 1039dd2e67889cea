#pragma once

#include "switchyard/error.hpp"
#include "switchyard/model.hpp"
#include "switchyard/time.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace switchyard {

/// The caller's metadata of a call (`call_options::metadata`), shared by
/// every event of that call; null when the caller gave none.
using call_metadata = std::shared_ptr<const std::map<std::string, std::string>>;

/// An attempt on a deployment began.
struct attempt_started {
  uint64_t call_id = 0;
  std::string deployment;
  uint32_t attempt = 0;
  timespan timeout{};
  /// The caller's metadata of the call.
  call_metadata metadata;
};

/// An attempt ended; `cls` is empty on success.
struct attempt_finished {
  uint64_t call_id = 0;
  std::string deployment;
  uint32_t attempt = 0;
  std::optional<error_class> cls;
  int status = 0;
  timespan latency{};
  /// The caller's metadata of the call.
  call_metadata metadata;
  /// The call's route (empty for a breaker's probe).
  std::string route;
  /// Tokens the answer used (successes; estimated for a broken stream).
  std::optional<switchyard::usage> usage;
  /// A streamed attempt's time to its first content.
  std::optional<timespan> first_token;
};

/// The same deployment will be tried again after `wait`.
struct retry_scheduled {
  uint64_t call_id = 0;
  std::string deployment;
  error_class cls = error_class::server_error;
  timespan wait{};
  /// True when the wait came from the server's hint.
  bool from_server = false;
  /// The caller's metadata of the call.
  call_metadata metadata;
  /// The call's route.
  std::string route;
};

/// The call moved from one deployment to the next.
struct fallback_taken {
  uint64_t call_id = 0;
  std::string from;
  std::string to;
  std::string reason;
  /// The caller's metadata of the call.
  call_metadata metadata;
  /// The call's route.
  std::string route;
};

/// What happened to a hedge.
enum class hedge_phase : uint8_t { fired, won, cancelled };

/// A hedged attempt was started, won, or was cancelled.
struct hedge_event {
  uint64_t call_id = 0;
  std::string deployment;
  hedge_phase phase = hedge_phase::fired;
  /// The caller's metadata of the call.
  call_metadata metadata;
  /// The call's route.
  std::string route;
};

/// A deployment's circuit breaker changed state.
struct breaker_changed {
  std::string deployment;
  std::string from;
  std::string to;
  /// When an open breaker admits calls again (open transitions only).
  timespan open_for{};
};

/// A provider actor was restarted by its supervisor.
struct provider_restarted {
  std::string deployment;
  std::string reason;
  uint32_t restarts_in_window = 0;
  /// True when the restart-intensity limit was hit and the deployment is
  /// marked down.
  bool marked_down = false;
};

/// A call ended (success when `cls` is empty). Reported before the caller
/// learns the outcome (its callback runs or its stream's last event is
/// delivered).
struct call_finished {
  uint64_t call_id = 0;
  std::string route;
  std::string deployment;
  std::optional<error_class> cls;
  uint32_t attempts = 0;
  timespan latency{};
  /// The caller's metadata of the call.
  call_metadata metadata;
};

/// A deployment turned a call away without sending it: its breaker is open,
/// it is marked down or disabled, its local rate limit is reached or its
/// in-flight cap and queue are full (the bulkhead).
struct call_refused {
  uint64_t call_id = 0;
  std::string route;
  std::string deployment;
  /// The engine code (`breaker_open`, `marked_down`, `local_rate_limit`,
  /// `queue_full`...).
  std::string reason;
  /// The caller's metadata of the call.
  call_metadata metadata;
};

/// Everything the engine reports about its work.
using engine_event
    = std::variant<attempt_started, attempt_finished, retry_scheduled,
                   fallback_taken, hedge_event, breaker_changed,
                   provider_restarted, call_finished, call_refused>;

/// Receives engine events. Called from engine threads, concurrently: an
/// implementation is thread-safe and never blocks.
class event_sink {
public:
  virtual ~event_sink() = default;

  /// Reports one event.
  virtual void on_event(const engine_event& ev) = 0;
};

/// Hands every event to several sinks in turn (for example a metrics sink
/// and a log sink); null sinks are skipped.
class fanout_sink : public event_sink {
public:
  explicit fanout_sink(std::vector<std::shared_ptr<event_sink>> sinks);

  void on_event(const engine_event& ev) override;

private:
  std::vector<std::shared_ptr<event_sink>> sinks_;
};

/// Returns "fired", "won" or "cancelled".
std::string_view to_string(hedge_phase phase) noexcept;

/// Renders an event as one human-readable line.
std::string to_string(const engine_event& ev);

} // namespace switchyard
