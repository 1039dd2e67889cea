#include "integration/support_load.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include <caf/test/unit_test.hpp>

namespace switchyard::test {

bool load_run::printed(std::string_view prefix) const {
  for (const auto& l : lines)
    if (l.compare(0, prefix.size(), prefix) == 0)
      return true;
  return false;
}

load_run run_load(std::vector<std::string> args, std::chrono::seconds timeout) {
  args.insert(args.begin(), binary_path("switchyard-load"));
  args.push_back("--quiet");
  auto proc = child_process::start(args);
  if (!proc)
    CAF_FAIL("cannot start switchyard-load: " << proc.error());
  load_run out;
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    auto line = proc->read_line(std::chrono::milliseconds{200});
    if (line) {
      out.lines.push_back(*line);
      continue;
    }
    if (auto rc = proc->wait(std::chrono::milliseconds{0})) {
      // Collect what is left on stdout.
      while (auto rest = proc->read_line(std::chrono::milliseconds{50}))
        out.lines.push_back(*rest);
      out.exit_code = *rc;
      out.stderr_text = proc->stderr_text();
      return out;
    }
  }
  proc->stop();
  CAF_FAIL("switchyard-load did not finish within " << timeout.count() << " s");
  return out;
}

std::string artifact_path(const std::string& name) {
  std::string dir = SWITCHYARD_BINARY_DIR "/load-artifacts";
  ::mkdir(dir.c_str(), 0755);
  return dir + "/" + name;
}

std::optional<nlohmann::json> read_json(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    return std::nullopt;
  try {
    return nlohmann::json::parse(in);
  } catch (...) {
    return std::nullopt;
  }
}

std::string write_temp(const std::string& text, const std::string& suffix) {
  std::string name = "/tmp/switchyard-load-test-XXXXXX" + suffix;
  int fd = ::mkstemps(name.data(), static_cast<int>(suffix.size()));
  ::close(fd);
  std::ofstream{name} << text;
  return name;
}

} // namespace switchyard::test
