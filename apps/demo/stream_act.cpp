#include "stream_act.hpp"

#include <chrono>
#include <cstdio>
#include <string>
#include <variant>

namespace switchyard::demo {

namespace {

chat_request story_request() {
  chat_request req;
  message msg;
  msg.from = role::user;
  msg.text = "Tell me a short story about a switchyard.";
  req.messages.push_back(std::move(msg));
  return req;
}

/// Every piece of text the stream delivered, concatenated.
std::string text_of(const std::vector<stream_event>& evs) {
  std::string out;
  for (const auto& ev : evs)
    if (const auto* t = std::get_if<text_delta>(&ev))
      out += t->text;
  return out;
}

} // namespace

bool run_stream_act(engine& eng, bool quiet) {
  if (!quiet)
    std::printf("\n== streaming: route \"stream\", primary-stream drops the "
                "connection after 6 words; stream_failover \"continue\" "
                "finishes the answer on local-stream\n\n  ");
  call_options opts;
  opts.route = "stream";
  auto reader = eng.stream(story_request(), opts);
  std::vector<stream_event> events;
  bool ended = false;
  bool ok = false;
  while (!ended) {
    auto ev = reader->next(std::chrono::seconds{30});
    if (!ev) {
      std::printf("\n  no event for 30 s: giving up\n");
      break;
    }
    if (!quiet) {
      if (const auto* t = std::get_if<text_delta>(&*ev)) {
        std::printf("%s", t->text.c_str());
      } else if (const auto* s = std::get_if<stream_start>(&*ev)) {
        std::printf("[start: %s / %s] ", s->provider.c_str(), s->model.c_str());
      } else if (const auto* n = std::get_if<stream_notice>(&*ev)) {
        std::printf(" [%s: %s -> %s]", std::string{to_string(n->kind)}.c_str(),
                    n->from.c_str(), n->to.c_str());
      }
      std::fflush(stdout);
    }
    if (const auto* end = std::get_if<stream_end>(&*ev)) {
      ended = ok = true;
      if (!quiet) {
        std::printf("\n\n  stream_end: finish %s, %zu attempts (",
                    std::string{to_string(end->finish)}.c_str(),
                    end->attempts.size());
        for (size_t i = 0; i < end->attempts.size(); ++i)
          std::printf("%s%s", i == 0 ? "" : ", ",
                      end->attempts[i].deployment.c_str());
        std::printf(")");
        if (end->usage)
          std::printf(", usage %lld+%lld tokens",
                      static_cast<long long>(end->usage->prompt_tokens),
                      static_cast<long long>(end->usage->completion_tokens));
        std::printf("\n");
      }
    } else if (const auto* err = std::get_if<stream_error>(&*ev)) {
      ended = true;
      std::printf("\n  stream_error: %s\n", to_string(err->failure).c_str());
    }
    events.push_back(std::move(*ev));
  }
  if (!ok)
    return false;
  // The fallback's own answer, asked plainly: the joined stream must equal
  // it, with no gap and no repeat at the seam.
  call_options pin;
  pin.route = "stream";
  pin.pin = "local-stream";
  auto plain = eng.complete(story_request(), pin).get();
  if (!plain) {
    std::printf("  could not ask local-stream for its full answer: %s\n",
                to_string(plain.error().failure).c_str());
    return false;
  }
  bool same = text_of(events) == plain->text;
  std::printf("  the caller's text %s the full answer (%zu characters)\n",
              same ? "equals" : "DIFFERS FROM", plain->text.size());
  return same;
}

} // namespace switchyard::demo
