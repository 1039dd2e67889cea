#include "provider_sinks.hpp"

#include <chrono>
#include <optional>
#include <utility>
#include <vector>

#include <caf/all.hpp>

namespace switchyard {

void provider_sink::on_head(int, const header_list&) {
  // nop: non-streaming calls get everything in on_complete
}

void provider_sink::on_chunk(std::string_view) {
  // nop
}

void provider_sink::on_complete(transfer_result result) {
  {
    std::lock_guard guard{mtx_};
    result_ = std::move(result);
  }
  if (!directory_->push_ready(index_, key_))
    return; // the actor is told already and takes this key with the others
  if (auto hdl = directory_->get(index_))
    caf::anon_send(hdl, transfer_atom::value, uint64_t{0});
}

std::optional<transfer_result> provider_sink::take() {
  std::lock_guard guard{mtx_};
  return std::exchange(result_, std::nullopt);
}

void stream_forwarder::on_head(int status, const header_list&) {
  // The headers arrive again in on_complete; the status is kept for an
  // in-stream error, which ends the attempt before that.
  status_ = status;
}

void stream_forwarder::on_chunk(std::string_view chunk) {
  if (verdict_sent_)
    return;
  std::vector<stream_event> out;
  auto failed = attempt_.feed(chunk, out);
  if (!out.empty())
    channel_->deliver(tag_, out);
  if (!told_first_ && attempt_.produced_content()) {
    told_first_ = true;
    if (auto hdl = caf::actor_cast<provider_actor>(provider_))
      caf::anon_send(hdl, token_atom::value, key_);
  }
  if (failed) {
    // An in-stream error: report it now; the provider cancels the rest.
    verdict_sent_ = true;
    http_response head;
    head.status = status_; // the error came after this status (a 200)
    auto v
        = attempt_.finish(std::nullopt, head, std::chrono::system_clock::now());
    v.transfer_open = true;
    send_verdict(std::move(v));
  }
}

void stream_forwarder::on_complete(transfer_result result) {
  if (verdict_sent_)
    return;
  verdict_sent_ = true;
  std::optional<failure> tf;
  if (result.error != transport_error::none)
    tf = classify_transport_error(result.error, std::move(result.detail));
  send_verdict(attempt_.finish(std::move(tf), result.response,
                               std::chrono::system_clock::now()));
}

void stream_forwarder::send_verdict(stream_verdict v) {
  if (auto hdl = caf::actor_cast<provider_actor>(provider_))
    caf::anon_send(hdl, transfer_atom::value, key_, std::move(v));
}

} // namespace switchyard
