#define CAF_SUITE adapter_headers
#include "engine/support_wire.hpp"
#include "switchyard/adapter.hpp"

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;

namespace {

std::optional<timespan> retry_after(header_list hs,
                                    wall_time now = test_now()) {
  return parse_retry_after(hs, now);
}

wall_time utc(int y, unsigned mo, unsigned d, int h, int mi, int s) {
  using namespace std::chrono;
  return wall_time{sys_days{year{y} / month{mo} / day{d}}.time_since_epoch()
                   + hours{h} + minutes{mi} + seconds{s}};
}

std::optional<timespan> reset_requests(std::string value,
                                       std::string name
                                       = "x-ratelimit-reset-requests") {
  return parse_rate_limit_headers({{std::move(name), std::move(value)}},
                                  test_now())
      .reset_requests;
}

} // namespace

CAF_TEST(provider kinds round - trip through their names) {
  for (auto k :
       {provider_kind::openai_chat, provider_kind::anthropic_messages,
        provider_kind::gemini, provider_kind::azure_openai,
        provider_kind::openai_compatible, provider_kind::openai_completions}) {
    auto parsed = parse_provider_kind(to_string(k));
    CAF_REQUIRE(parsed.has_value());
    CAF_CHECK(*parsed == k);
    CAF_CHECK(adapter_for(k).kind() == k);
    CAF_CHECK(&adapter_for(k) == &adapter_for(k));
  }
  CAF_CHECK_EQUAL(to_string(provider_kind::anthropic_messages),
                  "anthropic_messages");
  CAF_CHECK(!parse_provider_kind("openai").has_value());
  CAF_CHECK(!parse_provider_kind("").has_value());
}

CAF_TEST(retry - after in seconds allows fractions) {
  CAF_CHECK(retry_after({{"Retry-After", "2"}}) == timespan{2s});
  CAF_CHECK(retry_after({{"retry-after", "1.5"}}) == timespan{1500ms});
  CAF_CHECK(retry_after({{"retry-after", " 0 "}}) == timespan{0s});
  CAF_CHECK(!retry_after({}).has_value());
}

CAF_TEST(millisecond headers win over retry - after) {
  CAF_CHECK(retry_after({{"retry-after", "2"}, {"retry-after-ms", "1850"}})
            == timespan{1850ms});
  CAF_CHECK(retry_after({{"retry-after-ms", "12.5"}}) == timespan{12500us});
  CAF_CHECK(retry_after({{"retry-after", "9"}, {"x-ms-retry-after-ms", "250"}})
            == timespan{250ms});
  // A broken millisecond header does not hide a usable retry-after.
  CAF_CHECK(retry_after({{"retry-after-ms", "soon"}, {"retry-after", "3"}})
            == timespan{3s});
}

CAF_TEST(retry - after as an HTTP date is relative to now) {
  auto now = utc(2026, 10, 21, 7, 27, 30);
  CAF_CHECK(retry_after({{"retry-after", "Wed, 21 Oct 2026 07:28:00 GMT"}}, now)
            == timespan{30s});
  CAF_CHECK(retry_after({{"retry-after", "Wed, 21 Oct 2026 07:28:00 GMT"}},
                        now + 5min)
            == timespan{0s});
  CAF_CHECK(retry_after({{"retry-after", "Thu, 01 Jan 2027 00:00:00 GMT"}},
                        utc(2026, 12, 31, 23, 59, 59))
            == timespan{1s});
}

CAF_TEST(retry - after reads the obsolete HTTP date forms too) {
  auto now = utc(2026, 10, 21, 7, 27, 30);
  // RFC 850, two-digit year: 26 is 2026.
  CAF_CHECK(
      retry_after({{"retry-after", "Wednesday, 21-Oct-26 07:28:00 GMT"}}, now)
      == timespan{30s});
  // asctime, with a space-padded day.
  CAF_CHECK(retry_after({{"retry-after", "Sun Nov  1 00:00:00 2026"}},
                        utc(2026, 10, 31, 23, 59, 58))
            == timespan{2s});
  CAF_CHECK(retry_after({{"retry-after", "Wed Oct 21 07:28:10 2026"}}, now)
            == timespan{40s});
  // A two-digit year more than 50 years ahead is in the past: 99 is 1999,
  // so the wait is already over.
  CAF_CHECK(
      retry_after({{"retry-after", "Friday, 01-Jan-99 00:00:00 GMT"}}, now)
      == timespan{0s});
}

CAF_TEST(garbage wait hints are ignored) {
  for (auto v :
       {"soon", "-1", "1.5.2", "", "inf", "nan", "1e400", "2s", "0x10",
        "Wed, 32 Oct 2026 07:28:00 GMT", "Wed, 21 Foo 2026 07:28:00 GMT",
        "Wed, 21 Oct 2026 25:28:00 GMT", "21 Oct 2026 07:28:00 GMT",
        "Wed, 21 Oct 2026 07:28:00 UTC", "Wed, 21-Oct-26 07:28:00 GMT",
        "Wednesday, 21-Oct-2026 07:28:00 GMT", "Wed Oct 21 07:28:00 26",
        "Wed Oct 21 7:28:00 2026"}) {
    CAF_MESSAGE("value '" << v << "'");
    CAF_CHECK(!retry_after({{"retry-after", v}}).has_value());
    CAF_CHECK(!retry_after({{"retry-after-ms", v}}).has_value());
  }
}

CAF_TEST(x - should - retry reads true and false only) {
  CAF_CHECK(parse_should_retry({{"x-should-retry", "true"}})
            == std::optional<bool>{true});
  CAF_CHECK(parse_should_retry({{"X-Should-Retry", "FALSE"}})
            == std::optional<bool>{false});
  CAF_CHECK(!parse_should_retry({{"x-should-retry", "maybe"}}).has_value());
  CAF_CHECK(!parse_should_retry({{"x-should-retry", "1"}}).has_value());
  CAF_CHECK(!parse_should_retry({}).has_value());
}

CAF_TEST(openai reset durations read go - style units) {
  CAF_CHECK(reset_requests("6ms") == timespan{6ms});
  CAF_CHECK(reset_requests("1.85s") == timespan{1850ms});
  CAF_CHECK(reset_requests("1m30s") == timespan{90s});
  CAF_CHECK(reset_requests("2h0m0s") == timespan{2h});
  CAF_CHECK(reset_requests("1m0.5s") == timespan{60500ms});
  CAF_CHECK(reset_requests("3") == timespan{3s});
  for (auto v : {"", "abc", "5x", "s", "1m-3s", "-5s", "1.2.3s"}) {
    CAF_MESSAGE("value '" << v << "'");
    CAF_CHECK(!reset_requests(v).has_value());
  }
}

CAF_TEST(anthropic resets are timestamps relative to now) {
  auto name = "anthropic-ratelimit-requests-reset";
  CAF_CHECK(reset_requests("2026-11-23T10:00:07Z", name) == timespan{7s});
  CAF_CHECK(reset_requests("2026-11-23T10:00:01.250Z", name)
            == timespan{1250ms});
  CAF_CHECK(reset_requests("2026-11-23T11:00:30+01:00", name) == timespan{30s});
  CAF_CHECK(reset_requests("2026-11-23T09:59:00Z", name) == timespan{0s});
  CAF_CHECK(!reset_requests("tomorrow", name).has_value());
  CAF_CHECK(!reset_requests("2026-13-23T10:00:07Z", name).has_value());
  // Past what a wall_time holds (fuzz-headers: signed overflow, UBSan).
  CAF_CHECK(!reset_requests("4052-11-23T10:00:07Z", name).has_value());
  auto rl = parse_rate_limit_headers(
      {{"anthropic-ratelimit-tokens-limit", "80000"},
       {"anthropic-ratelimit-tokens-remaining", "79000"},
       {"anthropic-ratelimit-tokens-reset", "2026-11-23T10:01:00Z"},
       {"anthropic-ratelimit-requests-remaining", "x"}},
      test_now());
  CAF_CHECK_EQUAL(rl.limit_tokens.value_or(-1), 80000);
  CAF_CHECK_EQUAL(rl.remaining_tokens.value_or(-1), 79000);
  CAF_CHECK(rl.reset_tokens == timespan{60s});
  CAF_CHECK(!rl.remaining_requests.has_value());
  CAF_CHECK(!rl.limit_requests.has_value());
}

CAF_TEST(the wire loader keeps stream bodies and notes in place) {
  auto sample = parse_wire("# top note\n"
                           "HTTP/1.1 200 OK\n"
                           "Content-Type: text/event-stream\n"
                           "\n"
                           "data: a\n"
                           "\n"
                           "# Variant: more\n"
                           "data: b\n"
                           "\n"
                           "# next one\n"
                           "HTTP/1.1 404 Not Found\n"
                           "Content-Type: application/json\n"
                           "\n"
                           "{}\n"
                           "\n");
  CAF_REQUIRE(sample.has_value());
  CAF_CHECK(!sample->request.has_value());
  CAF_REQUIRE_EQUAL(sample->responses.size(), 2u);
  auto& first = sample->responses[0];
  CAF_CHECK_EQUAL(first.body, "data: a\n\ndata: b\n\n");
  CAF_REQUIRE_EQUAL(first.notes.size(), 1u);
  CAF_CHECK_EQUAL(first.notes[0].offset, 9u);
  CAF_CHECK_EQUAL(first.notes[0].text, "Variant: more");
  CAF_CHECK_EQUAL(first.lead_notes.size(), 1u);
  auto& second = sample->responses[1];
  CAF_CHECK_EQUAL(second.status, 404);
  CAF_CHECK_EQUAL(second.body, "{}");
  CAF_REQUIRE_EQUAL(second.lead_notes.size(), 1u);
  CAF_CHECK_EQUAL(second.lead_notes[0], "next one");
  CAF_CHECK(!parse_wire("HTTP/1.1 200 OK\nno colon here\n\n{}").has_value());
}

CAF_TEST(rate limit headers are found in any case among other headers) {
  auto rl
      = parse_rate_limit_headers({{"content-type", "application/json"},
                                  {"X-RateLimit-Remaining-Requests", "12"},
                                  {"server", "x"},
                                  {"Anthropic-RateLimit-Tokens-Limit", "9"}},
                                 test_now());
  CAF_CHECK_EQUAL(rl.remaining_requests.value_or(-1), 12);
  CAF_CHECK_EQUAL(rl.limit_tokens.value_or(-1), 9);
  rl = parse_rate_limit_headers(
      {{"content-type", "application/json"}, {"x-ratelimit", "3"}}, test_now());
  CAF_CHECK(!rl.remaining_requests && !rl.limit_requests && !rl.limit_tokens
            && !rl.remaining_tokens && !rl.reset_requests && !rl.reset_tokens);
}
