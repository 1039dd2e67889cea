#pragma once

// The actor tests' fixture: an engine core on CAF's test coordinator (virtual
// time), a fake upstream, a recording event sink, the supervisor with its
// provider actors, and helpers to start calls and read their outcomes.

#include "engine_core.hpp"
#include "provider_actor.hpp"
#include "router.hpp"
#include "supervisor.hpp"
#include "support_fake_client.hpp"
#include "switchyard/actors.hpp"
#include "switchyard/config.hpp"
#include "switchyard/engine.hpp"
#include "switchyard/events.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <caf/all.hpp>

#ifndef FAIL
#define FAIL(msg) CAF_FAIL(msg)
#endif
#include <caf/test/dsl.hpp>

namespace switchyard::test {

/// An event sink that keeps every engine event, in order.
class event_log final : public event_sink {
public:
  void on_event(const engine_event& ev) override {
    std::lock_guard guard{mtx_};
    events_.push_back(ev);
  }

  /// Returns every event of type `T`, in order.
  template <class T>
  std::vector<T> of() const {
    std::lock_guard guard{mtx_};
    std::vector<T> out;
    for (const auto& ev : events_)
      if (auto x = std::get_if<T>(&ev))
        out.push_back(*x);
    return out;
  }

  /// Returns the number of events of type `T`.
  template <class T>
  size_t count() const {
    return of<T>().size();
  }

  /// Forgets every event so far.
  void clear() {
    std::lock_guard guard{mtx_};
    events_.clear();
  }

private:
  mutable std::mutex mtx_;
  std::vector<engine_event> events_;
};

/// Outcomes of calls by call id, written by the calls' callbacks. Shared with
/// the callbacks so that a call finishing during teardown writes to live
/// memory.
using outcome_map = std::map<uint64_t, call_result>;

/// Streamed calls' events by call id, written by their sinks.
using stream_map = std::map<uint64_t, std::vector<stream_event>>;

/// A stream sink that records into a `stream_map` and refuses events once it
/// holds `capacity` (0 = never refuses), as a full reader buffer would.
class recording_sink final : public stream_sink {
public:
  recording_sink(std::shared_ptr<stream_map> out, uint64_t id, size_t capacity)
      : out_(std::move(out)), id_(id), capacity_(capacity) {
    // nop
  }

  bool on_event(stream_event ev) override;

private:
  std::shared_ptr<stream_map> out_;
  uint64_t id_;
  size_t capacity_;
};

/// Names the events of a stream, e.g. {"start", "text", "end"}.
std::vector<std::string> event_kinds(const std::vector<stream_event>& evs);

/// Concatenates the text of a stream's text deltas.
std::string text_of(const std::vector<stream_event>& evs);

/// Returns the failure code of a failed call ("" for a success).
std::string failure_code(const call_result& r);

/// Returns the failure class name of a failed call ("" for a success).
std::string failure_class(const call_result& r);

/// Returns the deployment names of a call's attempts, in order.
std::vector<std::string> attempt_trail(const call_result& r);

/// Returns the names of the breaker states of `deployment`'s transitions,
/// e.g. {"closed>open", "open>half_open"}.
std::vector<std::string> transitions(const event_log& log,
                                     const std::string& deployment);

/// Returns the `call_refused` events so far, each as
/// "CALL_ID ROUTE/DEPLOYMENT REASON", e.g. "7 r/a breaker_open".
std::vector<std::string> refusals(const event_log& log);

/// Returns call options that pin a call to `deployment`.
inline call_options pinned(const std::string& deployment) {
  call_options opts;
  opts.pin = deployment;
  return opts;
}

/// Returns call options with a session key (for the sticky strategy).
inline call_options session(const std::string& key) {
  call_options opts;
  opts.session_key = key;
  return opts;
}

/// The fixture of every actor suite. Nothing runs on its own: tests process
/// messages with `consume_messages()` (never `run()`, which fires timers
/// early) and move time with `advance(d)`.
struct actor_fixture : ::test_coordinator_fixture<caf::actor_system_config> {
  actor_fixture();

  ~actor_fixture() override;

  /// Parses `json` as the engine configuration (failing the test on errors),
  /// builds the engine core at the virtual `now()` with `seed`, spawns the
  /// supervisor and processes messages until every provider actor runs.
  void start(std::string_view json, uint64_t seed = 42);

  /// Starts a call of the standard request with `opts` on the router and
  /// processes messages; returns the call id.
  uint64_t call(call_options opts = {});

  /// Starts a streamed call (recording its events) and processes messages;
  /// returns the call id. `capacity` as for `recording_sink`.
  uint64_t stream(call_options opts = {}, size_t capacity = 0);

  /// Starts a streamed call whose events go to `sink` and processes
  /// messages; returns the call id.
  uint64_t stream_to(std::shared_ptr<stream_sink> sink, call_options opts = {});

  /// The events streamed call `id` delivered so far.
  const std::vector<stream_event>& streamed(uint64_t id) const;

  /// Feeds `bytes` to streamed job `job` and processes messages.
  void chunk(uint64_t job, std::string_view bytes);

  /// Sends the router a cancel of call `id`, as `engine::cancel` does.
  void cancel(uint64_t id);

  /// Returns true once call `id` reported its outcome.
  bool done(uint64_t id) const;

  /// Returns the outcome of call `id`; fails the test if it has none yet.
  const call_result& result(uint64_t id) const;

  /// Answers job `id` of the fake upstream and processes messages.
  void answer(uint64_t id, transfer_result tr);

  /// Moves virtual time by `d`, processes the messages that the due timers
  /// sent, and returns how many timers fired.
  size_t advance(timespan d);

  /// Returns the virtual time.
  time_point now() const;

  /// Returns the index of deployment `name`; fails the test if unknown.
  size_t index_of(const std::string& name) const;

  /// Returns the runtime (breaker, limits, board) of deployment `name`.
  deployment_runtime& runtime(const std::string& name) const;

  /// Returns the current provider actor of deployment `name`.
  provider_actor provider(const std::string& name) const;

  /// Sends `call` directly to the provider actor of `name` (bypassing the
  /// router) and processes messages; returns its answer if it gave one.
  std::optional<deployment_result> ask(const std::string& name,
                                       deployment_call call);

  /// Results a stand-in router received, in order.
  using result_list = std::shared_ptr<std::vector<deployment_result>>;

  /// Sends `call` directly to the provider actor of `name` with a stand-in
  /// router that records every result it gets, processes messages and
  /// returns the record (which later answers extend).
  result_list send_call(const std::string& name, deployment_call call);

  /// Builds a deployment call on route `route` (the default when empty) with
  /// `deadline_in` left.
  deployment_call make_call(uint64_t call_id, timespan deadline_in,
                            const std::string& route = {}) const;

  /// Asks the provider actor of `name` for its status and processes messages.
  deployment_status status(const std::string& name);

  /// Crashes the provider actor of `name` through the supervisor and
  /// processes messages (the supervisor restarts it).
  void crash(const std::string& name);

  std::shared_ptr<fake_client> client;
  std::shared_ptr<event_log> events;
  std::shared_ptr<engine_core> core;
  supervisor_actor sup;
  /// The one router shard the tests' calls go to.
  router_actor router;
  std::shared_ptr<outcome_map> outcomes;
  std::shared_ptr<stream_map> streams = std::make_shared<stream_map>();
  std::shared_ptr<const chat_request> request;
  uint64_t next_call_id = 1;
  /// The stand-in routers of `send_call`, stopped with the fixture.
  std::vector<result_receiver> collectors;
};

} // namespace switchyard::test
