#define CAF_SUITE actor_stream

#include "support_fixture.hpp"

#include <nlohmann/json.hpp>

using namespace switchyard;
using namespace switchyard::test;

namespace {

// `a` and `b` speak OpenAI chat (instruction-style continuation).
// First token within 2 s, then 5 s; a stream may run 20 s in all. Only
// connection failures are retried (once) on the same deployment.
std::string config(std::string_view mode) {
  return R"({
  "default_route": "r",
  "providers": {
    "pa": {"kind": "openai_chat", "base_url": "http://a.test"},
    "pb": {"kind": "openai_chat", "base_url": "http://b.test"},
    "pc": {"kind": "anthropic_messages", "base_url": "http://c.test"}
  },
  "deployments": {
    "a": {"provider": "pa", "model": "model-a"},
    "b": {"provider": "pb", "model": "model-b"},
    "c": {"provider": "pc", "model": "model-c"}
  },
  "routes": {
    "r": {"targets": ["a", "b"], "deadline_ms": 60000,
          "ladder_ms": [10000], "stream_failover": ")"
         + std::string{mode} + R"(",
          "stream": {"first_token_ms": [2000, 5000], "idle_ms": 3000,
                     "max_duration_ms": 20000},
          "retry": {"max_retries": {"connection": 1, "timeout": 0,
                                    "malformed": 0}},
          "backoff": {"base_ms": 100, "jitter": "none"}},
    "prefill": {"targets": ["a", "c"], "stream_failover": "continue",
                "retry": {"max_retries": {"connection": 0}}}
  }
})";
}

struct fixture : actor_fixture {
  void with(std::string_view mode) {
    start(config(mode));
  }

  /// The last job of deployment model `model`.
  uint64_t job_of(const std::string& model) {
    return client->last_job(model).id;
  }

  /// The messages of the last request sent to `model`.
  nlohmann::json messages_of(const std::string& model) {
    auto body = nlohmann::json::parse(client->last_job(model).job.request.body);
    return body.at("messages");
  }

  /// Breaks streamed job `job` as a dropped connection would.
  void drop(uint64_t job) {
    transfer_result tr = stream_ok();
    tr.error = transport_error::recv_failed;
    tr.detail = "connection reset";
    answer(job, std::move(tr));
  }
};

template <class T>
const T& nth(const std::vector<stream_event>& evs, size_t i) {
  CAF_REQUIRE(i < evs.size());
  CAF_REQUIRE(std::holds_alternative<T>(evs[i]));
  return std::get<T>(evs[i]);
}

using kinds = std::vector<std::string>;

/// Notes, when a stream's terminal event arrives, how many calls the engine
/// had reported finished by then.
class end_probe final : public stream_sink {
public:
  explicit end_probe(std::shared_ptr<event_log> log) : log_(std::move(log)) {
    // nop
  }

  bool on_event(stream_event ev) override {
    if (std::holds_alternative<stream_end>(ev)
        || std::holds_alternative<stream_error>(ev))
      finished_at_end = log_->count<call_finished>();
    return true;
  }

  std::optional<size_t> finished_at_end;

private:
  std::shared_ptr<event_log> log_;
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(actor_stream_tests, fixture)

CAF_TEST(a clean stream delivers start and text and end with usage) {
  with("error");
  auto id = stream();
  auto job = job_of("model-a");
  CAF_CHECK(client->job(0).job.stream);
  CAF_CHECK_EQUAL(timespan{*client->job(0).job.timeouts.first_byte},
                  timespan{2s});
  CAF_CHECK_EQUAL(timespan{*client->job(0).job.timeouts.idle}, timespan{3s});
  CAF_CHECK(!client->job(0).job.timeouts.total);
  chunk(job, sse_text("Hello"));
  chunk(job, sse_text(", world"));
  CAF_CHECK_EQUAL(event_kinds(streamed(id)), (kinds{"start", "text", "text"}));
  CAF_CHECK(!done(id));
  chunk(job, sse_done(4));
  CAF_CHECK(!done(id)); // the transfer has not ended yet
  answer(job, stream_ok());
  CAF_REQUIRE(done(id));
  const auto& evs = streamed(id);
  CAF_CHECK_EQUAL(event_kinds(evs), (kinds{"start", "text", "text", "end"}));
  auto& start = nth<stream_start>(evs, 0);
  CAF_CHECK_EQUAL(start.provider, "pa");
  CAF_CHECK_EQUAL(start.model, "served-model");
  CAF_CHECK_EQUAL(start.id, "chatcmpl-1");
  CAF_CHECK_EQUAL(text_of(evs), "Hello, world");
  auto& end = nth<stream_end>(evs, 3);
  CAF_CHECK(end.finish == finish_reason::stop);
  CAF_REQUIRE(end.usage.has_value());
  CAF_CHECK_EQUAL(end.usage->completion_tokens, 4);
  CAF_CHECK_EQUAL(end.usage->total_tokens, 11);
  CAF_REQUIRE_EQUAL(end.attempts.size(), 1u);
  CAF_CHECK_EQUAL(end.attempts[0].deployment, "a");
  CAF_CHECK(!end.attempts[0].cls);
}

CAF_TEST(the call is reported finished before its stream ends) {
  // Whoever the sink tells (a gateway's client) may read the metrics at
  // once: the call must be counted by then, for a clean end and an error.
  with("error");
  for (bool clean : {true, false}) {
    events->clear();
    auto probe = std::make_shared<end_probe>(events);
    stream_to(probe);
    auto job = job_of("model-a");
    chunk(job, sse_text("Hello"));
    if (clean) {
      chunk(job, sse_done(1));
      answer(job, stream_ok());
    } else {
      drop(job);
    }
    CAF_REQUIRE(probe->finished_at_end.has_value());
    CAF_CHECK_EQUAL(*probe->finished_at_end, 1u);
  }
}

CAF_TEST(no first token in time fails over invisibly) {
  with("error");
  auto id = stream();
  auto a = job_of("model-a");
  // A role-only chunk is not content: the first-token timer keeps running.
  chunk(a, "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":"
           "\"assistant\"}}]}\n\n");
  advance(2s - 1ns);
  CAF_CHECK(client->cancels().empty());
  advance(1ns);
  CAF_CHECK_EQUAL(client->cancels(), (std::vector<uint64_t>{a}));
  // The route retries only connection failures: a timeout falls back.
  CAF_REQUIRE_EQUAL(client->job_count("model-b"), 1u);
  // b's attempt is the second of the call: its rung is 5 s.
  CAF_CHECK_EQUAL(
      timespan{*client->last_job("model-b").job.timeouts.first_byte},
      timespan{5s});
  auto b = job_of("model-b");
  chunk(b, sse_text("from b") + sse_done());
  answer(b, stream_ok());
  CAF_REQUIRE(done(id));
  const auto& evs = streamed(id);
  CAF_CHECK_EQUAL(event_kinds(evs), (kinds{"start", "text", "end"}));
  CAF_CHECK_EQUAL(nth<stream_start>(evs, 0).provider, "pb");
  auto& end = nth<stream_end>(evs, 2);
  CAF_REQUIRE_EQUAL(end.attempts.size(), 2u);
  CAF_CHECK(end.attempts[0].cls == error_class::timeout);
  CAF_CHECK_EQUAL(end.attempts[0].reason.find("first_token_timeout")
                      != std::string::npos,
                  true);
}

CAF_TEST(the first token disarms the first token timer) {
  with("error");
  auto id = stream();
  auto a = job_of("model-a");
  advance(1s);
  chunk(a, sse_text("early"));
  advance(5s);
  CAF_CHECK(client->cancels().empty());
  chunk(a, sse_done());
  answer(a, stream_ok());
  CAF_REQUIRE(done(id));
  CAF_CHECK_EQUAL(event_kinds(streamed(id)), (kinds{"start", "text", "end"}));
}

CAF_TEST(streams of a deployment share one timer for their limits) {
  with("error");
  // Three streams on `a`, started 500 ms apart: their first-token limits
  // (2 s each) come due at 2 s, 2.5 s and 3 s.
  auto s1 = stream();
  auto j1 = job_of("model-a");
  advance(500ms);
  auto s2 = stream();
  auto j2 = job_of("model-a");
  advance(500ms);
  auto s3 = stream();
  auto j3 = job_of("model-a");
  // The second stream gets content in time; its limit is dropped.
  chunk(j2, sse_text("quick"));
  // One timer fires for the first limit (the router's deadline timer is
  // due much later) and cuts only the first stream.
  CAF_CHECK_EQUAL(advance(1s - 1ns), 0u);
  CAF_CHECK(client->cancels().empty());
  CAF_CHECK_EQUAL(advance(1ns), 1u);
  CAF_CHECK_EQUAL(client->cancels(), (std::vector<uint64_t>{j1}));
  // The next timer goes straight to the third stream's limit at 3 s: the
  // second's was dropped when its content came.
  CAF_CHECK_EQUAL(advance(1s - 1ns), 0u);
  CAF_CHECK_EQUAL(client->cancels(), (std::vector<uint64_t>{j1}));
  CAF_CHECK_EQUAL(advance(1ns), 1u);
  CAF_CHECK_EQUAL(client->cancels(), (std::vector<uint64_t>{j1, j3}));
  // The cut streams fell back to `b`; the second still runs on `a`.
  CAF_CHECK(!done(s1));
  CAF_CHECK(!done(s3));
  CAF_CHECK(!done(s2));
  CAF_CHECK_EQUAL(client->job_count("model-b"), 2u);
  chunk(j2, sse_done());
  answer(j2, stream_ok());
  CAF_REQUIRE(done(s2));
  CAF_CHECK_EQUAL(text_of(streamed(s2)), "quick");
}

CAF_TEST(a failure before content is retried on the same deployment unseen) {
  with("error");
  auto id = stream();
  drop(job_of("model-a")); // connection: one retry after 100 ms
  CAF_CHECK_EQUAL(client->job_count("model-a"), 1u);
  advance(100ms);
  CAF_REQUIRE_EQUAL(client->job_count("model-a"), 2u);
  auto a2 = job_of("model-a");
  chunk(a2, sse_text("second try") + sse_done());
  answer(a2, stream_ok());
  CAF_REQUIRE(done(id));
  CAF_CHECK_EQUAL(event_kinds(streamed(id)), (kinds{"start", "text", "end"}));
  CAF_CHECK_EQUAL(text_of(streamed(id)), "second try");
}

CAF_TEST(error policy ends a broken stream with an explicit error) {
  with("error");
  auto id = stream();
  auto a = job_of("model-a");
  chunk(a, sse_text("partial "));
  drop(a);
  CAF_REQUIRE(done(id));
  // No retry and no fallback once content reached the caller.
  CAF_CHECK_EQUAL(client->job_count(), 1u);
  const auto& evs = streamed(id);
  CAF_CHECK_EQUAL(event_kinds(evs), (kinds{"start", "text", "error"}));
  auto& err = nth<stream_error>(evs, 2);
  CAF_CHECK(err.failure.cls == error_class::connection);
  CAF_CHECK_NOT_EQUAL(err.failure.message.find("broke after content"),
                      std::string::npos);
  CAF_CHECK_NOT_EQUAL(err.failure.message.find("delivered 8 characters"),
                      std::string::npos);
  CAF_REQUIRE_EQUAL(err.attempts.size(), 1u);
  CAF_REQUIRE(err.attempts[0].usage.has_value());
  CAF_CHECK(err.attempts[0].usage_estimated);
  CAF_CHECK_EQUAL(err.attempts[0].usage->completion_tokens, 1);
}

CAF_TEST(an in - stream error after a 200 is recorded with status 200) {
  with("error");
  auto id = stream();
  auto a = job_of("model-a");
  client->job(0).sink->on_head(200, {});
  chunk(a, sse_text("partial "));
  chunk(a, "data: {\"error\":{\"message\":\"The server had an error\","
           "\"type\":\"server_error\"}}\n\n");
  CAF_REQUIRE(done(id));
  const auto& evs = streamed(id);
  CAF_REQUIRE_EQUAL(event_kinds(evs), (kinds{"start", "text", "error"}));
  auto& err = nth<stream_error>(evs, 2);
  CAF_REQUIRE_EQUAL(err.attempts.size(), 1u);
  CAF_CHECK_EQUAL(err.attempts[0].status, 200);
  CAF_CHECK(err.attempts[0].cls == error_class::server_error);
}

CAF_TEST(restart policy tells the caller to discard and starts over) {
  with("restart");
  auto id = stream();
  auto a = job_of("model-a");
  chunk(a, sse_text("partial"));
  drop(a);
  CAF_CHECK(!done(id));
  // The fallback gets the original request.
  CAF_CHECK_EQUAL(messages_of("model-b").size(), 1u);
  auto b = job_of("model-b");
  chunk(b, sse_text("full answer") + sse_done(2));
  answer(b, stream_ok());
  CAF_REQUIRE(done(id));
  const auto& evs = streamed(id);
  CAF_CHECK_EQUAL(event_kinds(evs),
                  (kinds{"start", "text", "notice", "start", "text", "end"}));
  auto& notice = nth<stream_notice>(evs, 2);
  CAF_CHECK_EQUAL(to_string(notice.kind), "restart");
  CAF_CHECK_EQUAL(notice.from, "a");
  CAF_CHECK_EQUAL(notice.to, "b");
  CAF_CHECK_EQUAL(nth<stream_start>(evs, 3).provider, "pb");
  CAF_CHECK_EQUAL(nth<text_delta>(evs, 4).text, "full answer");
  auto& end = nth<stream_end>(evs, 5);
  CAF_REQUIRE_EQUAL(end.attempts.size(), 2u);
  CAF_CHECK_EQUAL(end.attempts[0].deployment, "a");
  CAF_CHECK_EQUAL(end.attempts[1].deployment, "b");
  // Usage: b's report plus a's estimate (one content event).
  CAF_REQUIRE(end.usage.has_value());
  CAF_CHECK_EQUAL(end.usage->completion_tokens, 3);
}

CAF_TEST(continue policy asks the fallback to go on and joins the seam) {
  with("continue");
  auto id = stream();
  auto a = job_of("model-a");
  chunk(a, sse_text("The quick"));
  chunk(a, sse_text(" brown"));
  drop(a);
  CAF_CHECK(!done(id));
  // The fallback (OpenAI: instruction style) sees the partial answer as an
  // assistant turn, then the instruction.
  auto msgs = messages_of("model-b");
  CAF_REQUIRE_EQUAL(msgs.size(), 3u);
  CAF_CHECK_EQUAL(msgs[1].at("role"), "assistant");
  CAF_CHECK_EQUAL(msgs[1].at("content"), "The quick brown");
  CAF_CHECK_EQUAL(msgs[2].at("role"), "user");
  auto b = job_of("model-b");
  // It repeats " quick brown" (12 bytes) before going on: dropped.
  chunk(b, sse_text(" quick br"));
  chunk(b, sse_text("own fox jumps"));
  chunk(b, sse_done(3));
  answer(b, stream_ok());
  CAF_REQUIRE(done(id));
  const auto& evs = streamed(id);
  CAF_CHECK_EQUAL(text_of(evs), "The quick brown fox jumps");
  auto k = event_kinds(evs);
  CAF_REQUIRE_GREATER_OR_EQUAL(k.size(), 5u);
  CAF_CHECK_EQUAL(k[0], "start");
  CAF_CHECK_EQUAL(k[3], "notice");
  CAF_CHECK_EQUAL(std::count(k.begin(), k.end(), "start"), 1);
  auto& notice = nth<stream_notice>(evs, 3);
  CAF_CHECK_EQUAL(to_string(notice.kind), "continue");
  CAF_CHECK_EQUAL(notice.to, "b");
  auto& end = std::get<stream_end>(evs.back());
  CAF_REQUIRE_EQUAL(end.attempts.size(), 2u);
  CAF_CHECK_EQUAL(end.attempts[1].deployment, "b");
}

CAF_TEST(a prefill continuation is sent without trailing whitespace) {
  with("error");
  call_options opts;
  opts.route = "prefill";
  auto id = stream(opts);
  auto a = job_of("model-a");
  chunk(a, sse_text("Hello "));
  drop(a);
  // Anthropic continues the trimmed prefill: no instruction turn.
  auto msgs = messages_of("model-c");
  CAF_REQUIRE_EQUAL(msgs.size(), 2u);
  CAF_CHECK_EQUAL(msgs[1].at("role"), "assistant");
  CAF_CHECK_EQUAL(msgs[1].dump().find("Hello ") == std::string::npos, true);
  CAF_CHECK_NOT_EQUAL(msgs[1].dump().find("Hello"), std::string::npos);
  auto c = job_of("model-c");
  chunk(c, "event: message_start\ndata: {\"type\":\"message_start\","
           "\"message\":{\"id\":\"msg_1\",\"model\":\"model-c\","
           "\"usage\":{\"input_tokens\":5,\"output_tokens\":0}}}\n\n"
           "event: content_block_delta\ndata: {\"type\":"
           "\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
           "\"text_delta\",\"text\":\" world\"}}\n\n"
           "event: message_delta\ndata: {\"type\":\"message_delta\","
           "\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":"
           "{\"output_tokens\":2}}\n\n"
           "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
  answer(c, stream_ok());
  CAF_REQUIRE(done(id));
  const auto& evs = streamed(id);
  // The caller had "Hello "; the continuation's leading space is dropped.
  CAF_CHECK_EQUAL(text_of(evs), "Hello world");
  CAF_CHECK(std::holds_alternative<stream_end>(evs.back()));
}

CAF_TEST(a stream without its terminal marker is a failed attempt) {
  with("error");
  auto id = stream();
  auto a = job_of("model-a");
  answer(a, stream_ok()); // ends cleanly, but no content and no [DONE]
  CAF_REQUIRE_EQUAL(client->job_count("model-b"), 1u);
  auto b = job_of("model-b");
  chunk(b, sse_text("only text")); // no [DONE]
  answer(b, stream_ok());
  CAF_REQUIRE(done(id));
  const auto& evs = streamed(id);
  CAF_CHECK_EQUAL(event_kinds(evs), (kinds{"start", "text", "error"}));
  CAF_CHECK_EQUAL(nth<stream_error>(evs, 2).failure.code,
                  "stream_unterminated");
}

CAF_TEST(the total limit cuts a stream that runs too long) {
  with("error");
  auto id = stream();
  auto a = job_of("model-a");
  chunk(a, sse_text("slow"));
  advance(20s - 1ns);
  CAF_CHECK(!done(id));
  advance(1ns);
  CAF_REQUIRE(done(id));
  CAF_CHECK_EQUAL(client->cancels(), (std::vector<uint64_t>{a}));
  const auto& evs = streamed(id);
  CAF_CHECK_EQUAL(event_kinds(evs), (kinds{"start", "text", "error"}));
  CAF_CHECK_EQUAL(nth<stream_error>(evs, 2).failure.code,
                  "stream_max_duration");
}

CAF_TEST(events of an abandoned dispatch never reach the caller) {
  with("error");
  auto id = stream();
  advance(2s); // first-token timeout: a is cancelled, b starts
  auto b = job_of("model-b");
  // A late piece of a's stream (already in flight) must be ignored.
  auto stale = client->job(0).sink;
  stale->on_chunk(sse_text("stale"));
  consume_messages();
  chunk(b, sse_text("fresh") + sse_done());
  answer(b, stream_ok());
  CAF_REQUIRE(done(id));
  CAF_CHECK_EQUAL(text_of(streamed(id)), "fresh");
}

CAF_TEST(cancel mid - stream frees the upstream and ends with an error) {
  with("continue");
  auto id = stream();
  auto a = job_of("model-a");
  chunk(a, sse_text("some"));
  cancel(id);
  CAF_REQUIRE(done(id));
  CAF_CHECK_EQUAL(client->cancels(), (std::vector<uint64_t>{a}));
  CAF_CHECK_EQUAL(client->job_count(), 1u); // no fallback after a cancel
  const auto& evs = streamed(id);
  CAF_CHECK_EQUAL(event_kinds(evs), (kinds{"start", "text", "error"}));
  CAF_CHECK(nth<stream_error>(evs, 2).failure.cls == error_class::cancelled);
}

CAF_TEST(a full sink cancels the call with a slow consumer error) {
  with("continue");
  auto id = stream({}, 3);
  auto a = job_of("model-a");
  chunk(a, sse_text("one") + sse_text(" two"));
  CAF_CHECK(!done(id));
  chunk(a, sse_text(" three"));
  CAF_REQUIRE(done(id));
  CAF_CHECK_EQUAL(client->cancels(), (std::vector<uint64_t>{a}));
  CAF_CHECK_EQUAL(client->job_count(), 1u);
  const auto& evs = streamed(id);
  CAF_CHECK_EQUAL(event_kinds(evs), (kinds{"start", "text", "text", "error"}));
  CAF_CHECK_EQUAL(nth<stream_error>(evs, 3).failure.code, "slow_consumer");
}

CAF_TEST(the deadline ends a running stream with an error) {
  with("restart");
  call_options opts;
  opts.deadline = 4s;
  auto id = stream(opts);
  auto a = job_of("model-a");
  chunk(a, sse_text("abc"));
  advance(4s);
  CAF_REQUIRE(done(id));
  CAF_CHECK_EQUAL(client->cancels(), (std::vector<uint64_t>{a}));
  const auto& evs = streamed(id);
  CAF_CHECK_EQUAL(event_kinds(evs), (kinds{"start", "text", "error"}));
  CAF_CHECK_EQUAL(nth<stream_error>(evs, 2).failure.code, "deadline_exceeded");
}

CAF_TEST_FIXTURE_SCOPE_END()
