#include "target.hpp"

#include <variant>

namespace switchyard::load {

namespace {

/// The answering deployment: the last attempt of the trail.
std::string answered_by(const std::vector<attempt_record>& attempts) {
  return attempts.empty() ? std::string{} : attempts.back().deployment;
}

/// Per-stream state, touched only by the stream's callback (which the
/// engine calls in order, one event at a time).
struct stream_state {
  result_callback done;
  request_result res;
  time_point last{};
};

class engine_target final : public target {
public:
  engine_target(engine& eng, bool stream, std::string route)
      : eng_(eng), stream_(stream) {
    opts_.route = std::move(route);
  }

  void send(uint64_t, const std::string& prompt,
            result_callback done) override {
    chat_request req;
    message msg;
    msg.text = prompt;
    req.messages.push_back(std::move(msg));
    if (!stream_) {
      eng_.complete(
          std::move(req), opts_, [done = std::move(done)](call_result r) {
            request_result res;
            if (r) {
              res.ok = true;
              res.deployment = answered_by(r->attempts);
            } else {
              res.error = std::string{to_string(r.error().failure.cls)};
            }
            done(std::move(res));
          });
      return;
    }
    auto st = std::make_shared<stream_state>();
    st->done = std::move(done);
    eng_.stream(std::move(req), opts_, [st](stream_event ev) {
      if (std::holds_alternative<text_delta>(ev)) {
        auto now = clock_type::now();
        if (!st->res.first_token)
          st->res.first_token = now;
        else
          st->res.gaps.push_back(now - st->last);
        st->last = now;
        ++st->res.tokens;
      } else if (auto* end = std::get_if<stream_end>(&ev)) {
        st->res.ok = true;
        st->res.deployment = answered_by(end->attempts);
        st->done(std::move(st->res));
      } else if (auto* err = std::get_if<stream_error>(&ev)) {
        st->res.ok = false;
        st->res.error = std::string{to_string(err->failure.cls)};
        st->done(std::move(st->res));
      }
    });
  }

  void stop() override {
    eng_.shutdown(std::chrono::milliseconds{200});
  }

private:
  engine& eng_;
  bool stream_;
  call_options opts_;
};

} // namespace

std::unique_ptr<target> make_engine_target(engine& eng, bool stream,
                                           std::string route) {
  return std::make_unique<engine_target>(eng, stream, std::move(route));
}

} // namespace switchyard::load
