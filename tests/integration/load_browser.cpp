#define CAF_SUITE load_browser
#include "integration/support_load.hpp"
#include "integration/support_process.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <caf/test/unit_test.hpp>

using namespace switchyard::test;

namespace {

/// Headless Chromium with what it needs to run as root in a container.
std::vector<std::string> chromium(std::vector<std::string> args) {
  std::vector<std::string> argv{
      "/usr/bin/chromium", "--headless",        "--no-sandbox",
      "--disable-gpu",     "--hide-scrollbars", "--virtual-time-budget=5000"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

/// Runs a program to its end (at most 60 s) and returns its stdout.
std::string run_to_end(std::vector<std::string> argv) {
  auto proc = child_process::start(std::move(argv));
  if (!proc)
    CAF_FAIL("cannot start " << proc.error());
  std::string out;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds{60};
  while (std::chrono::steady_clock::now() < until) {
    if (auto line = proc->read_line(std::chrono::milliseconds{200})) {
      out += *line + '\n';
      continue;
    }
    if (proc->wait(std::chrono::milliseconds{0}))
      return out;
  }
  proc->stop();
  CAF_FAIL("chromium did not finish within 60 s");
  return out;
}

/// The value of attribute `name` in the first `<div id="status" ...>`.
std::string status_attr(const std::string& dom, const std::string& name) {
  auto at = dom.find("id=\"status\"");
  if (at == std::string::npos)
    return "<no status element>";
  auto end = dom.find('>', at);
  auto key = name + "=\"";
  auto k = dom.find(key, at);
  if (k == std::string::npos || k > end)
    return "<no " + name + ">";
  auto v = k + key.size();
  return dom.substr(v, dom.find('"', v) - v);
}

} // namespace

CAF_TEST(the HTML report renders in headless chromium with data and no errors) {
  if (::access("/usr/bin/chromium", X_OK) != 0)
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
