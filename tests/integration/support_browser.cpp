#include "integration/support_browser.hpp"

#include "integration/support_process.hpp"

#include <unistd.h>

#include <caf/test/unit_test.hpp>

namespace switchyard::test {

std::vector<std::string> chromium(std::vector<std::string> args,
                                  int virtual_time_ms) {
  std::vector<std::string> argv{"/usr/bin/chromium",
                                "--headless",
                                "--no-sandbox",
                                "--disable-gpu",
                                "--hide-scrollbars",
                                "--virtual-time-budget="
                                    + std::to_string(virtual_time_ms)};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

bool have_chromium() {
  return ::access("/usr/bin/chromium", X_OK) == 0;
}

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

} // namespace switchyard::test
