#define CAF_SUITE metrics_registry

#include "switchyard/metrics.hpp"

#include <string>
#include <thread>
#include <vector>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace std::chrono_literals;

namespace {

/// The value of the sample line `series` (name plus label set), or -1.
double sample(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos)
    return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

/// True when `fn` throws `std::invalid_argument`.
template <class F>
bool throws(F fn) {
  try {
    fn();
  } catch (const std::invalid_argument&) {
    return true;
  }
  return false;
}

engine_config two_targets() {
  auto cfg = parse_config(R"({
    "providers": { "p1": { "kind": "openai_chat", "base_url": "http://a" },
                   "p2": { "kind": "anthropic_messages",
                           "base_url": "http://b" } },
    "deployments": {
      "primary": { "provider": "p1", "model": "m1",
                   "cost_per_1k_input": 1, "cost_per_1k_output": 2 },
      "backup": { "provider": "p2", "model": "m2" } },
    "routes": { "chat": { "targets": ["primary", "backup"] } }
  })");
  if (!cfg)
    CAF_FAIL("config: " << to_string(cfg.error()));
  return std::move(cfg).value();
}

} // namespace

CAF_TEST(counters and gauges render with help type and escaped labels) {
  metric_registry reg;
  auto& c = reg.counter("demo_requests_total", "Requests\nseen \\ so far",
                        {"path"});
  c.with({R"(a"b\c)"
          "\n"})
      .inc(3);
  reg.gauge("demo_up", "Up", {}).with({}).set(1.5);
  auto text = reg.render();
  CAF_CHECK(text.find("# HELP demo_requests_total Requests\\nseen \\\\ so far\n"
                      "# TYPE demo_requests_total counter\n")
            != std::string::npos);
  CAF_CHECK(text.find(R"(demo_requests_total{path="a\"b\\c\n"} 3)")
            != std::string::npos);
  CAF_CHECK(text.find("# TYPE demo_up gauge\ndemo_up 1.5\n")
            != std::string::npos);
}

CAF_TEST(histograms render cumulative buckets sum and count) {
  metric_registry reg;
  auto& h = reg.histogram("demo_seconds", "Durations", {"route"}, {0.1, 1, 10})
                .with({"r"});
  for (double v : {0.0625, 1.0, 0.75, 5.0, 50.0})
    h.observe(v);
  auto text = "\n" + reg.render();
  CAF_CHECK_EQUAL(sample(text, R"(demo_seconds_bucket{route="r",le="0.1"})"),
                  1);
  CAF_CHECK_EQUAL(sample(text, R"(demo_seconds_bucket{route="r",le="1"})"), 3);
  CAF_CHECK_EQUAL(sample(text, R"(demo_seconds_bucket{route="r",le="10"})"), 4);
  CAF_CHECK_EQUAL(sample(text, R"(demo_seconds_bucket{route="r",le="+Inf"})"),
                  5);
  CAF_CHECK_EQUAL(sample(text, R"(demo_seconds_count{route="r"})"), 5);
  CAF_CHECK_EQUAL(sample(text, R"(demo_seconds_sum{route="r"})"), 56.8125);
}

CAF_TEST(bad names and conflicting registrations are refused) {
  metric_registry reg;
  CAF_CHECK(throws([&] { (void)reg.counter("bad-name", "x", {}); }));
  CAF_CHECK(throws([&] { (void)reg.counter("ok_total", "x", {"le"}); }));
  auto& first = reg.counter("shared_total", "x", {"a"});
  CAF_CHECK_EQUAL(&reg.counter("shared_total", "x", {"a"}), &first);
  CAF_CHECK(throws([&] { (void)reg.gauge("shared_total", "x", {"a"}); }));
  CAF_CHECK(throws([&] { (void)first.with({"a", "b"}); }));
  CAF_CHECK(throws([&] { (void)reg.histogram("h", "x", {}, {2, 1}); }));
}

CAF_TEST(counting from many threads loses nothing) {
  metric_registry reg;
  auto& c = reg.counter("n_total", "x", {}).with({});
  auto& h = reg.histogram("d_seconds", "x", {}, {1}).with({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(0.5);
      }
    });
  for (auto& t : threads)
    t.join();
  CAF_CHECK_EQUAL(c.value(), 40000);
  CAF_CHECK_EQUAL(h.count(), 40000u);
}

CAF_TEST(the sink counts calls attempts fallbacks tokens and breaker state) {
  auto reg = std::make_shared<metric_registry>();
  metrics_sink sink{reg, two_targets()};
  attempt_finished bad;
  bad.call_id = 1;
  bad.deployment = "primary";
  bad.route = "chat";
  bad.cls = error_class::server_error;
  bad.status = 500;
  bad.latency = 20ms;
  sink.on_event(bad);
  sink.on_event(retry_scheduled{1, "primary", error_class::server_error, 10ms,
                                false, nullptr, "chat"});
  sink.on_event(bad);
  sink.on_event(
      fallback_taken{1, "primary", "backup", "server_error", nullptr, "chat"});
  attempt_finished good;
  good.call_id = 1;
  good.deployment = "backup";
  good.route = "chat";
  good.latency = 300ms;
  good.usage = usage{100, 50, 150};
  good.first_token = 40ms;
  sink.on_event(good);
  attempt_finished paid = good;
  paid.deployment = "primary";
  paid.first_token.reset();
  sink.on_event(paid);
  call_finished done;
  done.call_id = 1;
  done.route = "chat";
  done.deployment = "backup";
  done.attempts = 3;
  done.latency = 350ms;
  sink.on_event(done);
  sink.on_event(breaker_changed{"primary", "closed", "open", 1s});
  attempt_finished probe;
  probe.deployment = "primary";
  probe.cls = error_class::connection;
  sink.on_event(probe);
  auto text = "\n" + reg->render();
  CAF_CHECK_EQUAL(
      sample(text, R"(switchyard_calls_total{route="chat",outcome="ok"})"), 1);
  CAF_CHECK_EQUAL(
      sample(text, R"(switchyard_calls_total{route="chat",outcome="timeout"})"),
      0);
  CAF_CHECK_EQUAL(
      sample(
          text,
          R"(switchyard_attempts_total{route="chat",deployment="primary",provider="p1",model="m1",class="server_error"})"),
      2);
  CAF_CHECK_EQUAL(
      sample(
          text,
          R"(switchyard_attempts_total{route="chat",deployment="backup",provider="p2",model="m2",class="ok"})"),
      1);
  CAF_CHECK_EQUAL(
      sample(
          text,
          R"(switchyard_attempts_total{route="",deployment="primary",provider="p1",model="m1",class="connection"})"),
      1);
  CAF_CHECK_EQUAL(
      sample(
          text,
          R"(switchyard_fallbacks_total{route="chat",from="primary",to="backup",reason="server_error"})"),
      1);
  CAF_CHECK_EQUAL(
      sample(
          text,
          R"(switchyard_retries_total{route="chat",deployment="primary",class="server_error"})"),
      1);
  CAF_CHECK_EQUAL(
      sample(
          text,
          R"(switchyard_tokens_total{route="chat",deployment="backup",direction="input"})"),
      100);
  CAF_CHECK_EQUAL(
      sample(
          text,
          R"(switchyard_tokens_total{route="chat",deployment="backup",direction="output"})"),
      50);
  // 100 input tokens at 1 per 1000, 50 output tokens at 2 per 1000.
  CAF_CHECK_EQUAL(
      sample(text,
             R"(switchyard_cost_total{route="chat",deployment="primary"})"),
      0.2);
  CAF_CHECK_EQUAL(
      sample(text,
             R"(switchyard_breaker_state{deployment="primary",state="open"})"),
      1);
  CAF_CHECK_EQUAL(
      sample(
          text,
          R"(switchyard_breaker_state{deployment="primary",state="closed"})"),
      0);
  CAF_CHECK_EQUAL(
      sample(text,
             R"(switchyard_breaker_state{deployment="backup",state="closed"})"),
      1);
  CAF_CHECK_EQUAL(
      sample(
          text,
          R"(switchyard_breaker_transitions_total{deployment="primary",from="closed",to="open"})"),
      1);
  CAF_CHECK_EQUAL(
      sample(text, R"(switchyard_call_duration_seconds_count{route="chat"})"),
      1);
  CAF_CHECK_EQUAL(
      sample(
          text,
          R"(switchyard_time_to_first_token_seconds_bucket{route="chat",le="0.05"})"),
      1);
  CAF_CHECK_EQUAL(
      sample(
          text,
          R"(switchyard_time_to_first_token_seconds_bucket{route="chat",le="0.025"})"),
      0);
}

CAF_TEST(the sink labels deployments and routes the config does not know) {
  auto reg = std::make_shared<metric_registry>();
  metrics_sink sink{reg, two_targets()};
  call_finished done;
  done.route = "other";
  done.cls = error_class::timeout;
  sink.on_event(done);
  fallback_taken fb{2, "x", "y", "rate_limited", nullptr, "other"};
  sink.on_event(fb);
  sink.observe_deployment("backup", "half_open", 3, 2, 17, std::nullopt);
  auto text = "\n" + reg->render();
  CAF_CHECK_EQUAL(
      sample(text,
             R"(switchyard_calls_total{route="other",outcome="timeout"})"),
      1);
  CAF_CHECK_EQUAL(
      sample(
          text,
          R"(switchyard_fallbacks_total{route="other",from="x",to="y",reason="rate_limited"})"),
      1);
  CAF_CHECK_EQUAL(
      sample(
          text,
          R"(switchyard_breaker_state{deployment="backup",state="half_open"})"),
      1);
  CAF_CHECK_EQUAL(
      sample(text, R"(switchyard_deployment_in_flight{deployment="backup"})"),
      3);
  CAF_CHECK_EQUAL(
      sample(text, R"(switchyard_deployment_queued{deployment="backup"})"), 2);
  CAF_CHECK_EQUAL(
      sample(
          text,
          R"(switchyard_upstream_ratelimit_remaining{deployment="backup",kind="requests"})"),
      17);
  CAF_CHECK(text.find(R"(kind="tokens")") == std::string::npos);
}

CAF_TEST(a fanout sink hands every event to each sink) {
  struct counting : event_sink {
    int n = 0;
    void on_event(const engine_event&) override {
      ++n;
    }
  };
  auto a = std::make_shared<counting>();
  auto b = std::make_shared<counting>();
  fanout_sink all{{a, nullptr, b}};
  all.on_event(call_finished{});
  all.on_event(breaker_changed{});
  CAF_CHECK_EQUAL(a->n, 2);
  CAF_CHECK_EQUAL(b->n, 2);
}
