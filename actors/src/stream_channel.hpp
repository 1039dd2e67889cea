#pragma once

#include "switchyard/engine.hpp"
#include "switchyard/policy/settings.hpp"
#include "switchyard/stream.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_addr.hpp>

namespace switchyard {

/// The path of a streamed call's events to the caller's sink, and what the
/// caller has seen. Content goes from the transport thread straight to the
/// sink, so no actor hand-off delays a token; the router starts each
/// dispatch, applies the failover policy after a break and ends the stream.
/// Thread-safe: one mutex, held while the sink runs (sinks never block).
class stream_channel {
public:
  /// `router` runs call `call_id`. `keep_text`: keep the delivered text, for
  /// a route that continues broken streams (other routes only count it).
  stream_channel(std::shared_ptr<stream_sink> sink, caf::actor_addr router,
                 uint64_t call_id, bool keep_text);

  // -- router ---------------------------------------------------------

  /// Starts dispatch `tag` (events of older tags are dropped from now on) on
  /// `deployment`, whose config outlives the call. When the answer is being
  /// continued, returns the partial text to send (a prefill loses its
  /// trailing whitespace) and arms the seam; else returns nullopt.
  std::optional<std::string> begin(uint64_t tag,
                                   const deployment_config& deployment);

  /// Delivers what the seam of dispatch `tag` still holds back. Returns
  /// false when the sink refused it.
  bool flush(uint64_t tag);

  /// True once content of dispatch `tag` reached the caller.
  bool content_in(uint64_t tag) const;

  /// Dispatch `tag` broke after its content reached the caller: prepares
  /// the notice for the fallback's first content. `restart` makes the caller
  /// discard what it has; `continue` (unless tool calls were delivered,
  /// which cannot be continued) has later dispatches continue the answer.
  void broke(stream_failover mode, const std::string& from,
             const std::string& why);

  /// Delivers a notice still pending (the fallback had nothing to add).
  /// Returns false when the sink refused it.
  bool flush_notice(const std::string& to);

  /// Ends the stream with its terminal event; nothing is delivered after.
  /// Adds how much of the answer was delivered to an error's message.
  void end(stream_event terminal);

  // -- transport thread ---------------------------------------------------

  /// Delivers the events of dispatch `tag`; stale dispatches are ignored.
  /// When the sink refuses an event, tells the router (`slow` message)
  /// and drops everything after.
  void deliver(uint64_t tag, std::vector<stream_event>& events);

private:
  /// Delivers one content event of the current dispatch, preceded by a
  /// pending notice and the start event when it is the first.
  bool deliver_content(stream_event ev);

  bool push(stream_event ev);

  mutable std::mutex mtx_;
  std::shared_ptr<stream_sink> sink_;
  caf::actor_addr router_;
  uint64_t call_id_;
  uint64_t tag_ = 0;
  /// The deployment of the current dispatch.
  const deployment_config* deployment_ = nullptr;
  std::optional<stream_start> pending_start_;
  /// Rare, so kept out of line: the notice after a break, and the seam of a
  /// continuation.
  std::unique_ptr<stream_notice> pending_notice_;
  std::unique_ptr<seam_joiner> seam_;
  /// Leading whitespace of a continuation the caller already has.
  size_t seam_ws_ = 0;
  /// The answer's text the caller has (what `continue` continues), when
  /// kept, and its length.
  std::string delivered_;
  size_t delivered_chars_ = 0;
  bool keep_text_;
  bool delivered_tools_ = false;
  bool started_ = false;
  bool content_in_tag_ = false;
  bool continuing_ = false;
  /// The sink refused an event (a slow consumer).
  bool refused_ = false;
  bool ended_ = false;
};

} // namespace switchyard
