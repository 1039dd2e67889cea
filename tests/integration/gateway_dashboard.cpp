#define CAF_SUITE gateway_dashboard
// The gateway's /dashboard in headless Chromium during an outage of the
// primary, behind an admin key: the page shows the primary's breaker open,
// the route serving from the fallback and the fallback events, with no
// script error; a screenshot is kept as the test's artifact.
#include "integration/support_browser.hpp"
#include "integration/support_gateway.hpp"
#include "integration/support_load.hpp"

#include <sys/stat.h>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

/// The value of `attr` on the element whose `key` attribute is `value`.
std::string attr_of(const std::string& dom, const std::string& key,
                    const std::string& value, const std::string& attr) {
  auto at = dom.find(key + "=\"" + value + "\"");
  if (at == std::string::npos)
    return "<no " + key + "=" + value + ">";
  auto start = dom.rfind('<', at);
  auto end = dom.find('>', at);
  auto k = dom.find(attr + "=\"", start);
  if (k == std::string::npos || k > end)
    return "<no " + attr + ">";
  auto v = k + attr.size() + 2;
  return dom.substr(v, dom.find('"', v) - v);
}

} // namespace

CAF_TEST(the dashboard shows the open breaker and the fallback serving) {
  if (!have_chromium())
    CAF_FAIL("chromium is not installed (bash scripts/install-deps.sh)");
  auto primary = start_mock();
  auto backup = start_mock();
  auto cfg
      = gateway_config({{"primary",
                         &primary,
                         "openai_chat",
                         "gpt-4o",
                         {{"x-mock-fault", "overloaded"}}},
                        {"backup", &backup, "anthropic_messages", "claude"}});
  cfg["deployments"]["primary"]["breaker"]
      = {{"consecutive_failures", 2}, {"open_duration_ms", 120000}};
  const std::string admin_key = "dash-admin-key";
  cfg["gateway"]
      = {{"keys", {{{"key", "client-key"}}}}, {"admin_key", admin_key}};
  auto gw = start_gateway(cfg);
  json body = {{"model", "chat"},
               {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  for (int i = 0; i < 4; ++i) {
    auto res = http_post(gw.url("/v1/chat/completions"), body.dump(),
                         {{"authorization", "Bearer client-key"}});
    CAF_REQUIRE_EQUAL(res.status, 200);
  }
  // Without a key the data stays closed; the page itself holds none.
  CAF_CHECK_EQUAL(http_get(gw.url("/status")).status, 401);
  CAF_CHECK_EQUAL(http_get(gw.url("/events")).status, 401);
  CAF_CHECK_EQUAL(http_get(gw.url("/dashboard")).status, 200);
  // The key travels in the fragment, which the browser never sends.
  auto page = gw.url("/dashboard#key=" + admin_key);
  auto dom = run_to_end(chromium({"--dump-dom", page}, 3000));
  CAF_CHECK_EQUAL(status_attr(dom, "data-errors"), "");
  CAF_CHECK_GREATER(std::atoi(status_attr(dom, "data-updates").c_str()), 0);
  CAF_CHECK_EQUAL(status_attr(dom, "data-charts"), "1");
  CAF_CHECK_EQUAL(attr_of(dom, "data-deployment", "primary", "data-breaker"),
                  "open");
  CAF_CHECK_EQUAL(attr_of(dom, "data-deployment", "backup", "data-breaker"),
                  "closed");
  CAF_CHECK_EQUAL(attr_of(dom, "data-route", "chat", "data-current"), "backup");
  CAF_CHECK_NOT_EQUAL(dom.find("data-event=\"fallback\""), std::string::npos);
  CAF_CHECK_NOT_EQUAL(dom.find("data-event=\"breaker\""), std::string::npos);
  // Without the key the page asks for one instead of failing.
  auto locked
      = run_to_end(chromium({"--dump-dom", gw.url("/dashboard")}, 2000));
  CAF_CHECK_EQUAL(status_attr(locked, "data-errors"), "");
  CAF_CHECK_EQUAL(status_attr(locked, "data-updates"), "0");
  auto png = artifact_path("dashboard.png");
  std::remove(png.c_str());
  run_to_end(
      chromium({"--window-size=1300,1100", "--screenshot=" + png, page}, 3000));
  struct stat st {};
  CAF_REQUIRE_EQUAL(::stat(png.c_str(), &st), 0);
  CAF_CHECK_GREATER(st.st_size, 10000);
  CAF_MESSAGE("screenshot: " << png);
}
