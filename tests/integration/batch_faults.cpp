#define CAF_SUITE batch_faults
#include "integration/support_batch.hpp"
#include "integration/support_engine.hpp"

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

CAF_TEST(
    a batch through rate limits 5xx hangs and an outage answers every line) {
  temp_dir dir;
  auto primary = start_mock({"--threads", "2"});
  auto secondary = start_mock();
  // Every answer (on both mocks) takes 30 ms, so 600 lines at 16 in flight
  // take at least 1.1 s and the run spans the phases below, however late the
  // batch starts after the scenario is loaded (later under ASan). Then: 10 %
  // rate limited, 10 % server errors, 3 % hangs; an outage (every call 503)
  // from 300 ms to 700 ms; faults again after it. The primary's breaker
  // opens for only 100 ms, so the primary serves again after the outage.
  json faults = json::array({{{"fault", "rate_limit=0.05"}, {"p", 0.1}},
                             {{"fault", "server_error"}, {"p", 0.1}},
                             {{"fault", "hang"}, {"p", 0.03}}});
  load_scenario(primary,
                {{"defaults", {{"latency", 30}}},
                 {"rules",
                  {{{"kind", "openai_chat"},
                    {"timeline",
                     {{{"for_ms", 300}, {"faults", faults}},
                      {{"for_ms", 400},
                       {"faults", {{{"fault", "overloaded"}, {"p", 1}}}}},
                      {{"faults", faults}}}}}}}});
  json cfg{
      {"providers",
       {{"primary", mock_provider(primary)},
        {"secondary", mock_provider(secondary, "anthropic_messages")}}},
      {"deployments",
       {{"primary-gpt",
         {{"provider", "primary"},
          {"model", "gpt-4o-mini"},
          {"cost_per_1k_input", 0.15},
          {"cost_per_1k_output", 0.6},
          {"breaker",
           {{"open_duration_ms", 100}, {"max_open_duration_ms", 200}}}}},
        {"secondary-claude",
         {{"provider", "secondary"}, {"model", "claude-sonnet-4-20250514"}}}}},
      {"routes",
       {{"chat",
         {{"targets", {"primary-gpt", "secondary-claude"}},
          {"deadline_ms", 10000},
          {"ladder_ms", {300, 1000}},
          {"backoff", {{"base_ms", 10}, {"cap_ms", 100}}}}}}},
      {"default_route", "chat"},
      {"engine", {{"threads", 2}}}};
  load_scenario(secondary, {{"defaults", {{"latency", 30}}}});
  write_file(dir.file("config.json"), cfg.dump());
  constexpr size_t n = 600;
  write_requests(dir.file("in.jsonl"), n);
  auto res = run_batch({"--config", dir.file("config.json"), "--input",
                        dir.file("in.jsonl"), "--output", dir.file("out.jsonl"),
                        "--concurrency", "16", "--progress-every", "0.2"});
  CAF_MESSAGE("stderr:\n" << res.err);
  CAF_CHECK_EQUAL(res.exit_code, 0);
  auto out = read_output(dir.file("out.jsonl"));
  CAF_CHECK_EQUAL(out.size(), n);
  auto ids = count_ids(out);
  CAF_CHECK_EQUAL(ids.size(), n);
  size_t by_secondary = 0;
  size_t fell_back = 0;
  size_t retried = 0;
  for (const auto& line : out) {
    CAF_CHECK_EQUAL(ids[line["custom_id"].get<std::string>()], 1);
    if (!line["error"].is_null()) {
      CAF_ERROR("line failed: " << line.dump());
      continue;
    }
    const auto& sy = line["switchyard"];
    by_secondary += sy["deployment"] == "secondary-claude" ? 1 : 0;
    fell_back += sy["fell_back"].get<bool>() ? 1 : 0;
    retried += sy["attempts"].get<int>() > 1 ? 1 : 0;
    // body.model is the model that answered.
    CAF_CHECK_EQUAL(line["response"]["body"]["model"], sy["model"]);
  }
  auto stats = mock_stats(primary);
  CAF_MESSAGE("primary stats: " << stats.dump());
  CAF_CHECK_GREATER(stats["faults"].value("overloaded", 0), 0);
  CAF_CHECK_GREATER(stats["faults"].value("rate_limit", 0), 0);
  CAF_CHECK_GREATER(stats["faults"].value("server_error", 0), 0);
  CAF_CHECK_GREATER(by_secondary, 0u);
  CAF_CHECK_EQUAL(fell_back, by_secondary);
  CAF_CHECK_GREATER(retried, 0u);
  // The summary names outcomes, providers, latency, tokens and cost.
  for (auto* what : {"answered: 600", "by provider:", "p50", "tokens: in",
                     "cost:", "fallbacks:"})
    CAF_CHECK_NOT_EQUAL(res.err.find(what), std::string::npos);
  // Not a terminal: plain progress lines.
  CAF_CHECK_NOT_EQUAL(res.err.find("lines/s"), std::string::npos);
}

CAF_TEST(lines no target can take now wait and go again instead of failing) {
  temp_dir dir;
  auto mock = start_mock();
  load_scenario(mock, {{"defaults", {{"latency", 20}}}});
  // At most 4 calls in the deployment and no queue: a batch of 32 in flight
  // meets the engine's backpressure on most lines.
  json cfg{{"providers", {{"p", mock_provider(mock)}}},
           {"deployments",
            {{"d1",
              {{"provider", "p"},
               {"model", "gpt-4o-mini"},
               {"limits", {{"max_in_flight", 4}, {"max_queue", 0}}}}}}},
           {"routes", {{"chat", {{"targets", {"d1"}}}}}},
           {"default_route", "chat"},
           {"engine", {{"threads", 2}}}};
  write_file(dir.file("config.json"), cfg.dump());
  constexpr size_t n = 200;
  write_requests(dir.file("in.jsonl"), n);
  auto res = run_batch({"--config", dir.file("config.json"), "--input",
                        dir.file("in.jsonl"), "--output", dir.file("out.jsonl"),
                        "--concurrency", "32"});
  CAF_MESSAGE("stderr:\n" << res.err);
  CAF_CHECK_EQUAL(res.exit_code, 0);
  auto out = read_output(dir.file("out.jsonl"));
  CAF_CHECK_EQUAL(out.size(), n);
  size_t requeued = 0;
  for (const auto& line : out) {
    CAF_CHECK(line["error"].is_null());
    requeued += line["switchyard"]["requeued"].get<size_t>();
  }
  CAF_MESSAGE("requeued " << requeued << " times");
  CAF_CHECK_GREATER(requeued, 0u);
  // Refused calls never reached the mock: one request per line.
  CAF_CHECK_EQUAL(mock_total(mock), static_cast<int64_t>(n));
}
