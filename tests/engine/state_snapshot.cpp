#define CAF_SUITE state_snapshot

#include "switchyard/state_snapshot.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <caf/test/unit_test.hpp>

using namespace switchyard;

namespace {

state_snapshot sample() {
  state_snapshot x;
  x.written_ms = 1'700'000'000'000;
  deployment_snapshot open;
  open.name = "gpt";
  open.breaker = breaker_state::open;
  open.open_until_ms = 1'700'000'030'000;
  open.reopens = 3;
  deployment_snapshot down;
  down.name = "claude \"eu\"";
  down.down_until_ms = -1;
  down.down_class = error_class::auth;
  deployment_snapshot quota;
  quota.name = "gemini";
  quota.down_until_ms = 1'700'000'100'000;
  quota.down_class = error_class::quota_exhausted;
  x.deployments = {open, down, quota};
  return x;
}

std::string error_of(std::string_view text) {
  auto r = decode_snapshot(text);
  return r ? std::string{"<decoded>"} : r.error();
}

} // namespace

CAF_TEST(a snapshot survives encoding) {
  auto x = sample();
  auto y = decode_snapshot(encode_snapshot(x));
  CAF_REQUIRE(y.has_value());
  CAF_CHECK_EQUAL(y->written_ms, x.written_ms);
  CAF_REQUIRE_EQUAL(y->deployments.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    auto& a = x.deployments[i];
    auto& b = y->deployments[i];
    CAF_CHECK_EQUAL(a.name, b.name);
    CAF_CHECK(a.breaker == b.breaker);
    CAF_CHECK_EQUAL(a.open_until_ms, b.open_until_ms);
    CAF_CHECK_EQUAL(a.reopens, b.reopens);
    CAF_CHECK_EQUAL(a.down_until_ms, b.down_until_ms);
    CAF_CHECK(a.down_class == b.down_class);
  }
}

CAF_TEST(corrupt snapshots are rejected with a reason) {
  CAF_CHECK_EQUAL(error_of("{\"version\": 1, \"deploym"), "not valid JSON");
  CAF_CHECK_EQUAL(error_of("[]"), "expected a JSON object");
  CAF_CHECK_EQUAL(error_of("{\"version\": 7, \"deployments\": []}"),
                  "unsupported version (expected 1)");
  CAF_CHECK_EQUAL(error_of("{\"version\": 1}"),
                  "deployments: expected an array");
  CAF_CHECK_EQUAL(error_of(R"({"version": 1, "deployments": [{"name": "a",
                   "breaker": "ajar"}]})"),
                  "deployments[0]: bad breaker state");
  CAF_CHECK_EQUAL(error_of(R"({"version": 1, "deployments": [{"name": "a",
                   "breaker": "open"}]})"),
                  "deployments[0]: open breaker without open_until_ms");
  CAF_CHECK_EQUAL(error_of(R"({"version": 1, "deployments": [{"name": "a",
                   "breaker": "closed", "down_until_ms": 5,
                   "down_class": "sunspots"}]})"),
                  "deployments[0]: bad down_class");
  CAF_CHECK_EQUAL(
      error_of(R"({"version": 1, "deployments": [{"breaker": "closed"}]})"),
      "deployments[0]: missing name");
  CAF_CHECK_EQUAL(error_of(R"({"version": 1, "deployments": []})"),
                  "<decoded>");
}

CAF_TEST(files are replaced atomically) {
  char dir[] = "/tmp/switchyard-snapshot-XXXXXX";
  CAF_REQUIRE(::mkdtemp(dir) != nullptr);
  std::string path = std::string{dir} + "/state.json";
  CAF_CHECK(!write_file_atomically(path, "first").has_value());
  CAF_CHECK(!write_file_atomically(path, "second").has_value());
  std::ifstream in{path};
  std::stringstream buf;
  buf << in.rdbuf();
  CAF_CHECK_EQUAL(buf.str(), "second");
  CAF_CHECK(::access((path + ".tmp").c_str(), F_OK) != 0);
  auto err = write_file_atomically(std::string{dir} + "/missing/x.json", "x");
  CAF_REQUIRE(err.has_value());
  CAF_CHECK(err->find("cannot create") == 0);
  std::remove(path.c_str());
  ::rmdir(dir);
}
