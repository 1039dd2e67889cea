#define CAF_SUITE stream_attempt

#include "support_wire.hpp"
#include "switchyard/adapter.hpp"
#include "switchyard/stream.hpp"
#include "switchyard/transport.hpp"

#include <algorithm>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;

namespace {

wire_response stream_sample(std::string_view name) {
  auto sample = load_wire(name);
  if (!sample)
    CAF_FAIL(sample.error());
  CAF_REQUIRE_EQUAL(sample->responses.size(), 1u);
  return sample->responses[0];
}

/// The sample's body up to its first "Variant" note (the normal stream).
std::string normal_part(const wire_response& r) {
  return r.notes.empty() ? r.body : r.body.substr(0, r.notes[0].offset);
}

http_response ok_head() {
  return {200, {{"content-type", "text/event-stream"}}, {}};
}

/// Feeds `body` in pieces of `step` bytes; returns the forwarded events.
std::vector<stream_event> feed_all(stream_attempt& a, std::string_view body,
                                   size_t step) {
  std::vector<stream_event> out;
  for (size_t i = 0; i < body.size(); i += step)
    a.feed(body.substr(i, step), out);
  return out;
}

size_t count_starts(const std::vector<stream_event>& evs) {
  return static_cast<size_t>(
      std::count_if(evs.begin(), evs.end(), [](const stream_event& e) {
        return std::holds_alternative<stream_start>(e);
      }));
}

} // namespace

CAF_TEST(a complete stream forwards content and keeps the end for the verdict) {
  auto body = normal_part(stream_sample("anthropic-messages-stream.http"));
  for (size_t step : {size_t{1}, size_t{7}, body.size()}) {
    stream_attempt a{adapter_for(provider_kind::anthropic_messages)};
    auto evs = feed_all(a, body, step);
    CAF_CHECK_EQUAL(streamed_text(evs), "Hello!");
    CAF_CHECK_EQUAL(count_starts(evs), 1u);
    for (const auto& e : evs)
      CAF_CHECK(!std::holds_alternative<stream_end>(e));
    CAF_CHECK(a.terminated());
    auto v = a.finish(std::nullopt, ok_head(), test_now());
    CAF_CHECK(!v.failure);
    CAF_CHECK(v.produced_content);
    CAF_CHECK_EQUAL(v.status, 200);
    CAF_CHECK(v.finish == finish_reason::stop);
    CAF_CHECK_EQUAL(v.finish_raw, "end_turn");
    CAF_REQUIRE(v.usage.has_value());
    CAF_CHECK_EQUAL(v.usage->total_tokens, 13);
    CAF_CHECK_EQUAL(v.content_events, 2u);
  }
}

CAF_TEST(an openai stream ends with its done marker) {
  auto body = normal_part(stream_sample("openai-chat-stream.http"));
  stream_attempt a{adapter_for(provider_kind::openai_chat)};
  auto evs = feed_all(a, body, 3);
  CAF_CHECK(!streamed_text(evs).empty());
  auto v = a.finish(std::nullopt, ok_head(), test_now());
  CAF_CHECK(!v.failure);
  CAF_CHECK(v.finish == finish_reason::stop);
}

CAF_TEST(an in - stream error fails the attempt and stops decoding) {
  auto r = stream_sample("anthropic-messages-stream.http");
  CAF_REQUIRE(!r.notes.empty());
  stream_attempt a{adapter_for(provider_kind::anthropic_messages)};
  std::vector<stream_event> out;
  auto f = a.feed(r.body.substr(r.notes[0].offset), out);
  CAF_REQUIRE(f.has_value());
  CAF_CHECK(f->cls == error_class::overloaded);
  CAF_CHECK_EQUAL(streamed_text(out), "Hel");
  // Later bytes are ignored; the verdict repeats the in-stream error.
  std::vector<stream_event> later;
  CAF_CHECK(!a.feed(normal_part(r), later).has_value());
  CAF_CHECK(later.empty());
  auto v = a.finish(std::nullopt, ok_head(), test_now());
  CAF_REQUIRE(v.failure.has_value());
  CAF_CHECK_EQUAL(v.failure->code, "overloaded_error");
  CAF_CHECK(v.produced_content);
}

CAF_TEST(a stream cut before its marker is unterminated) {
  auto body = normal_part(stream_sample("openai-chat-stream.http"));
  auto done = body.find("data: [DONE]");
  CAF_REQUIRE_NOT_EQUAL(done, std::string::npos);
  stream_attempt a{adapter_for(provider_kind::openai_chat)};
  feed_all(a, body.substr(0, done), 5);
  CAF_CHECK(!a.terminated());
  auto v = a.finish(std::nullopt, ok_head(), test_now());
  CAF_REQUIRE(v.failure.has_value());
  CAF_CHECK(v.failure->cls == error_class::malformed);
  CAF_CHECK_EQUAL(v.failure->code, "stream_unterminated");
  CAF_CHECK(v.produced_content);
}

CAF_TEST(a terminated stream without content is empty) {
  stream_attempt a{adapter_for(provider_kind::openai_chat)};
  std::vector<stream_event> out;
  a.feed("data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"},"
         "\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
         out);
  auto v = a.finish(std::nullopt, ok_head(), test_now());
  CAF_REQUIRE(v.failure.has_value());
  CAF_CHECK_EQUAL(v.failure->code, "stream_empty");
  CAF_CHECK(!v.produced_content);
}

CAF_TEST(a transport failure wins over a missing marker) {
  stream_attempt a{adapter_for(provider_kind::openai_chat)};
  std::vector<stream_event> out;
  a.feed(
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n",
      out);
  auto v = a.finish(classify_transport_error(transport_error::recv_failed,
                                             "connection reset"),
                    ok_head(), test_now());
  CAF_REQUIRE(v.failure.has_value());
  CAF_CHECK(v.failure->cls == error_class::connection);
  CAF_CHECK_EQUAL(v.content_events, 1u);
}

CAF_TEST(a non 2xx stream is classified from its error body) {
  auto errors = load_wire("openai-errors.http");
  CAF_REQUIRE(errors.has_value());
  auto it
      = std::find_if(errors->responses.begin(), errors->responses.end(),
                     [](const wire_response& r) { return r.status == 429; });
  CAF_REQUIRE(it != errors->responses.end());
  stream_attempt a{adapter_for(provider_kind::openai_chat)};
  auto v = a.finish(std::nullopt, it->http(), test_now());
  CAF_REQUIRE(v.failure.has_value());
  CAF_CHECK(v.failure->cls == error_class::rate_limited
            || v.failure->cls == error_class::quota_exhausted);
  CAF_CHECK_EQUAL(v.status, 429);
  CAF_CHECK(!v.produced_content);
}

CAF_TEST(an empty continuation that terminates is complete) {
  const std::string_view body
      = "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
        "\"stop\"}]}\n\ndata: [DONE]\n\n";
  stream_attempt cont{adapter_for(provider_kind::openai_chat), false};
  std::vector<stream_event> out;
  cont.feed(body, out);
  auto v = cont.finish(std::nullopt, ok_head(), test_now());
  CAF_CHECK(!v.failure);
  CAF_CHECK(v.finish == finish_reason::stop);
  // The same stream as a fresh answer has no content: a failure.
  stream_attempt fresh{adapter_for(provider_kind::openai_chat)};
  fresh.feed(body, out);
  CAF_CHECK(fresh.finish(std::nullopt, ok_head(), test_now()).failure);
}
