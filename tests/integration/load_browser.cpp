#define CAF_SUITE load_browser
#include "integration/support_browser.hpp"
#include "integration/support_load.hpp"
#include "integration/support_process.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <caf/test/unit_test.hpp>

using namespace switchyard::test;

CAF_TEST(the HTML report renders in headless chromium with data and no errors) {
  if (!have_chromium())
    CAF_FAIL("chromium is not installed (bash scripts/install-deps.sh)");
  auto mock = start_mock();
  auto html = artifact_path("report.html");
  auto run = run_load({"--target", mock.base_url() + "/v1", "--rate", "100",
                       "--duration", "3s", "--report", html});
  CAF_REQUIRE_EQUAL(run.exit_code, 0);
  auto dom = run_to_end(chromium({"--dump-dom", "file://" + html}));
  CAF_CHECK_EQUAL(status_attr(dom, "data-errors"), "");
  CAF_CHECK_EQUAL(status_attr(dom, "data-charts"), "4");
  auto points = std::atoi(status_attr(dom, "data-points").c_str());
  CAF_CHECK_GREATER(points, 10);
  // The screenshot stays in the build directory as the test's artifact.
  auto png = artifact_path("report.png");
  std::remove(png.c_str());
  run_to_end(chromium(
      {"--window-size=1200,1900", "--screenshot=" + png, "file://" + html}));
  struct stat st {};
  CAF_REQUIRE_EQUAL(::stat(png.c_str(), &st), 0);
  CAF_CHECK_GREATER(st.st_size, 10000);
  CAF_MESSAGE("screenshot: " << png);
}
