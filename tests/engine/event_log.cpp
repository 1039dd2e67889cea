#define CAF_SUITE event_log

#include "switchyard/event_log.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <caf/test/unit_test.hpp>
#include <nlohmann/json.hpp>

using namespace switchyard;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

json base() {
  return json::parse(R"({
    "providers": { "openai": { "kind": "openai_chat" } },
    "deployments": { "gpt": { "provider": "openai", "model": "gpt-4o" } },
    "routes": { "chat": { "targets": ["gpt"] } }
  })");
}

std::vector<std::string> errors_of(const json& cfg) {
  auto result = parse_config(cfg.dump(), [](const std::string&) {
    return std::optional<std::string>{};
  });
  std::vector<std::string> out;
  if (!result)
    for (auto& e : result.error())
      out.push_back(to_string(e));
  return out;
}

std::vector<json> lines_of(const std::string& path) {
  std::ifstream in{path};
  std::vector<json> out;
  for (std::string line; std::getline(in, line);)
    out.push_back(json::parse(line, nullptr, false));
  return out;
}

} // namespace

CAF_TEST(the log section is read and checked like the rest) {
  auto cfg = base();
  auto parsed = parse_config(cfg.dump());
  CAF_REQUIRE(parsed.has_value());
  CAF_CHECK(!parsed->log.enabled);
  cfg["log"] = {{"level", "warn"}, {"file", "/tmp/x.log"}, {"max_files", 2}};
  parsed = parse_config(cfg.dump());
  CAF_REQUIRE(parsed.has_value());
  CAF_CHECK(parsed->log.enabled);
  CAF_CHECK(parsed->log.level == log_level::warn);
  CAF_CHECK_EQUAL(parsed->log.file, "/tmp/x.log");
  CAF_CHECK_EQUAL(parsed->log.max_files, 2u);
  cfg["log"] = {{"levle", "info"}, {"max_size", 10}};
  auto errs = errors_of(cfg);
  CAF_REQUIRE_EQUAL(errs.size(), 2u);
  CAF_CHECK_EQUAL(errs[0], "log.levle: unknown key (did you mean \"level\"?)");
  CAF_CHECK_EQUAL(errs[1].rfind("log.max_size: ", 0), 0u);
  cfg["log"] = {{"level", "verbose"}};
  errs = errors_of(cfg);
  CAF_REQUIRE_EQUAL(errs.size(), 1u);
  CAF_CHECK_EQUAL(errs[0].rfind("log.level: ", 0), 0u);
  cfg["log"] = "stdout";
  CAF_CHECK_EQUAL(errors_of(cfg).size(), 1u);
}

CAF_TEST(events become JSON objects with their fields) {
  retry_scheduled r{7,       "gpt", error_class::rate_limited, 250ms, true,
                    nullptr, "chat"};
  auto j = to_json(r);
  CAF_CHECK_EQUAL(j["event"], "retry");
  CAF_CHECK_EQUAL(j["call_id"], 7);
  CAF_CHECK_EQUAL(j["route"], "chat");
  CAF_CHECK_EQUAL(j["class"], "rate_limited");
  CAF_CHECK_EQUAL(j["wait_ms"], 250.0);
  CAF_CHECK_EQUAL(j["from_retry_after"], true);
  CAF_CHECK(level_of(r) == log_level::info);
  attempt_finished a;
  a.deployment = "gpt";
  a.cls = error_class::server_error;
  a.status = 503;
  auto aj = to_json(a); // CAF's checks keep references to their arguments
  CAF_CHECK_EQUAL(aj["class"], "server_error");
  CAF_CHECK(level_of(a) == log_level::warn);
  provider_restarted p{"gpt", "crash", 3, true};
  CAF_CHECK(level_of(p) == log_level::error);
  auto pj = to_json(p);
  CAF_CHECK_EQUAL(pj["marked_down"], true);
}

CAF_TEST(the sink writes JSON lines at and above its level) {
  char tmpl[] = "/tmp/switchyard-log-XXXXXX";
  int fd = ::mkstemp(tmpl);
  CAF_REQUIRE(fd >= 0);
  ::close(fd);
  std::string path = tmpl;
  {
    log_settings s;
    s.enabled = true;
    s.level = log_level::info;
    s.file = path;
    auto sink = log_sink::open(s);
    CAF_REQUIRE(sink.has_value());
    (*sink)->note(log_level::info, "config_loaded",
                  {{"deployments", 1}, {"quote", "a\"b\n"}});
    (*sink)->on_event(attempt_started{1, "gpt", 0, 1s, nullptr});
    fallback_taken fb{1, "gpt", "claude", "timeout", nullptr, "chat"};
    (*sink)->on_event(fb);
  } // the destructor writes what is queued
  auto lines = lines_of(path);
  std::remove(path.c_str());
  CAF_REQUIRE_EQUAL(lines.size(), 2u); // attempt_started is debug
  CAF_CHECK_EQUAL(lines[0]["event"], "config_loaded");
  CAF_CHECK_EQUAL(lines[0]["quote"], "a\"b\n");
  CAF_CHECK_EQUAL(lines[0]["level"], "info");
  CAF_CHECK_EQUAL(lines[1]["event"], "fallback");
  CAF_CHECK_EQUAL(lines[1]["level"], "warn");
  CAF_CHECK_EQUAL(lines[1]["to"], "claude");
  CAF_CHECK(lines[1]["ts"].get<std::string>().size() == 24u);
}

CAF_TEST(a log file that cannot be opened is an error naming it) {
  log_settings s;
  s.enabled = true;
  s.file = "/dev/null/x/events.log";
  auto sink = log_sink::open(s);
  CAF_REQUIRE(!sink.has_value());
  CAF_CHECK_NOT_EQUAL(sink.error().find("/dev/null/x/events.log"),
                      std::string::npos);
}
