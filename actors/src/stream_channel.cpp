#include "stream_channel.hpp"

#include "switchyard/actors.hpp"

#include <caf/all.hpp>

namespace switchyard {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

} // namespace

stream_channel::stream_channel(std::shared_ptr<stream_sink> sink,
                               caf::actor_addr router, uint64_t call_id,
                               bool keep_text)
    : sink_(std::move(sink)), router_(std::move(router)), call_id_(call_id),
      keep_text_(keep_text) {
  // nop
}

std::optional<std::string>
stream_channel::begin(uint64_t tag, const deployment_config& deployment) {
  std::lock_guard guard{mtx_};
  tag_ = tag;
  deployment_ = &deployment;
  content_in_tag_ = false;
  pending_start_.reset();
  seam_.reset();
  seam_ws_ = 0;
  if (!continuing_)
    return std::nullopt;
  // A prefill may not end in whitespace (Anthropic rejects it): send it
  // trimmed and drop that much leading whitespace of the continuation,
  // which the caller already has.
  std::string_view partial = delivered_;
  if (deployment.continuation == continuation_style::prefill)
    while (!partial.empty() && is_space(partial.back())) {
      partial.remove_suffix(1);
      ++seam_ws_;
    }
  seam_ = std::make_unique<seam_joiner>(delivered_);
  return std::string{partial};
}

bool stream_channel::flush(uint64_t tag) {
  std::lock_guard guard{mtx_};
  if (tag != tag_ || !seam_ || ended_ || refused_)
    return !refused_;
  auto rest = seam_->flush();
  seam_.reset();
  return rest.empty() || deliver_content(text_delta{std::move(rest)});
}

bool stream_channel::content_in(uint64_t tag) const {
  std::lock_guard guard{mtx_};
  return tag == tag_ && content_in_tag_;
}

void stream_channel::broke(stream_failover mode, const std::string& from,
                           const std::string& why) {
  std::lock_guard guard{mtx_};
  stream_notice notice;
  notice.from = from;
  if (mode == stream_failover::continue_ && !delivered_tools_) {
    notice.kind = notice_kind::continue_;
    notice.message = why + "; the answer continues from a fallback";
    continuing_ = true;
  } else {
    notice.kind = notice_kind::restart;
    notice.message = why + "; discard the partial answer, it starts again"
                     + (mode == stream_failover::continue_
                            ? " (tool calls cannot be continued)"
                            : "");
    continuing_ = false;
    started_ = false;
    delivered_.clear();
    delivered_chars_ = 0;
    delivered_tools_ = false;
  }
  pending_notice_ = std::make_unique<stream_notice>(std::move(notice));
}

bool stream_channel::flush_notice(const std::string& to) {
  std::lock_guard guard{mtx_};
  if (!pending_notice_ || ended_ || refused_)
    return !refused_;
  pending_notice_->to = to;
  auto notice = std::move(*pending_notice_);
  pending_notice_.reset();
  return push(std::move(notice));
}

void stream_channel::end(stream_event terminal) {
  std::lock_guard guard{mtx_};
  if (ended_)
    return;
  ended_ = true;
  if (auto* err = std::get_if<stream_error>(&terminal); err && started_)
    err->failure.message += " (the stream had delivered "
                            + std::to_string(delivered_chars_)
                            + " characters of the answer)";
  sink_->on_event(std::move(terminal)); // a terminal event is always taken
}

void stream_channel::deliver(uint64_t tag, std::vector<stream_event>& events) {
  std::lock_guard guard{mtx_};
  if (tag != tag_ || ended_ || refused_)
    return; // a dispatch the call has moved on from, or the end
  for (auto& ev : events) {
    if (auto* start = std::get_if<stream_start>(&ev)) {
      pending_start_ = std::move(*start);
      continue;
    }
    if (auto* t = std::get_if<text_delta>(&ev); t != nullptr && seam_) {
      if (seam_ws_ > 0) {
        size_t k = 0;
        while (k < t->text.size() && k < seam_ws_ && is_space(t->text[k]))
          ++k;
        seam_ws_ = k < t->text.size() ? 0 : seam_ws_ - k;
        t->text.erase(0, k);
      }
      t->text = seam_->feed(t->text);
      if (t->text.empty())
        continue;
    }
    if (!deliver_content(std::move(ev))) {
      if (auto hdl = caf::actor_cast<router_actor>(router_))
        caf::anon_send(hdl, slow_atom::value, call_id_);
      return;
    }
  }
}

bool stream_channel::deliver_content(stream_event ev) {
  if (!content_in_tag_) {
    content_in_tag_ = true;
    if (pending_notice_) {
      pending_notice_->to = deployment_->name;
      auto notice = std::move(*pending_notice_);
      pending_notice_.reset();
      if (!push(std::move(notice)))
        return false;
    }
    if (!started_) {
      started_ = true;
      stream_start start;
      if (pending_start_)
        start = std::move(*pending_start_);
      start.provider = deployment_->provider;
      if (start.model.empty())
        start.model = deployment_->ep.model;
      if (!push(std::move(start)))
        return false;
    }
  }
  size_t chars = 0;
  if (auto* t = std::get_if<text_delta>(&ev)) {
    chars = t->text.size();
    if (keep_text_)
      delivered_ += t->text;
  } else {
    delivered_tools_ = true;
  }
  if (!push(std::move(ev))) {
    if (keep_text_)
      delivered_.resize(delivered_.size() - chars); // never delivered
    return false;
  }
  delivered_chars_ += chars;
  return true;
}

bool stream_channel::push(stream_event ev) {
  if (!sink_->on_event(std::move(ev))) {
    refused_ = true;
    return false;
  }
  return true;
}

} // namespace switchyard
