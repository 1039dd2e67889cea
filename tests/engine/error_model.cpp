#define CAF_SUITE error_model
#include "switchyard/error.hpp"
#include "switchyard/http.hpp"
#include "switchyard/model.hpp"

#include <caf/test/unit_test.hpp>

using namespace switchyard;

CAF_TEST(error class names round - trip) {
  for (auto cls : all_error_classes) {
    auto parsed = parse_error_class(to_string(cls));
    CAF_REQUIRE(parsed.has_value());
    CAF_CHECK(*parsed == cls);
  }
  CAF_CHECK(!parse_error_class("ratelimited").has_value());
  CAF_CHECK_EQUAL(to_string(error_class::quota_exhausted), "quota_exhausted");
}

CAF_TEST(failures render with status code and message) {
  failure f;
  f.cls = error_class::rate_limited;
  f.status = 429;
  f.code = "rate_limit_exceeded";
  f.message = "slow down";
  CAF_CHECK_EQUAL(to_string(f),
                  "rate_limited (429 rate_limit_exceeded): slow down");
  failure g;
  g.cls = error_class::connection;
  g.message = "refused";
  CAF_CHECK_EQUAL(to_string(g), "connection: refused");
}

CAF_TEST(header lookup ignores case) {
  header_list hs{{"Retry-After", "2"}, {"retry-after-ms", "1850"}};
  CAF_CHECK_EQUAL(find_header(hs, "retry-after").value_or(""), "2");
  CAF_CHECK_EQUAL(find_header(hs, "RETRY-AFTER-MS").value_or(""), "1850");
  CAF_CHECK(!find_header(hs, "x-should-retry").has_value());
}

CAF_TEST(plain text joins text parts only) {
  message m;
  m.parts.push_back({"text", "Hel", {}});
  m.parts.push_back({"image_url", "", nlohmann::json{{"url", "x"}}});
  m.parts.push_back({"text", "lo", {}});
  CAF_CHECK_EQUAL(m.plain_text(), "Hello");
  CAF_CHECK_EQUAL(parse_role("developer").value_or(role::user), role::system);
}

CAF_TEST(stream notice kinds have their wire names) {
  CAF_CHECK_EQUAL(to_string(notice_kind::restart), "restart");
  CAF_CHECK_EQUAL(to_string(notice_kind::continue_), "continue");
  CAF_CHECK(stream_notice{}.kind == notice_kind::restart);
}
