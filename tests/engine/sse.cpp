#define CAF_SUITE sse
#include "switchyard/sse.hpp"

#include "engine/sse_samples.hpp"

#include <string>
#include <vector>

#include <caf/test/unit_test.hpp>

using namespace std::literals;
using namespace switchyard;
using switchyard::test::parse_sse;
using switchyard::test::wire_sse_bodies;

namespace {

sse_event make_event(std::string data, std::string event = "message",
                     std::string id = "") {
  sse_event ev;
  ev.event = std::move(event);
  ev.data = std::move(data);
  ev.id = std::move(id);
  return ev;
}

std::vector<std::string> data_of(const std::vector<sse_event>& events) {
  std::vector<std::string> result;
  for (auto& ev : events)
    result.push_back(ev.data);
  return result;
}

std::vector<std::string> types_of(const std::vector<sse_event>& events) {
  std::vector<std::string> result;
  for (auto& ev : events)
    result.push_back(ev.event);
  return result;
}

} // namespace

// -- examples of the WHATWG HTML standard (section "event stream") ----------

CAF_TEST(whatwg multi - line data) {
  auto events = parse_sse("data: YHOO\ndata: +2\ndata: 10\n\n");
  CAF_REQUIRE_EQUAL(events.size(), 1u);
  CAF_CHECK_EQUAL(events[0], make_event("YHOO\n+2\n10"));
}

CAF_TEST(whatwg ids and comments) {
  auto events = parse_sse(": test stream\n\n"
                          "data: first event\nid: 1\n\n"
                          "data:second event\nid\n\n"
                          "data:  third event\n\n");
  CAF_REQUIRE_EQUAL(events.size(), 3u);
  CAF_CHECK_EQUAL(events[0], make_event("first event", "message", "1"));
  // An `id` field without value resets the last event ID.
  CAF_CHECK_EQUAL(events[1], make_event("second event", "message", ""));
  // Only one leading space is removed.
  CAF_CHECK_EQUAL(events[2], make_event(" third event", "message", ""));
}

CAF_TEST(whatwg empty data and unterminated event) {
  sse_parser parser;
  std::vector<sse_event> events;
  parser.feed("data\n\ndata\ndata\n\ndata:", events);
  CAF_CHECK_EQUAL(data_of(events), (std::vector<std::string>{"", "\n"}));
  CAF_CHECK(parser.has_pending());
}

CAF_TEST(whatwg space after colon is optional) {
  auto events = parse_sse("data:test\n\ndata: test\n\n");
  CAF_REQUIRE_EQUAL(events.size(), 2u);
  CAF_CHECK_EQUAL(events[0], make_event("test"));
  CAF_CHECK_EQUAL(events[1], make_event("test"));
}

CAF_TEST(whatwg event types) {
  auto events = parse_sse("event: add\ndata: 73857293\n\n"
                          "event: remove\ndata: 2153\n\n"
                          "event: add\ndata: 113411\n\n");
  CAF_CHECK_EQUAL(types_of(events),
                  (std::vector<std::string>{"add", "remove", "add"}));
  CAF_CHECK_EQUAL(data_of(events),
                  (std::vector<std::string>{"73857293", "2153", "113411"}));
}

// -- field parsing ------------------------------------------------------------

CAF_TEST(a field without colon has an empty value) {
  auto events = parse_sse("event: x\nevent\ndata\n\n");
  CAF_REQUIRE_EQUAL(events.size(), 1u);
  // `event` with empty value makes the type fall back to "message".
  CAF_CHECK_EQUAL(events[0], make_event(""));
}

CAF_TEST(only the first colon separates name and value) {
  auto events = parse_sse("data: a: b:c\n\ndata::\n\n");
  CAF_CHECK_EQUAL(data_of(events), (std::vector<std::string>{"a: b:c", ":"}));
}

CAF_TEST(only one leading space is removed and no other whitespace) {
  auto events = parse_sse("data:   x \ndata:\tt\n\n");
  CAF_REQUIRE_EQUAL(events.size(), 1u);
  CAF_CHECK_EQUAL(events[0].data, "  x \n\tt");
}

CAF_TEST(comments are ignored) {
  sse_parser parser;
  std::vector<sse_event> events;
  parser.feed(": hello\n:\n\n", events);
  CAF_CHECK(events.empty());
  CAF_CHECK(!parser.has_pending());
  parser.feed(":c1\ndata: x\n: c2\ndata: y\n\n", events);
  CAF_REQUIRE_EQUAL(events.size(), 1u);
  CAF_CHECK_EQUAL(events[0].data, "x\ny");
}

CAF_TEST(unknown and differently cased fields are ignored) {
  auto events = parse_sse("foo: bar\nDATA: no\nData: no\n data: no\n"
                          "Event: no\ndata : no\ndata: yes\n\n");
  CAF_REQUIRE_EQUAL(events.size(), 1u);
  CAF_CHECK_EQUAL(events[0], make_event("yes"));
}

CAF_TEST(data keeps NUL and non - ASCII bytes) {
  auto input = "data: a\0b\xFF\xC3\n\n"s;
  auto events = parse_sse(input);
  CAF_REQUIRE_EQUAL(events.size(), 1u);
  CAF_CHECK_EQUAL(events[0].data, "a\0b\xFF\xC3"s);
}

// -- dispatch -----------------------------------------------------------------

CAF_TEST(the event type defaults to message) {
  auto events = parse_sse("data: a\n\nevent: named\ndata: b\n\ndata: c\n\n");
  CAF_CHECK_EQUAL(types_of(events),
                  (std::vector<std::string>{"message", "named", "message"}));
}

CAF_TEST(a blank line without data dispatches nothing and resets the type) {
  sse_parser parser;
  std::vector<sse_event> events;
  parser.feed("event: lost\n\n", events);
  CAF_CHECK(events.empty());
  CAF_CHECK(!parser.has_pending());
  parser.feed("\n\n\ndata: x\n\n", events);
  CAF_REQUIRE_EQUAL(events.size(), 1u);
  CAF_CHECK_EQUAL(events[0], make_event("x"));
}

CAF_TEST(an empty data field dispatches an empty event) {
  auto events = parse_sse("data:\n\ndata: \n\n");
  CAF_CHECK_EQUAL(data_of(events), (std::vector<std::string>{"", ""}));
}

CAF_TEST(feed appends to the output) {
  std::vector<sse_event> events{make_event("old")};
  sse_parser parser;
  parser.feed("data: new\n\n", events);
  CAF_CHECK_EQUAL(data_of(events), (std::vector<std::string>{"old", "new"}));
}

// -- id -----------------------------------------------------------------------

CAF_TEST(the last event id persists across events) {
  auto events = parse_sse("id: 7\ndata: a\n\ndata: b\n\nid: 9\n\ndata: c\n\n"
                          "data: d\nid: 10\n\n");
  CAF_REQUIRE_EQUAL(events.size(), 4u);
  CAF_CHECK_EQUAL(events[0].id, "7");
  CAF_CHECK_EQUAL(events[1].id, "7");
  // Set in a block without data, it still applies to later events.
  CAF_CHECK_EQUAL(events[2].id, "9");
  // The id field may follow the data within the block.
  CAF_CHECK_EQUAL(events[3].id, "10");
}

CAF_TEST(an id containing NUL is ignored) {
  auto events = parse_sse("id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n"s);
  CAF_REQUIRE_EQUAL(events.size(), 2u);
  CAF_CHECK_EQUAL(events[1].id, "1");
}

// -- retry --------------------------------------------------------------------

CAF_TEST(retry sets the reconnection time) {
  sse_parser parser;
  std::vector<sse_event> events;
  CAF_CHECK(!parser.reconnection_time());
  parser.feed("retry: 1500\n\n", events);
  CAF_CHECK(events.empty());
  CAF_CHECK_EQUAL(parser.reconnection_time(), std::optional<int64_t>{1500});
  parser.feed("retry: 0\n", events);
  CAF_CHECK_EQUAL(parser.reconnection_time(), std::optional<int64_t>{0});
}

CAF_TEST(retry is ignored unless all ASCII digits) {
  for (auto bad : {"retry: 15a\n", "retry: -1\n", "retry: 1.5\n", "retry: \n",
                   "retry\n", "retry:  10\n", "retry: +10\n", "retry: 10 \n",
                   "retry: \xD9\xA1\n", "retry: 99999999999999999999\n"}) {
    sse_parser parser;
    std::vector<sse_event> events;
    parser.feed("retry: 3000\n", events);
    parser.feed(bad, events);
    CAF_CHECK_EQUAL(parser.reconnection_time(), std::optional<int64_t>{3000});
  }
  sse_parser parser;
  std::vector<sse_event> events;
  parser.feed("retry: 9223372036854775807\n", events);
  CAF_CHECK_EQUAL(parser.reconnection_time(),
                  std::optional<int64_t>{9223372036854775807});
}

CAF_TEST(retry is reported on the event of its block only) {
  sse_parser parser;
  std::vector<sse_event> events;
  parser.feed("retry: 10\ndata: x\n\ndata: y\n\nretry: 20\n\ndata: z\n\n",
              events);
  CAF_REQUIRE_EQUAL(events.size(), 3u);
  CAF_CHECK_EQUAL(events[0].retry, std::optional<int64_t>{10});
  CAF_CHECK(!events[1].retry);
  CAF_CHECK(!events[2].retry);
  CAF_CHECK_EQUAL(parser.reconnection_time(), std::optional<int64_t>{20});
}

// -- line endings -------------------------------------------------------------

CAF_TEST(CR LF and CRLF all end lines) {
  auto events = parse_sse("data: a\rdata: b\ndata: c\r\n\r"
                          "data: d\r\r"
                          "data: e\n\r\n");
  CAF_CHECK_EQUAL(data_of(events),
                  (std::vector<std::string>{"a\nb\nc", "d", "e"}));
}

CAF_TEST(CRLF split across feeds is one line ending) {
  sse_parser parser;
  std::vector<sse_event> events;
  parser.feed("data: a\r", events);
  parser.feed("\ndata: b\r", events);
  parser.feed("", events);
  parser.feed("\n", events);
  // Had either LF counted as a line ending of its own, "a" would have been
  // dispatched alone.
  CAF_CHECK(events.empty());
  parser.feed("\r", events);
  CAF_REQUIRE_EQUAL(events.size(), 1u);
  CAF_CHECK_EQUAL(events[0].data, "a\nb");
}

CAF_TEST(CR at the end of a feed followed by CR is two line endings) {
  sse_parser parser;
  std::vector<sse_event> events;
  parser.feed("data: a\r", events);
  parser.feed("\r", events);
  CAF_REQUIRE_EQUAL(events.size(), 1u);
  CAF_CHECK_EQUAL(events[0].data, "a");
}

// -- byte order mark ----------------------------------------------------------

CAF_TEST(a leading BOM is skipped) {
  auto events = parse_sse("\xEF\xBB\xBF"
                          "data: x\n\n");
  CAF_REQUIRE_EQUAL(events.size(), 1u);
  CAF_CHECK_EQUAL(events[0], make_event("x"));
}

CAF_TEST(a leading BOM split across feeds is skipped) {
  sse_parser parser;
  std::vector<sse_event> events;
  parser.feed("\xEF", events);
  CAF_CHECK(parser.has_pending());
  parser.feed("", events);
  parser.feed("\xBB", events);
  parser.feed("\xBF"
              "da",
              events);
  parser.feed("ta: x\n\n", events);
  CAF_REQUIRE_EQUAL(events.size(), 1u);
  CAF_CHECK_EQUAL(events[0], make_event("x"));
}

CAF_TEST(only one BOM and only at the start is skipped) {
  // The second BOM becomes part of the field name "\xEF\xBB\xBF" "data".
  CAF_CHECK(parse_sse("\xEF\xBB\xBF\xEF\xBB\xBF"
                      "data: x\n\n")
                .empty());
  CAF_CHECK(parse_sse("\n\xEF\xBB\xBF"
                      "data: x\n\n")
                .empty());
  auto events = parse_sse("data: \xEF\xBB\xBF\n\n");
  CAF_REQUIRE_EQUAL(events.size(), 1u);
  CAF_CHECK_EQUAL(events[0].data, "\xEF\xBB\xBF");
}

CAF_TEST(bytes that only start like a BOM are kept) {
  sse_parser parser;
  std::vector<sse_event> events;
  parser.feed("\xEF\xBB", events);
  parser.feed("\n", events);
  // The line "\xEF\xBB" is an unknown field, so an event is under way; had
  // the two bytes been dropped, the LF would have been a blank line.
  CAF_CHECK(parser.has_pending());
  parser.feed("\ndata: \xEF\xBB\n\n", events);
  CAF_REQUIRE_EQUAL(events.size(), 1u);
  CAF_CHECK_EQUAL(events[0].data, "\xEF\xBB");
}

// -- pending input ------------------------------------------------------------

CAF_TEST(an unterminated last event is not dispatched) {
  sse_parser parser;
  std::vector<sse_event> events;
  CAF_CHECK(!parser.has_pending());
  parser.feed("data: x", events);
  CAF_CHECK(events.empty());
  CAF_CHECK(parser.has_pending());
  parser.feed("\n", events);
  CAF_CHECK(events.empty());
  CAF_CHECK(parser.has_pending());
  parser.feed("\n", events);
  CAF_CHECK_EQUAL(events.size(), 1u);
  CAF_CHECK(!parser.has_pending());
  parser.feed("event: x\n", events);
  CAF_CHECK(parser.has_pending());
}

// -- provider wire samples ----------------------------------------------------

CAF_TEST(openai chat stream) {
  auto bodies = wire_sse_bodies("openai-chat-stream.http");
  CAF_REQUIRE_EQUAL(bodies.size(), 1u);
  sse_parser parser;
  std::vector<sse_event> events;
  parser.feed(bodies[0], events);
  CAF_CHECK(!parser.has_pending());
  CAF_REQUIRE_EQUAL(events.size(), 6u);
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    CAF_CHECK_EQUAL(events[i].event, "message");
    CAF_CHECK(events[i].data.starts_with(R"({"id":"chatcmpl-9x2Yc4",)"));
    CAF_CHECK(events[i].data.ends_with("}"));
  }
  CAF_CHECK(events[1].data.find(R"("delta":{"content":"Hel"})")
            != std::string::npos);
  CAF_CHECK(events[4].data.find(R"("total_tokens":12)") != std::string::npos);
  CAF_CHECK_EQUAL(events[5], make_event("[DONE]"));
}

CAF_TEST(anthropic messages stream) {
  auto bodies = wire_sse_bodies("anthropic-messages-stream.http");
  CAF_REQUIRE_EQUAL(bodies.size(), 2u);
  sse_parser parser;
  std::vector<sse_event> events;
  parser.feed(bodies[0], events);
  CAF_CHECK(!parser.has_pending());
  CAF_CHECK_EQUAL(types_of(events),
                  (std::vector<std::string>{
                      "message_start", "content_block_start", "ping",
                      "content_block_delta", "content_block_delta",
                      "content_block_stop", "message_delta", "message_stop"}));
  CAF_REQUIRE_EQUAL(events.size(), 8u);
  CAF_CHECK_EQUAL(events[2].data, R"({"type": "ping"})");
  CAF_CHECK_EQUAL(events[7].data, R"({"type":"message_stop"})");
  for (auto& ev : events) {
    CAF_CHECK(ev.id.empty());
    CAF_CHECK(ev.data.find(R"({"type":")" + ev.event + "\"") == 0
              || ev.event == "ping");
  }
}

CAF_TEST(anthropic messages stream with an error event) {
  auto bodies = wire_sse_bodies("anthropic-messages-stream.http");
  CAF_REQUIRE_EQUAL(bodies.size(), 2u);
  auto events = parse_sse(bodies[1]);
  CAF_CHECK_EQUAL(types_of(events),
                  (std::vector<std::string>{"content_block_delta", "error"}));
  CAF_REQUIRE_EQUAL(events.size(), 2u);
  CAF_CHECK_EQUAL(events[1].data,
                  R"({"type":"error","error":{"type":"overloaded_error",)"
                  R"("message":"Overloaded"}})");
}

CAF_TEST(gemini stream) {
  auto bodies = wire_sse_bodies("gemini-generate.http");
  CAF_REQUIRE_EQUAL(bodies.size(), 1u);
  auto events = parse_sse(bodies[0]);
  CAF_REQUIRE_EQUAL(events.size(), 2u);
  CAF_CHECK_EQUAL(types_of(events),
                  (std::vector<std::string>{"message", "message"}));
  CAF_CHECK(events[0].data.find(R"("text":"Par")") != std::string::npos);
  // The JSON escape "\n" stays two characters; it is not a line ending.
  CAF_CHECK(events[1].data.find(R"("text":"is.\n")") != std::string::npos);
  CAF_CHECK(events[1].data.find('\n') == std::string::npos);
}
