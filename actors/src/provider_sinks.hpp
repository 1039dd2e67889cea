#pragma once

// The transport-thread side of a provider actor: the sinks that hear how a
// transfer ends (and, for streams, its chunks) and tell the provider actor by
// message. They run on the transport thread and never touch actor state.

#include "engine_core.hpp"
#include "stream_channel.hpp"
#include "switchyard/actors.hpp"
#include "switchyard/adapter.hpp"
#include "switchyard/stream.hpp"
#include "switchyard/transport.hpp"

#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include <caf/actor_addr.hpp>

namespace switchyard {

/// Keeps a plain transfer's result, puts its key on the deployment's ready
/// list and tells the deployment's CURRENT provider actor (looked up in the
/// directory when the transfer ends) unless it was told already: the actor
/// takes every key on the list at once. The result stays here until an
/// actor takes it: a transfer
/// belongs to its call, not to the actor that started it, so an actor that
/// dies with the message unread leaves the result to its successor, which
/// adopts the call (no second request).
class provider_sink final : public transfer_sink {
public:
  provider_sink(const provider_directory& directory, size_t index, uint64_t key)
      : directory_(&directory), index_(index), key_(key) {
    // nop
  }

  void on_head(int, const header_list&) override;

  void on_chunk(std::string_view) override;

  void on_complete(transfer_result result) override;

  /// Takes the result once it is there (once).
  std::optional<transfer_result> take();

private:
  /// Owned by the engine core, which outlives the transport.
  const provider_directory* directory_;
  size_t index_;
  uint64_t key_;
  std::mutex mtx_;
  std::optional<transfer_result> result_;
};

/// Decodes a streamed transfer on the transport thread and hands its events
/// straight to the call's stream channel, which delivers them to the caller
/// (no actor hand-off before a token is seen; nothing goes through the
/// provider actor, whose mailbox all streams of a deployment share). The
/// provider actor hears only the first content and the verdict, by address:
/// a dead actor simply gets nothing.
class stream_forwarder final : public transfer_sink {
public:
  stream_forwarder(caf::actor_addr provider,
                   std::shared_ptr<stream_channel> channel, uint64_t tag,
                   uint64_t key, const adapter& codec, bool content_required)
      : provider_(std::move(provider)), channel_(std::move(channel)), tag_(tag),
        key_(key), attempt_(codec, content_required) {
    // nop
  }

  void on_head(int, const header_list&) override;

  void on_chunk(std::string_view chunk) override;

  void on_complete(transfer_result result) override;

private:
  void send_verdict(stream_verdict v);

  caf::actor_addr provider_;
  std::shared_ptr<stream_channel> channel_;
  uint64_t tag_;
  uint64_t key_;
  stream_attempt attempt_;
  /// The response status, once the head arrived.
  int status_ = 0;
  bool told_first_ = false;
  bool verdict_sent_ = false;
};

} // namespace switchyard
