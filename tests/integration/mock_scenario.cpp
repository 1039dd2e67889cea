#define CAF_SUITE mock_scenario
#include "integration/support_http.hpp"
#include "integration/support_process.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <thread>
#include <unistd.h>

#include <caf/test/unit_test.hpp>
#include <nlohmann/json.hpp>

using namespace switchyard::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

const std::string chat_request
    = R"({"model":"m1","messages":[{"role":"user","content":"hi"}]})";

/// A scenario file that removes itself.
struct temp_file {
  std::string path;

  explicit temp_file(const std::string& text) {
    char name[] = "/tmp/switchyard-scenario-XXXXXX.json";
    int fd = ::mkstemps(name, 5);
    path = name;
    ::close(fd);
    std::ofstream{path} << text;
  }

  ~temp_file() {
    std::remove(path.c_str());
  }
};

std::vector<long> statuses(const mock_server& m, int n) {
  std::vector<long> result;
  for (int i = 0; i < n; ++i)
    result.push_back(
        http_post(m.base_url() + "/v1/chat/completions", chat_request).status);
  return result;
}

long status_once(const mock_server& m) {
  return statuses(m, 1).front();
}

const std::string coin_scenario = R"({
  // half of the chat calls are overloaded, the rest answer
  "rules": [
    {"kind": "openai_chat", "faults": [{"fault": "overloaded", "p": 0.5}]}
  ]
})";

} // namespace

CAF_TEST(a scenario file sets defaults and faults and allows comments) {
  temp_file f{R"({
    /* defaults for every request */
    "defaults": {"words": 3},
    "rules": [
      {"model": "doomed", "faults": [{"fault": "quota"}]}
    ]
  })"};
  auto m = start_mock({"--scenario", f.path});
  auto ok = http_post(m.base_url() + "/v1/chat/completions", chat_request);
  CAF_REQUIRE_EQUAL(ok.status, 200);
  std::string text = json::parse(ok.body)["choices"][0]["message"]["content"];
  CAF_CHECK_EQUAL(json(json::parse(ok.body)["usage"]["completion_tokens"]), 3);
  CAF_CHECK_EQUAL(std::count(text.begin(), text.end(), ' '), 2);
  auto doomed = http_post(m.base_url() + "/v1/chat/completions",
                          R"({"model":"doomed","messages":[]})");
  CAF_CHECK_EQUAL(doomed.status, 429);
  // The header overrides the scenario for one request.
  auto spared = http_post(m.base_url() + "/v1/chat/completions",
                          R"({"model":"doomed","messages":[]})",
                          {{"x-mock-fault", "should_retry=true"}});
  CAF_CHECK_EQUAL(spared.status, 200);
  CAF_CHECK_EQUAL(m.proc.stop(), 0);
}

CAF_TEST(probabilities repeat with the same seed) {
  temp_file f{coin_scenario};
  auto a = start_mock({"--scenario", f.path, "--seed", "42"});
  auto b = start_mock({"--scenario", f.path, "--seed", "42"});
  auto c = start_mock({"--scenario", f.path, "--seed", "43"});
  auto sa = statuses(a, 100);
  auto sb = statuses(b, 100);
  auto sc = statuses(c, 100);
  CAF_CHECK_EQUAL(sa, sb);
  CAF_CHECK_NOT_EQUAL(sa, sc);
  auto failures = std::count(sa.begin(), sa.end(), 503L);
  CAF_CHECK_EQUAL(failures + std::count(sa.begin(), sa.end(), 200L), 100);
  CAF_CHECK_GREATER(failures, 30);
  CAF_CHECK_LESS(failures, 70);
  auto stats = json::parse(http_get(a.base_url() + "/mock/stats").body);
  CAF_CHECK_EQUAL(stats["faults"]["overloaded"], failures);
  CAF_CHECK_EQUAL(stats["faults"]["none"], 100 - failures);
}

CAF_TEST(timeline phases follow the scenario load time) {
  auto m = start_mock();
  auto load = http_post(m.base_url() + "/mock/scenario", R"({
    "rules": [{"timeline": [
      {"for_ms": 600, "faults": []},
      {"for_ms": 600, "faults": [{"fault": "server_error", "p": 1}]},
      {"faults": []}
    ]}]})");
  auto t0 = std::chrono::steady_clock::now();
  CAF_REQUIRE_EQUAL(load.status, 200);
  auto at = [&](std::chrono::milliseconds offset) {
    std::this_thread::sleep_until(t0 + offset);
    return statuses(m, 1).front();
  };
  CAF_CHECK_EQUAL(at(250ms), 200);
  CAF_CHECK_EQUAL(at(850ms), 500);
  CAF_CHECK_EQUAL(at(1450ms), 200);
}

CAF_TEST(the listener closes and reopens on the same port) {
  auto m = start_mock();
  auto load = http_post(m.base_url() + "/mock/scenario",
                        R"({"listener":[{"at_ms":300,"close_for_ms":700}]})");
  auto t0 = std::chrono::steady_clock::now();
  CAF_REQUIRE_EQUAL(load.status, 200);
  auto get_at = [&](std::chrono::milliseconds offset) {
    std::this_thread::sleep_until(t0 + offset);
    return http_get(m.base_url() + "/v1/models", 2s);
  };
  CAF_CHECK_EQUAL(get_at(100ms).status, 200);
  auto refused = get_at(600ms);
  CAF_CHECK_EQUAL(refused.curl_code, 7); // CURLE_COULDNT_CONNECT
  CAF_CHECK_EQUAL(get_at(1300ms).status, 200);
}

CAF_TEST(an invalid scenario upload is a 400 naming the JSON path) {
  auto m = start_mock();
  auto r = http_post(m.base_url() + "/mock/scenario", R"({
    "rules": [{"faults": [{"fault": "overloaded", "p": 1.5}]}]})");
  CAF_CHECK_EQUAL(r.status, 400);
  auto msg = json::parse(r.body)["error"]["message"].get<std::string>();
  CAF_CHECK_NOT_EQUAL(msg.find("/rules/0/faults/0/p"), std::string::npos);
  auto u = http_post(m.base_url() + "/mock/scenario",
                     R"({"rules": [{"faults": [{"fault": "melt"}]}]})");
  CAF_CHECK_EQUAL(u.status, 400);
  // The old scenario stays in force.
  CAF_CHECK_EQUAL(status_once(m), 200);
}

CAF_TEST(a bad scenario file or argument exits 2 with a precise message) {
  temp_file f{R"({"rules": [{"kind": "openai_chat", "timeline": [
    {"faults": []}, {"for_ms": 5, "faults": []}]}]})"};
  auto p = child_process::start(
      {binary_path("switchyard-mock"), "--scenario", f.path});
  CAF_REQUIRE(p.has_value());
  CAF_CHECK_EQUAL(p->wait(10s), 2);
  auto err = p->stderr_text();
  CAF_CHECK_NOT_EQUAL(err.find(f.path), std::string::npos);
  CAF_CHECK_NOT_EQUAL(err.find("/rules/0/timeline/0"), std::string::npos);
  CAF_CHECK_NOT_EQUAL(err.find("for_ms"), std::string::npos);
  auto missing = child_process::start(
      {binary_path("switchyard-mock"), "--scenario", "/nonexistent.json"});
  CAF_CHECK_EQUAL(missing->wait(10s), 2);
  CAF_CHECK_NOT_EQUAL(missing->stderr_text().find("/nonexistent.json"),
                      std::string::npos);
  auto args = child_process::start(
      {binary_path("switchyard-mock"), "--threads", "0"});
  CAF_CHECK_EQUAL(args->wait(10s), 2);
  CAF_CHECK(!args->stderr_text().empty());
}

CAF_TEST(sigterm stops the mock cleanly) {
  auto m = start_mock();
  CAF_CHECK_EQUAL(status_once(m), 200);
  CAF_CHECK_EQUAL(m.proc.stop(), 0);
}
