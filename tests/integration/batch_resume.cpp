#define CAF_SUITE batch_resume
#include "integration/support_batch.hpp"
#include "integration/support_engine.hpp"

#include <csignal>
#include <random>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

/// A mock answering in 15 ms behind route "chat".
std::string write_config(const temp_dir& dir, const mock_server& m) {
  json cfg{
      {"providers", {{"p", mock_provider(m)}}},
      {"deployments", {{"d1", {{"provider", "p"}, {"model", "gpt-4o-mini"}}}}},
      {"routes", {{"chat", {{"targets", {"d1"}}}}}},
      {"default_route", "chat"},
      {"engine", {{"threads", 2}}}};
  auto path = dir.file("config.json");
  write_file(path, cfg.dump());
  return path;
}

/// Checks that the output answers each of r0..r(n-1) exactly once, with the
/// text a clean mock gives for it.
void check_exactly_once(const std::string& path, size_t n,
                        const mock_server& reference) {
  auto out = read_output(path);
  CAF_CHECK_EQUAL(out.size(), n);
  auto ids = count_ids(out);
  CAF_CHECK_EQUAL(ids.size(), n);
  for (size_t i = 0; i < n; ++i) {
    auto id = "r" + std::to_string(i);
    if (ids[id] != 1)
      CAF_ERROR(id << " appears " << ids[id] << " times");
  }
  size_t checked = 0;
  for (const auto& line : out) {
    CAF_REQUIRE(line["error"].is_null());
    auto id = line["custom_id"].get<std::string>();
    auto question = "question " + id.substr(1);
    auto want = mock_answer(reference, "gpt-4o-mini", question);
    if (answer_text(line) != want)
      CAF_ERROR(id << ": answer " << answer_text(line) << " != " << want);
    else
      ++checked;
  }
  CAF_CHECK_EQUAL(checked, n);
}

} // namespace

CAF_TEST(kill
         - 9 at random points then resume completes every line exactly once) {
  temp_dir dir;
  auto mock = start_mock({"--threads", "2"});
  load_scenario(mock, {{"defaults", {{"latency", 15}}}});
  auto reference = start_mock();
  auto cfg = write_config(dir, mock);
  constexpr size_t n = 800;
  write_requests(dir.file("in.jsonl"), n);
  std::vector<std::string> args{
      "--config",           cfg,        "--input",
      dir.file("in.jsonl"), "--output", dir.file("out.jsonl"),
      "--concurrency",      "16",       "--quiet"};
  std::minstd_rand rng{std::random_device{}()};
  size_t kills = 0;
  for (int round = 0; round < 3; ++round) {
    auto have = count_lines(dir.file("out.jsonl"));
    // Kill once the output has grown by a random amount.
    std::uniform_int_distribution<size_t> grow{1, 200};
    auto target = have + grow(rng);
    auto run_args = args;
    if (round > 0)
      run_args.push_back("--resume");
    auto child = start_batch(run_args);
    eventually([&] { return count_lines(dir.file("out.jsonl")) >= target; },
               30s);
    ::kill(child.pid(), SIGKILL);
    CAF_CHECK_EQUAL(child.wait(10s), 128 + SIGKILL);
    auto after = count_lines(dir.file("out.jsonl"));
    CAF_MESSAGE("round " << round << ": killed at " << after << " lines");
    if (after < n)
      ++kills;
  }
  CAF_CHECK_EQUAL(kills, 3u);
  // A torn last line, as a write cut short by the kill leaves it.
  auto text = read_file(dir.file("out.jsonl"));
  write_file(dir.file("out.jsonl"),
             text + R"({"id":"batch_req_x","custom_id":"r)");
  auto fin = run_batch([&] {
    auto a = args;
    a.push_back("--resume");
    return a;
  }());
  CAF_MESSAGE("resume:\n" << fin.err);
  CAF_CHECK_EQUAL(fin.exit_code, 0);
  CAF_CHECK_NOT_EQUAL(fin.err.find("torn"), std::string::npos);
  check_exactly_once(dir.file("out.jsonl"), n, reference);
  // The mock answered at least every line (lines in flight at a kill were
  // sent twice, but written once).
  CAF_CHECK_GREATER_OR_EQUAL(mock_total(mock), static_cast<int64_t>(n));
}

CAF_TEST(
    SIGINT stops cleanly prints the resume command and the resume finishes) {
  temp_dir dir;
  auto mock = start_mock();
  load_scenario(mock, {{"defaults", {{"latency", 50}}}});
  auto reference = start_mock();
  auto cfg = write_config(dir, mock);
  constexpr size_t n = 400;
  write_requests(dir.file("in.jsonl"), n);
  std::vector<std::string> args{"--config",      cfg,
                                "--input",       dir.file("in.jsonl"),
                                "--output",      dir.file("out.jsonl"),
                                "--concurrency", "8"};
  auto child = start_batch(args);
  CAF_REQUIRE(eventually(
      [&] { return count_lines(dir.file("out.jsonl")) >= 10; }, 30s));
  ::kill(child.pid(), SIGINT);
  auto rc = child.wait(20s);
  auto err = child.stderr_text();
  CAF_MESSAGE("stderr:\n" << err);
  CAF_CHECK_EQUAL(rc, 130);
  auto written = count_lines(dir.file("out.jsonl"));
  CAF_CHECK_LESS(written, n);
  // In-flight calls finished and were written: the output is whole.
  CAF_CHECK_EQUAL(read_output(dir.file("out.jsonl")).size(), written);
  auto at = err.find("Resume with:\n  ");
  CAF_REQUIRE_NOT_EQUAL(at, std::string::npos);
  auto cmd = err.substr(at + 15);
  cmd = cmd.substr(0, cmd.find('\n'));
  CAF_CHECK_EQUAL(cmd.rfind(binary_path("switchyard-batch"), 0), 0u);
  CAF_CHECK_NOT_EQUAL(cmd.find(" --resume"), std::string::npos);
  // Run exactly the printed command.
  auto resumed = child_process::start({"/bin/sh", "-c", cmd + " --quiet"});
  CAF_REQUIRE(resumed.has_value());
  CAF_CHECK_EQUAL(resumed->wait(60s), 0);
  check_exactly_once(dir.file("out.jsonl"), n, reference);
}

CAF_TEST(a resume against another input is refused) {
  temp_dir dir;
  auto mock = start_mock();
  auto cfg = write_config(dir, mock);
  write_requests(dir.file("in.jsonl"), 30);
  write_requests(dir.file("other.jsonl"), 31);
  auto first = run_batch({"--config", cfg, "--input", dir.file("in.jsonl"),
                          "--output", dir.file("out.jsonl"), "--quiet"});
  CAF_REQUIRE_EQUAL(first.exit_code, 0);
  auto before = read_file(dir.file("out.jsonl"));
  auto sent = mock_total(mock);
  auto res = run_batch({"--config", cfg, "--input", dir.file("other.jsonl"),
                        "--output", dir.file("out.jsonl"), "--resume"});
  CAF_MESSAGE("stderr: " << res.err);
  CAF_CHECK_EQUAL(res.exit_code, 2);
  CAF_CHECK_NOT_EQUAL(res.err.find("refusing to resume"), std::string::npos);
  CAF_CHECK_NOT_EQUAL(res.err.find("other.jsonl"), std::string::npos);
  CAF_CHECK_EQUAL(read_file(dir.file("out.jsonl")), before);
  CAF_CHECK_EQUAL(mock_total(mock), sent);
  // The same input resumes, and has nothing left to do.
  auto again
      = run_batch({"--config", cfg, "--input", dir.file("in.jsonl"), "--output",
                   dir.file("out.jsonl"), "--resume", "--quiet"});
  CAF_CHECK_EQUAL(again.exit_code, 0);
  CAF_CHECK_EQUAL(read_file(dir.file("out.jsonl")), before);
  CAF_CHECK_EQUAL(mock_total(mock), sent);
}

CAF_TEST(calls still hanging when the grace period ends are cancelled
         and not written) {
  temp_dir dir;
  auto mock = start_mock();
  load_scenario(mock, {{"rules", {{{"faults", {{{"fault", "hang"}}}}}}}});
  auto reference = start_mock();
  json cfg{
      {"providers", {{"p", mock_provider(mock)}}},
      {"deployments", {{"d1", {{"provider", "p"}, {"model", "gpt-4o-mini"}}}}},
      {"routes",
       {{"chat",
         {{"targets", {"d1"}},
          {"deadline_ms", 60000},
          {"ladder_ms", {60000}}}}}},
      {"default_route", "chat"},
      {"engine", {{"threads", 2}}}};
  write_file(dir.file("config.json"), cfg.dump());
  constexpr size_t n = 40;
  write_requests(dir.file("in.jsonl"), n);
  std::vector<std::string> args{"--config",      dir.file("config.json"),
                                "--input",       dir.file("in.jsonl"),
                                "--output",      dir.file("out.jsonl"),
                                "--concurrency", "8",
                                "--grace",       "0.3"};
  auto child = start_batch(args);
  // Eight calls hang upstream.
  CAF_REQUIRE(eventually([&] { return mock_total(mock) >= 8; }, 10s));
  auto t0 = std::chrono::steady_clock::now();
  ::kill(child.pid(), SIGTERM);
  auto rc = child.wait(10s);
  auto took = std::chrono::steady_clock::now() - t0;
  CAF_MESSAGE("stderr:\n" << child.stderr_text());
  CAF_CHECK_EQUAL(rc, 130);
  CAF_CHECK_LESS(took, 5s);
  CAF_CHECK_EQUAL(mock_total(mock), 8);
  // Nothing was answered, and the cancelled calls left no error lines.
  CAF_CHECK_EQUAL(count_lines(dir.file("out.jsonl")), 0u);
  CAF_CHECK(eventually(
      [&] { return mock_stats(mock)["open_connections"] == 0; }, 5s));
  // The provider heals; the resume answers every line once.
  load_scenario(mock, json::object());
  args.push_back("--resume");
  args.push_back("--quiet");
  auto fin = run_batch(args);
  CAF_CHECK_EQUAL(fin.exit_code, 0);
  check_exactly_once(dir.file("out.jsonl"), n, reference);
}
