#define CAF_SUITE stream_failover
// Streamed calls through the real engine against two real mocks started
// with the same seed: a faulty primary (faults in its provider's headers) and
// a healthy fallback serving the same model, so both know the same
// deterministic answer. One test per route policy and fault.
#include "integration/support_engine.hpp"
#include "integration/support_http.hpp"

#include <algorithm>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

using steady = std::chrono::steady_clock;

const std::string model = "gpt-4o-mini";
const std::string primary_dep = "primary-gpt";
const std::string fallback_dep = "fallback-gpt";

/// A stream fault the primary's mock injects, and the words it delivers.
struct fault_case {
  std::string header;
  /// Words that reach the caller before the fault; -1: all of them.
  int delivered;
};

const fault_case drop{"drop_after=3", 3};
const fault_case error_event{"error_event_after=3", 3};
const fault_case stall{"stall_after=3", 3};
const fault_case no_done{"no_done", -1};

/// Two mocks with the same seed and an engine whose route `chat` goes from
/// the faulty primary (OpenAI chat) to the fallback (a prefill-style kind).
/// Route `reference` asks the fallback's mock as OpenAI chat: the same
/// answer the primary would give, without touching the primary's mock (whose
/// open connections some tests count).
struct rig {
  mock_server primary = start_mock({"--seed", "7"});
  mock_server fallback = start_mock({"--seed", "7"});
  std::unique_ptr<engine> eng;
  /// The deterministic answer and its usage, asked without a stream.
  std::string full;
  usage full_usage;

  /// `fallback_fault`: the fallback's faults (e.g. "overlap=12", a
  /// continuation that repeats the end of what it continues).
  rig(std::string_view policy, std::string_view fault,
      std::string_view fallback_kind = "anthropic_messages",
      std::string_view fallback_fault = "") {
    json fault_headers = json::object();
    if (!fault.empty())
      fault_headers["x-mock-fault"] = fault;
    json fallback_headers = json::object();
    if (!fallback_fault.empty())
      fallback_headers["x-mock-fault"] = fallback_fault;
    json no_retries = {{"rate_limited", 0},
                       {"server_error", 0},
                       {"timeout", 0},
                       {"malformed", 0}};
    json cfg = {
        {"providers",
         {{"primary", mock_provider(primary, "openai_chat", fault_headers)},
          {"fallback",
           mock_provider(fallback, fallback_kind, fallback_headers)},
          {"reference", mock_provider(fallback)}}},
        {"deployments",
         {{primary_dep, {{"provider", "primary"}, {"model", model}}},
          {fallback_dep, {{"provider", "fallback"}, {"model", model}}},
          {"reference-gpt", {{"provider", "reference"}, {"model", model}}}}},
        {"routes",
         {{"chat",
           {{"targets", {primary_dep, fallback_dep}},
            {"deadline_ms", 10000},
            {"ladder_ms", {5000}},
            {"stream_failover", policy},
            // 300 ms to the first token of the first attempt, 3 s later.
            {"stream", {{"first_token_ms", {300, 3000}}, {"idle_ms", 300}}},
            {"retry", {{"max_retries", no_retries}}},
            {"backoff", {{"base_ms", 1}, {"cap_ms", 10}}},
            {"breaker", {{"consecutive_failures", 0}, {"failure_rate", 0}}}}},
          {"reference", {{"targets", {"reference-gpt"}}}}}},
        {"default_route", "chat"},
        {"engine", {{"threads", 2}}},
    };
    eng = make_engine(cfg);
    call_options opts;
    opts.route = "reference";
    auto ref = run_call(*eng, question(), opts);
    if (!*ref.result)
      CAF_FAIL(
          "reference call failed: " << to_string(ref.result->error().failure));
    full = (*ref.result)->text;
    full_usage = (*ref.result)->usage;
    CAF_REQUIRE(!full.empty());
    // Only the streamed call counts from here on.
    http_post(primary.base_url() + "/mock/stats/reset", "");
    http_post(fallback.base_url() + "/mock/stats/reset", "");
  }

  ~rig() {
    eng->shutdown();
  }

  static chat_request question() {
    return user_request("describe the yard where trains are sorted");
  }

  /// Streams the question through route `chat` and waits for its end.
  std::vector<stream_event> stream() {
    auto cap = stream_capture::make();
    auto t0 = steady::now();
    eng->stream(question(), {}, cap->callback());
    if (!cap->wait_done(8s))
      CAF_FAIL(
          "the stream did not end within 8 s: " << describe(cap->events()));
    elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        *cap->done_at() - t0);
    auto evs = cap->events();
    CAF_MESSAGE("events: " << describe(evs));
    return evs;
  }

  /// The first `n` words of the full answer.
  std::string first_words(int n) const {
    if (n < 0)
      return full;
    size_t pos = 0;
    for (int i = 0; i < n && pos != std::string::npos; ++i)
      pos = full.find(' ', pos + 1);
    return pos == std::string::npos ? full : full.substr(0, pos);
  }

  /// The number of words of the full answer.
  int64_t words() const {
    return std::count(full.begin(), full.end(), ' ') + 1;
  }

  int64_t requests_to(const mock_server& m) const {
    return mock_total(m);
  }

  std::chrono::milliseconds elapsed{0};
};

template <class T>
size_t count_of(const std::vector<stream_event>& evs) {
  return events_of<T>(evs).size();
}

/// The index of the first event of type `T`, or evs.size().
template <class T>
size_t index_of(const std::vector<stream_event>& evs) {
  for (size_t i = 0; i < evs.size(); ++i)
    if (std::holds_alternative<T>(evs[i]))
      return i;
  return evs.size();
}

/// The events before index `end`.
std::vector<stream_event> head(const std::vector<stream_event>& evs,
                               size_t end) {
  return {evs.begin(),
          evs.begin() + static_cast<ptrdiff_t>(std::min(end, evs.size()))};
}

/// Every stream: exactly one terminal event, and it is the last one.
void check_well_formed(const std::vector<stream_event>& evs) {
  CAF_REQUIRE(!evs.empty());
  CAF_CHECK(is_terminal(evs.back()));
  CAF_CHECK_EQUAL(std::count_if(evs.begin(), evs.end(),
                                [](const auto& ev) { return is_terminal(ev); }),
                  1);
  CAF_CHECK(std::holds_alternative<stream_start>(evs.front()));
  for (const auto& t : events_of<text_delta>(evs))
    CAF_CHECK(!t.text.empty());
}

/// The trail of a failover: the primary failed, then the fallback answered.
void check_failover_trail(const std::vector<attempt_record>& trail) {
  CAF_REQUIRE_EQUAL(trail.size(), 2u);
  CAF_CHECK_EQUAL(trail[0].deployment, primary_dep);
  CAF_CHECK(trail[0].cls.has_value());
  CAF_CHECK_EQUAL(trail[1].deployment, fallback_dep);
  CAF_CHECK(!trail[1].cls.has_value());
}

/// A fallback before any content: the caller sees one `stream_start` (of the
/// fallback), the fallback's whole answer and a `stream_end` naming both
/// deployments.
void check_invisible_fallback(rig& r, const std::vector<stream_event>& evs) {
  check_well_formed(evs);
  CAF_CHECK_EQUAL(count_of<stream_start>(evs), 1u);
  CAF_CHECK_EQUAL(count_of<stream_notice>(evs), 0u);
  CAF_CHECK_EQUAL(count_of<stream_error>(evs), 0u);
  auto starts = events_of<stream_start>(evs);
  if (!starts.empty())
    CAF_CHECK_EQUAL(starts.front().provider, "fallback");
  CAF_CHECK_EQUAL(text_of(evs), r.full);
  auto ends = events_of<stream_end>(evs);
  CAF_REQUIRE_EQUAL(ends.size(), 1u);
  const auto& trail = ends.front().attempts;
  check_failover_trail(trail);
  CAF_REQUIRE(ends.front().usage.has_value());
  CAF_CHECK_EQUAL(ends.front().usage->completion_tokens,
                  r.full_usage.completion_tokens);
  CAF_CHECK_EQUAL(r.requests_to(r.primary), 1);
  CAF_CHECK_EQUAL(r.requests_to(r.fallback), 1);
}

/// Policy `error` after content: the partial answer, then a `stream_error`
/// saying the stream broke after content; the fallback is never asked.
void check_error_after_content(rig& r, const fault_case& f,
                               const std::vector<stream_event>& evs) {
  check_well_formed(evs);
  CAF_CHECK_EQUAL(count_of<stream_start>(evs), 1u);
  CAF_CHECK_EQUAL(count_of<stream_notice>(evs), 0u);
  CAF_CHECK_EQUAL(count_of<stream_end>(evs), 0u);
  auto starts = events_of<stream_start>(evs);
  if (!starts.empty())
    CAF_CHECK_EQUAL(starts.front().provider, "primary");
  CAF_CHECK_EQUAL(text_of(evs), r.first_words(f.delivered));
  auto errors = events_of<stream_error>(evs);
  CAF_REQUIRE_EQUAL(errors.size(), 1u);
  const auto& err = errors.front();
  CAF_CHECK_NOT_EQUAL(err.failure.message.find("after content"),
                      std::string::npos);
  CAF_CHECK(err.failure.cls != error_class::cancelled);
  CAF_REQUIRE_EQUAL(err.attempts.size(), 1u);
  CAF_CHECK_EQUAL(err.attempts[0].deployment, primary_dep);
  CAF_CHECK(err.attempts[0].cls.has_value());
  CAF_CHECK_EQUAL(r.requests_to(r.fallback), 0);
}

/// Policy `restart` after content: the partial answer, a `restart` notice, a
/// new `stream_start` of the fallback, its whole answer, `stream_end`.
void check_restart(rig& r, const fault_case& f,
                   const std::vector<stream_event>& evs) {
  check_well_formed(evs);
  CAF_CHECK_EQUAL(count_of<stream_error>(evs), 0u);
  CAF_REQUIRE_EQUAL(count_of<stream_notice>(evs), 1u);
  auto at = index_of<stream_notice>(evs);
  auto before = head(evs, at);
  std::vector<stream_event> after{evs.begin() + static_cast<ptrdiff_t>(at) + 1,
                                  evs.end()};
  CAF_CHECK_EQUAL(text_of(before), r.first_words(f.delivered));
  CAF_CHECK_EQUAL(count_of<stream_start>(before), 1u);
  if (!before.empty() && std::holds_alternative<stream_start>(before.front()))
    CAF_CHECK_EQUAL(std::get<stream_start>(before.front()).provider, "primary");
  auto notice = std::get<stream_notice>(evs[at]);
  CAF_CHECK_EQUAL(notice.kind, "restart");
  CAF_CHECK_EQUAL(notice.from, primary_dep);
  CAF_CHECK_EQUAL(notice.to, fallback_dep);
  CAF_CHECK(!notice.message.empty());
  // The answer starts again, from the fallback.
  CAF_REQUIRE(!after.empty());
  CAF_REQUIRE(std::holds_alternative<stream_start>(after.front()));
  CAF_CHECK_EQUAL(std::get<stream_start>(after.front()).provider, "fallback");
  CAF_CHECK_EQUAL(count_of<stream_start>(after), 1u);
  CAF_CHECK_EQUAL(text_of(after), r.full);
  auto ends = events_of<stream_end>(evs);
  CAF_REQUIRE_EQUAL(ends.size(), 1u);
  const auto& trail = ends.front().attempts;
  check_failover_trail(trail);
  CAF_REQUIRE(ends.front().usage.has_value());
  CAF_CHECK_GREATER_OR_EQUAL(ends.front().usage->completion_tokens,
                             r.full_usage.completion_tokens);
  CAF_CHECK_EQUAL(r.requests_to(r.fallback), 1);
}

/// Policy `continue` after content: the partial answer, a `continue`
/// notice, the rest from the fallback without gap or repetition, and a
/// `stream_end` whose usage and trail cover both attempts.
void check_continue(rig& r, const fault_case& f,
                    const std::vector<stream_event>& evs) {
  check_well_formed(evs);
  CAF_CHECK_EQUAL(count_of<stream_error>(evs), 0u);
  CAF_CHECK_EQUAL(count_of<stream_start>(evs), 1u);
  auto starts = events_of<stream_start>(evs);
  if (!starts.empty())
    CAF_CHECK_EQUAL(starts.front().provider, "primary");
  CAF_REQUIRE_EQUAL(count_of<stream_notice>(evs), 1u);
  auto at = index_of<stream_notice>(evs);
  auto partial = text_of(head(evs, at));
  CAF_CHECK_EQUAL(partial, r.first_words(f.delivered));
  auto notice = std::get<stream_notice>(evs[at]);
  CAF_CHECK_EQUAL(notice.kind, "continue");
  CAF_CHECK_EQUAL(notice.from, primary_dep);
  CAF_CHECK_EQUAL(notice.to, fallback_dep);
  // No gap, no duplicate at the seam.
  CAF_CHECK_EQUAL(text_of(evs), r.full);
  auto ends = events_of<stream_end>(evs);
  CAF_REQUIRE_EQUAL(ends.size(), 1u);
  const auto& end = ends.front();
  check_failover_trail(end.attempts);
  // The fallback alone reports the words it added and a prompt that
  // includes the partial answer as a prefill; both attempts count more.
  auto k = f.delivered < 0 ? r.words() : f.delivered;
  CAF_REQUIRE(end.usage.has_value());
  CAF_CHECK_GREATER(end.usage->completion_tokens,
                    r.full_usage.completion_tokens - k);
  CAF_CHECK_GREATER(end.usage->prompt_tokens, r.full_usage.prompt_tokens + k);
  CAF_CHECK_EQUAL(end.usage->total_tokens,
                  end.usage->prompt_tokens + end.usage->completion_tokens);
  CAF_CHECK_EQUAL(r.requests_to(r.fallback), 1);
}

} // namespace

// -- failures before the first content: invisible ----------------------------

CAF_TEST(a slow first token falls back invisibly under every policy) {
  for (auto policy : {"error", "restart", "continue"}) {
    CAF_MESSAGE("policy " << policy);
    // The primary's first byte would come after 3 s; 300 ms are allowed.
    rig r{policy, "first_byte=3000"};
    auto evs = r.stream();
    check_invisible_fallback(r, evs);
    CAF_CHECK_LESS(r.elapsed, 2500ms);
    auto ends = events_of<stream_end>(evs);
    if (!ends.empty() && !ends.front().attempts.empty())
      CAF_CHECK(ends.front().attempts[0].cls == error_class::timeout);
  }
}

CAF_TEST(a stream dropped before content falls back invisibly) {
  for (auto policy : {"error", "restart", "continue"}) {
    CAF_MESSAGE("policy " << policy);
    // The primary sends its role chunk (no content), then drops.
    rig r{policy, "drop_after=0"};
    check_invisible_fallback(r, r.stream());
  }
}

CAF_TEST(an empty stream is a failed attempt and falls back invisibly) {
  for (auto policy : {"error", "restart", "continue"}) {
    CAF_MESSAGE("policy " << policy);
    rig r{policy, "empty"};
    check_invisible_fallback(r, r.stream());
  }
}

CAF_TEST(an overloaded primary falls back invisibly) {
  rig r{"error", "overloaded"};
  auto evs = r.stream();
  check_invisible_fallback(r, evs);
  auto ends = events_of<stream_end>(evs);
  if (!ends.empty() && !ends.front().attempts.empty())
    CAF_CHECK_EQUAL(ends.front().attempts[0].status, 503);
}

// -- policy error
// --------------------------------------------------------------

CAF_TEST(error policy after a drop ends with an error) {
  rig r{"error", drop.header};
  check_error_after_content(r, drop, r.stream());
}

CAF_TEST(error policy after an error event ends with an error) {
  rig r{"error", error_event.header};
  check_error_after_content(r, error_event, r.stream());
}

CAF_TEST(error policy after a stall ends with an error and frees upstream) {
  rig r{"error", stall.header};
  auto evs = r.stream();
  check_error_after_content(r, stall, evs);
  auto errors = events_of<stream_error>(evs);
  if (!errors.empty())
    CAF_CHECK(errors.front().failure.cls == error_class::timeout);
  // The stalled transfer was given up: the mock sees its connection close.
  CAF_CHECK(eventually(
      [&] {
        return mock_stats(r.primary)["open_connections"].get<int64_t>() == 0;
      },
      2s));
}

CAF_TEST(
    error policy after a stream without its end marker ends with an error) {
  rig r{"error", no_done.header};
  check_error_after_content(r, no_done, r.stream());
}

// -- policy restart
// ------------------------------------------------------------

CAF_TEST(restart policy after a drop restarts on the fallback) {
  rig r{"restart", drop.header};
  check_restart(r, drop, r.stream());
}

CAF_TEST(restart policy after an error event restarts on the fallback) {
  rig r{"restart", error_event.header};
  check_restart(r, error_event, r.stream());
}

CAF_TEST(restart policy after a stall restarts on the fallback) {
  rig r{"restart", stall.header};
  auto evs = r.stream();
  check_restart(r, stall, evs);
  auto ends = events_of<stream_end>(evs);
  if (!ends.empty() && !ends.front().attempts.empty())
    CAF_CHECK(ends.front().attempts[0].cls == error_class::timeout);
  CAF_CHECK(eventually(
      [&] {
        return mock_stats(r.primary)["open_connections"].get<int64_t>() == 0;
      },
      2s));
}

CAF_TEST(restart policy after a stream without its end marker restarts) {
  rig r{"restart", no_done.header};
  check_restart(r, no_done, r.stream());
}

// -- policy continue
// -----------------------------------------------------------

CAF_TEST(continue policy after a drop continues on the fallback) {
  rig r{"continue", drop.header};
  check_continue(r, drop, r.stream());
}

CAF_TEST(continue policy after an error event continues on the fallback) {
  rig r{"continue", error_event.header};
  check_continue(r, error_event, r.stream());
}

CAF_TEST(continue policy after a stall continues on an openai_compatible) {
  rig r{"continue", stall.header, "openai_compatible"};
  auto evs = r.stream();
  check_continue(r, stall, evs);
  auto ends = events_of<stream_end>(evs);
  if (!ends.empty() && !ends.front().attempts.empty())
    CAF_CHECK(ends.front().attempts[0].cls == error_class::timeout);
}

CAF_TEST(continue policy drops what an overlapping continuation repeats) {
  // The fallback re-sends the last 12 characters of the partial answer
  // before the rest: the caller's text is still exact.
  for (auto kind : {"anthropic_messages", "openai_compatible"}) {
    rig r{"continue", drop.header, kind, "overlap=12"};
    check_continue(r, drop, r.stream());
  }
}

CAF_TEST(continue policy after a stream without its end marker completes) {
  // Everything was delivered; the fallback's continuation is empty, and the
  // answer stays whole.
  rig r{"continue", no_done.header};
  check_continue(r, no_done, r.stream());
}

CAF_TEST(an overlapping continuation of a whole answer adds nothing) {
  // The fallback repeats the last 12 characters and nothing else.
  rig r{"continue", no_done.header, "anthropic_messages", "overlap=12"};
  check_continue(r, no_done, r.stream());
}
