#include "calls.hpp"

namespace switchyard::gateway {

// -- attempt_tracker ----------------------------------------------------------

void attempt_tracker::on_event(const engine_event& ev) {
  if (const auto* s = std::get_if<attempt_started>(&ev)) {
    auto& sh = shard_of(s->call_id);
    std::lock_guard guard{sh.mtx};
    auto& p = sh.calls[s->call_id];
    p.deployment = s->deployment;
    ++p.attempts;
  } else if (const auto* f = std::get_if<attempt_finished>(&ev)) {
    if (!f->cls)
      return;
    auto& sh = shard_of(f->call_id);
    std::lock_guard guard{sh.mtx};
    sh.calls[f->call_id].last_failure = f->cls;
  } else if (const auto* fb = std::get_if<fallback_taken>(&ev)) {
    auto& sh = shard_of(fb->call_id);
    std::lock_guard guard{sh.mtx};
    sh.calls[fb->call_id].fell_back = true;
  } else if (const auto* done = std::get_if<call_finished>(&ev)) {
    auto& sh = shard_of(done->call_id);
    std::lock_guard guard{sh.mtx};
    auto i = sh.calls.find(done->call_id);
    if (i != sh.calls.end() && !i->second.claimed)
      sh.calls.erase(i);
  }
}

void attempt_tracker::claim(uint64_t id) {
  auto& sh = shard_of(id);
  std::lock_guard guard{sh.mtx};
  sh.calls[id].claimed = true;
}

attempt_tracker::progress attempt_tracker::of(uint64_t id) const {
  auto& sh = shard_of(id);
  std::lock_guard guard{sh.mtx};
  auto i = sh.calls.find(id);
  return i == sh.calls.end() ? progress{} : i->second;
}

void attempt_tracker::forget(uint64_t id) {
  auto& sh = shard_of(id);
  std::lock_guard guard{sh.mtx};
  sh.calls.erase(id);
}

// -- answers ------------------------------------------------------------------

http_response error_response(dialect d, const client_error& err,
                             header_list headers) {
  http_response res;
  res.status = err.status;
  res.headers = std::move(headers);
  if (err.retry_after_s)
    res.headers.emplace_back("retry-after", std::to_string(*err.retry_after_s));
  res.body = render_error(d, err);
  return res;
}

namespace {

/// The x-switchyard-* headers of a finished call, from its attempt trail.
void add_trail_headers(header_list& h, const std::vector<attempt_record>& trail,
                       bool success) {
  if (trail.empty())
    return;
  const auto& last = trail.back();
  if (success) {
    h.emplace_back("x-switchyard-provider", last.provider);
    h.emplace_back("x-switchyard-model", last.model);
    h.emplace_back("x-switchyard-deployment", last.deployment);
  }
  h.emplace_back("x-switchyard-attempts", std::to_string(trail.size()));
  // A fallback happened when an earlier attempt used another deployment.
  for (auto i = trail.rbegin(); i != trail.rend(); ++i)
    if (i->deployment != last.deployment && i->cls) {
      h.emplace_back("x-switchyard-fallback-reason",
                     std::string{to_string(*i->cls)});
      break;
    }
}

/// `x-switchyard-cache: hit|miss|bypass|coalesced` on routes with a cache.
void add_cache_header(header_list& h, cache_outcome outcome) {
  if (outcome != cache_outcome::none)
    h.emplace_back("x-switchyard-cache", std::string{to_string(outcome)});
}

/// The consumer of one streamed call: turns events into the client's SSE.
class sse_sink final : public stream_sink {
public:
  sse_sink(attempt_tracker& tracker, dialect d, bool include_usage,
           header_list headers, std::shared_ptr<exchange> ex,
           std::shared_ptr<call_counter> calls)
      : tracker_(tracker), dialect_(d),
        encoder_(make_encoder(d, include_usage)), headers_(std::move(headers)),
        ex_(std::move(ex)), calls_(std::move(calls)) {
    // nop
  }

  void on_call_id(uint64_t id) override {
    id_ = id;
    // The engine reports the call's end before the stream's last event.
    tracker_.claim(id);
  }

  bool on_event(stream_event ev) override {
    std::string out;
    if (auto* start = std::get_if<stream_start>(&ev)) {
      start_ = std::move(*start);
      return true;
    }
    if (auto* t = std::get_if<text_delta>(&ev)) {
      open(out);
      encoder_->text(out, t->text);
      return ex_->stream_write(std::move(out));
    }
    if (auto* tc = std::get_if<tool_call_delta>(&ev)) {
      open(out);
      encoder_->tool(out, *tc);
      return ex_->stream_write(std::move(out));
    }
    if (auto* n = std::get_if<stream_notice>(&ev)) {
      std::string line = std::string{to_string(n->kind)} + ": " + n->message;
      if (!n->from.empty())
        line += " (" + n->from + " -> " + n->to + ")";
      append_comment(head_sent_ ? out : pending_, line);
      return out.empty() || ex_->stream_write(std::move(out));
    }
    if (auto* end = std::get_if<stream_end>(&ev)) {
      open(out);
      encoder_->close(out, *end);
      ex_->stream_close(std::move(out));
      return finish();
    }
    auto& err = std::get<stream_error>(ev);
    auto mapped = map_failure(dialect_, err.failure);
    if (!head_sent_) {
      // Nothing reached the client: a normal error answer.
      add_trail_headers(headers_, err.attempts, false);
      ex_->respond(error_response(dialect_, mapped, std::move(headers_)));
      return finish();
    }
    if (mapped.status == 499)
      mapped.status = 500;
    mapped.message = "the stream broke after content: " + mapped.message;
    encoder_->fail(out, mapped);
    ex_->stream_close(std::move(out));
    return finish();
  }

private:
  // Sends the head and the opening events before the first content.
  void open(std::string& out) {
    if (head_sent_)
      return;
    head_sent_ = true;
    auto p = tracker_.of(id_);
    headers_.emplace_back("x-switchyard-provider", start_.provider);
    headers_.emplace_back("x-switchyard-model", start_.model);
    if (!p.deployment.empty())
      headers_.emplace_back("x-switchyard-deployment", p.deployment);
    // A replay from the cache made no attempt.
    auto attempts = start_.cache == cache_outcome::hit
                        ? 0u
                        : std::max<uint32_t>(1, p.attempts);
    headers_.emplace_back("x-switchyard-attempts", std::to_string(attempts));
    if (p.fell_back && p.last_failure)
      headers_.emplace_back("x-switchyard-fallback-reason",
                            std::string{to_string(*p.last_failure)});
    add_cache_header(headers_, start_.cache);
    ex_->stream_head(200, std::move(headers_));
    out += pending_;
    pending_.clear();
    encoder_->open(out, start_);
  }

  bool finish() {
    tracker_.forget(id_);
    calls_->running.fetch_sub(1, std::memory_order_acq_rel);
    return true;
  }

  attempt_tracker& tracker_;
  dialect dialect_;
  std::unique_ptr<sse_encoder> encoder_;
  header_list headers_;
  std::shared_ptr<exchange> ex_;
  std::shared_ptr<call_counter> calls_;
  /// Set before the call starts (so before any event).
  uint64_t id_ = 0;
  stream_start start_;
  bool head_sent_ = false;
  std::string pending_;
};

} // namespace

void run_call(engine& eng, attempt_tracker& tracker, dialect d,
              parsed_call call, call_options opts, header_list headers,
              std::shared_ptr<exchange> ex,
              std::shared_ptr<call_counter> calls) {
  calls->running.fetch_add(1, std::memory_order_acq_rel);
  if (call.stream) {
    auto sink = std::make_shared<sse_sink>(tracker, d, call.include_usage,
                                           std::move(headers), ex, calls);
    call.req.stream = true;
    auto id = eng.stream(std::move(call.req), std::move(opts), sink);
    ex->on_disconnect([&eng, id] { eng.cancel(id); });
    return;
  }
  auto done
      = [d, headers = std::move(headers), ex, calls](call_result r) mutable {
          if (r) {
            http_response res;
            res.headers = std::move(headers);
            if (r->attempts.empty()) {
              // A cache hit made no attempt: name who gave the answer.
              res.headers.emplace_back("x-switchyard-provider", r->provider);
              res.headers.emplace_back("x-switchyard-model", r->model);
            }
            add_trail_headers(res.headers, r->attempts, true);
            add_cache_header(res.headers, r->cache);
            res.body = render_response(d, *r);
            ex->respond(std::move(res));
          } else {
            add_trail_headers(headers, r.error().attempts, false);
            ex->respond(error_response(d, map_failure(d, r.error()),
                                       std::move(headers)));
          }
          calls->running.fetch_sub(1, std::memory_order_acq_rel);
        };
  auto id = eng.complete(std::move(call.req), std::move(opts), std::move(done));
  ex->on_disconnect([&eng, id] { eng.cancel(id); });
}

} // namespace switchyard::gateway
