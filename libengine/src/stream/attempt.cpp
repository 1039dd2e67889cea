#include "switchyard/adapter.hpp"
#include "switchyard/stream.hpp"

namespace switchyard {

namespace {} // namespace

stream_attempt::stream_attempt(const adapter& codec, bool content_required)
    : codec_(&codec), decoder_(codec.make_stream_decoder()),
      content_required_(content_required) {
  // nop
}

stream_attempt::~stream_attempt() = default;

std::optional<failure> stream_attempt::feed(std::string_view bytes,
                                            std::vector<stream_event>& out) {
  if (failed_)
    return std::nullopt;
  events_.clear();
  parser_.feed(bytes, events_);
  std::vector<stream_event> decoded;
  for (const auto& ev : events_) {
    decoded.clear();
    if (auto f = decoder_->on_event(ev, decoded)) {
      failed_ = std::make_unique<failure>(std::move(*f));
      return *failed_;
    }
    for (auto& x : decoded) {
      if (auto* end = std::get_if<stream_end>(&x)) {
        end_ = std::make_unique<stream_end>(std::move(*end));
        continue;
      }
      if (std::holds_alternative<text_delta>(x)
          || std::holds_alternative<tool_call_delta>(x))
        ++content_events_;
      out.push_back(std::move(x));
    }
  }
  return std::nullopt;
}

stream_verdict stream_attempt::finish(std::optional<failure> transport_failure,
                                      const http_response& resp,
                                      wall_time now) {
  stream_verdict v;
  v.status = resp.status;
  v.produced_content = decoder_->produced_content();
  v.content_events = content_events_;
  if (failed_) {
    v.failure = *failed_;
  } else if (resp.status != 0 && (resp.status < 200 || resp.status >= 300)) {
    v.failure = codec_->classify(resp, now);
  } else if (transport_failure) {
    v.failure = std::move(transport_failure);
  } else if (!decoder_->finished()) {
    v.failure = make_failure(
        engine_code::stream_unterminated,
        "the stream ended without its terminal marker ("
            + std::string{v.produced_content ? "after content" : "no content"}
            + ")");
  } else if (!v.produced_content && content_required_) {
    v.failure = make_failure(engine_code::stream_empty,
                             "the stream ended without any content");
  } else if (end_) {
    v.finish = end_->finish;
    v.finish_raw = end_->finish_raw;
    v.usage = end_->usage;
  }
  return v;
}

bool stream_attempt::produced_content() const noexcept {
  return decoder_->produced_content();
}

bool stream_attempt::terminated() const noexcept {
  return decoder_->finished();
}

} // namespace switchyard
