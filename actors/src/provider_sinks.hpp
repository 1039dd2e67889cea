#pragma once

// The transport-thread side of a provider actor: the sinks that hear how a
// transfer ends (and, for streams, its chunks) and tell the provider actor by
// message. They run on the transport thread and never touch actor state.

#include "stream_channel.hpp"
#include "switchyard/actors.hpp"
#include "switchyard/adapter.hpp"
#include "switchyard/stream.hpp"
#include "switchyard/transport.hpp"

#include <memory>
#include <string_view>

#include <caf/actor_addr.hpp>

namespace switchyard {

/// Forwards a plain transfer's end to the provider actor that started it.
/// Holds only the actor's address: a dead actor simply gets nothing.
class provider_sink final : public transfer_sink {
public:
  provider_sink(caf::actor_addr addr, uint64_t key)
      : addr_(std::move(addr)), key_(key) {
    // nop
  }

  void on_head(int, const header_list&) override;

  void on_chunk(std::string_view) override;

  void on_complete(transfer_result result) override;

private:
  caf::actor_addr addr_;
  uint64_t key_;
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
