#define CAF_SUITE batch_input
#include "integration/support_batch.hpp"
#include "integration/support_engine.hpp"

#include <set>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

/// One clean OpenAI-shaped mock behind route "chat" (the default route).
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

/// Good lines, broken lines and a duplicate, with the problem expected on
/// each broken line (by line number).
struct mixed_input {
  std::string text;
  std::map<uint64_t, std::string> problems; // line -> error code
  size_t records = 0;
};

mixed_input make_mixed() {
  mixed_input in;
  std::vector<std::pair<std::string, std::string>> lines{
      {batch_request("a", "alpha").dump(), ""},
      {"{not json", "invalid_json"},
      {batch_request("b", "beta").dump(), ""},
      {"", ""}, // blank: skipped, no output
      {R"({"custom_id":"c","method":"POST","url":"/v1/chat/completions","body":{"messages":[{"role":"bot","content":"x"}]}})",
       "invalid_request"},
      {R"({"custom_id":"d","method":"POST","url":"/v1/embeddings","body":{"messages":[{"role":"user","content":"x"}]}})",
       "invalid_request"},
      {R"({"custom_id":"e","body":{"model":"chat"}})", "invalid_request"},
      {batch_request("a", "alpha again").dump(), "duplicate_custom_id"},
      {R"({"messages":[{"role":"user","content":"plain"}]})", ""},
      {batch_request("f", "unknown route", "gpt-4o").dump(), "unknown_route"},
      {"[1, 2]", "invalid_request"},
      {batch_request("g", "gamma").dump(), ""},
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    in.text += lines[i].first + "\n";
    if (!lines[i].second.empty())
      in.problems[i + 1] = lines[i].second;
    if (!lines[i].first.empty())
      ++in.records;
  }
  return in;
}

} // namespace

CAF_TEST(
    malformed lines and duplicate ids get error lines and the batch goes on) {
  temp_dir dir;
  auto mock = start_mock();
  auto cfg = write_config(dir, mock);
  auto input = make_mixed();
  write_file(dir.file("in.jsonl"), input.text);
  auto res = run_batch({"--config", cfg, "--input", dir.file("in.jsonl"),
                        "--output", dir.file("out.jsonl"), "--quiet"});
  CAF_CHECK_EQUAL(res.exit_code, 1); // some lines failed
  auto out = read_output(dir.file("out.jsonl"));
  CAF_REQUIRE_EQUAL(out.size(), input.records);
  std::map<uint64_t, json> by_line;
  for (auto& line : out) {
    auto n = line["switchyard"]["line"].get<uint64_t>();
    CAF_CHECK(by_line.count(n) == 0);
    by_line[n] = line;
  }
  for (const auto& [n, line] : by_line) {
    auto it = input.problems.find(n);
    if (it == input.problems.end()) {
      CAF_CHECK(line["error"].is_null());
      CAF_CHECK_EQUAL(line["response"]["status_code"], 200);
      CAF_CHECK_EQUAL(line["response"]["body"]["object"], "chat.completion");
      CAF_CHECK_EQUAL(line["response"]["body"]["model"], "gpt-4o-mini");
      CAF_CHECK_EQUAL(line["switchyard"]["deployment"], "d1");
      CAF_CHECK(!answer_text(line).empty());
      continue;
    }
    CAF_CHECK(line["response"].is_null());
    CAF_CHECK_EQUAL(line["error"]["code"], it->second);
    auto msg = line["error"]["message"].get<std::string>();
    CAF_CHECK_EQUAL(msg.rfind("line " + std::to_string(n) + ": ", 0), 0u);
    CAF_MESSAGE("line " << n << ": " << msg);
  }
  // The field at fault is named.
  CAF_CHECK_NOT_EQUAL(by_line[5]["error"]["message"].get<std::string>().find(
                          "body.messages[0].role"),
                      std::string::npos);
  CAF_CHECK_NOT_EQUAL(
      by_line[7]["error"]["message"].get<std::string>().find("body.messages"),
      std::string::npos);
  // The first "a" is answered; the second is the duplicate, under its id.
  CAF_CHECK(by_line[1]["error"].is_null());
  CAF_CHECK_EQUAL(by_line[8]["custom_id"], "a");
  // A plain chat object gets custom_id line-N.
  CAF_CHECK_EQUAL(by_line[9]["custom_id"], "line-9");
  CAF_CHECK(by_line[9]["error"].is_null());
  // Only the valid lines reached the mock.
  CAF_CHECK_EQUAL(mock_total(mock), 4);
}

CAF_TEST(a dry run checks every line and sends nothing) {
  temp_dir dir;
  auto mock = start_mock();
  auto cfg = write_config(dir, mock);
  write_file(dir.file("in.jsonl"), make_mixed().text);
  auto child = start_batch(
      {"--config", cfg, "--input", dir.file("in.jsonl"), "--dry-run"});
  std::string report;
  while (auto line = child.read_line(10s))
    report += *line + "\n";
  CAF_CHECK_EQUAL(child.wait(10s), 1);
  CAF_MESSAGE("dry run:\n" << report);
  CAF_CHECK_NOT_EQUAL(report.find("lines: 11 (4 valid, 7 invalid)"),
                      std::string::npos);
  CAF_CHECK_NOT_EQUAL(report.find("route chat: 4"), std::string::npos);
  CAF_CHECK_NOT_EQUAL(report.find("duplicate_custom_id: 1"), std::string::npos);
  CAF_CHECK_NOT_EQUAL(report.find("line 2: not JSON"), std::string::npos);
  CAF_CHECK_EQUAL(mock_total(mock), 0);
  // All valid: exit 0.
  write_requests(dir.file("good.jsonl"), 20);
  auto ok = run_batch(
      {"--config", cfg, "--input", dir.file("good.jsonl"), "--dry-run"});
  CAF_CHECK_EQUAL(ok.exit_code, 0);
  CAF_CHECK_EQUAL(mock_total(mock), 0);
}

CAF_TEST(errors before anything is sent exit with 2) {
  temp_dir dir;
  auto mock = start_mock();
  auto cfg = write_config(dir, mock);
  write_requests(dir.file("in.jsonl"), 5);
  write_file(dir.file("bad.json"),
             R"({"routes": {"chat": {"targets": ["nope"]}}})");
  auto bad_cfg
      = run_batch({"--config", dir.file("bad.json"), "--input",
                   dir.file("in.jsonl"), "--output", dir.file("out.jsonl")});
  CAF_CHECK_EQUAL(bad_cfg.exit_code, 2);
  CAF_CHECK_NOT_EQUAL(bad_cfg.err.find("bad config"), std::string::npos);
  auto no_input
      = run_batch({"--config", cfg, "--input", dir.file("missing.jsonl"),
                   "--output", dir.file("out.jsonl")});
  CAF_CHECK_EQUAL(no_input.exit_code, 2);
  auto bad_route
      = run_batch({"--config", cfg, "--input", dir.file("in.jsonl"), "--output",
                   dir.file("out.jsonl"), "--route", "nope"});
  CAF_CHECK_EQUAL(bad_route.exit_code, 2);
  // An output that already holds lines is not overwritten without --resume.
  write_file(dir.file("out.jsonl"), "{}\n");
  auto exists = run_batch({"--config", cfg, "--input", dir.file("in.jsonl"),
                           "--output", dir.file("out.jsonl")});
  CAF_CHECK_EQUAL(exists.exit_code, 2);
  CAF_CHECK_NOT_EQUAL(exists.err.find("--resume"), std::string::npos);
  CAF_CHECK_EQUAL(read_file(dir.file("out.jsonl")), "{}\n");
  CAF_CHECK_EQUAL(mock_total(mock), 0);
}

CAF_TEST(standard input and output work with a dash) {
  temp_dir dir;
  auto mock = start_mock();
  auto cfg = write_config(dir, mock);
  write_requests(dir.file("in.jsonl"), 50);
  auto cmd = binary_path("switchyard-batch") + " --quiet --config " + cfg
             + " --input - --output - < " + dir.file("in.jsonl") + " > "
             + dir.file("out.jsonl");
  auto child = child_process::start({"/bin/sh", "-c", cmd});
  CAF_REQUIRE(child.has_value());
  CAF_CHECK_EQUAL(child->wait(30s), 0);
  auto out = read_output(dir.file("out.jsonl"));
  CAF_CHECK_EQUAL(out.size(), 50u);
  auto ids = count_ids(out);
  CAF_CHECK_EQUAL(ids.size(), 50u);
  for (size_t i = 0; i < 50; ++i)
    CAF_CHECK_EQUAL(ids["r" + std::to_string(i)], 1);
  // Resume needs files.
  auto res = run_batch({"--config", cfg, "--input", "-", "--output",
                        dir.file("o2.jsonl"), "--resume"});
  CAF_CHECK_EQUAL(res.exit_code, 2);
}

CAF_TEST(max failures stops the run and the resume finishes it) {
  temp_dir dir;
  auto mock = start_mock();
  load_scenario(mock, {{"defaults", {{"latency", 20}}}});
  auto cfg = write_config(dir, mock);
  // Five broken lines among 200 good ones, the first early on.
  std::string text;
  for (size_t i = 0; i < 200; ++i) {
    if (i % 40 == 3)
      text += "{broken\n";
    text += batch_request("r" + std::to_string(i), "q" + std::to_string(i))
                .dump()
            + "\n";
  }
  write_file(dir.file("in.jsonl"), text);
  std::vector<std::string> args{"--config",       cfg,
                                "--input",        dir.file("in.jsonl"),
                                "--output",       dir.file("out.jsonl"),
                                "--max-failures", "2",
                                "--concurrency",  "4"};
  auto res = run_batch(args);
  CAF_CHECK_EQUAL(res.exit_code, 1);
  CAF_CHECK_NOT_EQUAL(res.err.find("--max-failures 2 reached"),
                      std::string::npos);
  CAF_CHECK_NOT_EQUAL(res.err.find("Resume with:"), std::string::npos);
  auto first = read_output(dir.file("out.jsonl"));
  CAF_CHECK_LESS(first.size(), 205u);
  CAF_CHECK_GREATER_OR_EQUAL(first.size(), 2u);
  // Without the limit the resume finishes: every line once, 5 errors.
  args.resize(args.size() - 4);
  args.push_back("--resume");
  args.push_back("--quiet");
  auto fin = run_batch(args);
  CAF_CHECK_EQUAL(fin.exit_code, 1); // the broken lines stay failed
  auto out = read_output(dir.file("out.jsonl"));
  CAF_CHECK_EQUAL(out.size(), 205u);
  std::set<uint64_t> lines;
  size_t errors = 0;
  for (const auto& line : out) {
    lines.insert(line["switchyard"]["line"].get<uint64_t>());
    errors += line["error"].is_null() ? 0 : 1;
  }
  CAF_CHECK_EQUAL(lines.size(), 205u);
  CAF_CHECK_EQUAL(errors, 5u);
}

CAF_TEST(
    ids and messages with quotes control characters and unicode round trip) {
  temp_dir dir;
  auto mock = start_mock();
  auto cfg = write_config(dir, mock);
  std::string odd_id
      = "q\"uo\\te\n\t\x01 \xc3\xa9\xe2\x9c\x93 \xf0\x9f\x9a\x80";
  std::string text = batch_request(odd_id, "caf\xc3\xa9 \"quoted\"").dump()
                     + "\n" + R"({"custom_id": "x\u0002y", "body": 7})" + "\n";
  write_file(dir.file("in.jsonl"), text);
  auto res = run_batch({"--config", cfg, "--input", dir.file("in.jsonl"),
                        "--output", dir.file("out.jsonl"), "--quiet"});
  CAF_CHECK_EQUAL(res.exit_code, 1);
  auto out = read_output(dir.file("out.jsonl"));
  CAF_REQUIRE_EQUAL(out.size(), 2u);
  auto ids = count_ids(out);
  CAF_CHECK_EQUAL(ids[odd_id], 1);
  CAF_CHECK_EQUAL(ids[std::string{"x\x02y"}], 1);
  for (const auto& line : out)
    if (line["custom_id"] == odd_id)
      CAF_CHECK(!answer_text(line).empty());
}

CAF_TEST(sampling hints reach an Anthropic route without breaking it) {
  temp_dir dir;
  auto mock = start_mock();
  json cfg{{"providers", {{"a", mock_provider(mock, "anthropic_messages")}}},
           {"deployments", {{"d1", {{"provider", "a"}, {"model", "claude"}}}}},
           {"routes", {{"chat", {{"targets", {"d1"}}}}}},
           {"engine", {{"threads", 2}}}};
  write_file(dir.file("config.json"), cfg.dump());
  auto good = batch_request("good", "hello");
  good["body"]["seed"] = 7;
  good["body"]["presence_penalty"] = 0.5;
  good["body"]["frequency_penalty"] = -0.5;
  auto bad = batch_request("bad", "hello");
  bad["body"]["presence_penalty"] = 5;
  write_file(dir.file("in.jsonl"), good.dump() + "\n" + bad.dump() + "\n");
  auto res = run_batch({"--config", dir.file("config.json"), "--input",
                        dir.file("in.jsonl"), "--output", dir.file("out.jsonl"),
                        "--quiet"});
  CAF_CHECK_EQUAL(res.exit_code, 1);
  auto out = read_output(dir.file("out.jsonl"));
  CAF_REQUIRE_EQUAL(out.size(), 2u);
  for (const auto& line : out) {
    if (line["custom_id"] == "good") {
      CAF_CHECK(line["error"].is_null());
      CAF_CHECK_EQUAL(line["response"]["status_code"], 200);
    } else {
      auto msg = line["error"]["message"].get<std::string>();
      CAF_CHECK_NOT_EQUAL(msg.find("body.presence_penalty"), std::string::npos);
    }
  }
  CAF_CHECK_EQUAL(mock_total(mock), 1);
}
