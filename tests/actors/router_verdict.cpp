#define CAF_SUITE router_verdict

#include "support_fake_provider.hpp"
#include "support_fixture.hpp"

using namespace switchyard;
using namespace switchyard::test;

namespace {

constexpr std::string_view config = R"({
  "providers": {
    "pa": {"kind": "openai_chat", "base_url": "http://a.test"}
  },
  "deployments": {
    "a": {"provider": "pa", "model": "model-a"},
    "b": {"provider": "pa", "model": "model-b"},
    "big": {"provider": "pa", "model": "model-big"}
  },
  "routes": {
    "r": {"targets": ["a", "b"], "context_fallbacks": ["big"],
          "deadline_ms": 3000, "ladder_ms": [3000]}
  }
})";

/// Every deployment served by a scripted fake provider.
struct fixture : actor_fixture {
  fixture() {
    start(config);
    for (auto* name : {"a", "b", "big"}) {
      auto log = std::make_shared<fake_provider_log>();
      log->deployment = name;
      core->directory.set(index_of(name), sys.spawn(fake_provider, log));
      logs.emplace(name, log);
    }
  }

  void reply(const std::string& name, uint64_t id, deployment_result r) {
    auto* c = logs.at(name)->find(id);
    CAF_REQUIRE(c != nullptr);
    caf::anon_send(c->reply_to, result_atom::value, id, c->dispatch,
                   std::move(r));
    consume_messages();
  }

  size_t calls_to(const std::string& name) {
    return logs.at(name)->calls.size();
  }

  std::map<std::string, std::shared_ptr<fake_provider_log>> logs;
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(router_verdict_tests, fixture)

CAF_TEST(a bad request the deployment says to fall back on falls back) {
  // As with retry.fall_back_on: ["bad_request"]: the router does not
  // second-guess the class.
  auto id = call();
  reply("a", id,
        failed_result(upstream_failure(error_class::bad_request, 400),
                      {make_attempt("a", 400, error_class::bad_request)},
                      retry_action::fall_back));
  CAF_CHECK(!done(id));
  CAF_CHECK_EQUAL(calls_to("b"), 1u);
}

CAF_TEST(a give_up verdict returns the failure to the caller) {
  auto id = call();
  reply("a", id,
        failed_result(upstream_failure(error_class::server_error, 500),
                      {make_attempt("a", 500, error_class::server_error)},
                      retry_action::give_up));
  CAF_REQUIRE(done(id));
  CAF_CHECK_EQUAL(failure_class(result(id)), "server_error");
  CAF_CHECK_EQUAL(calls_to("b"), 0u);
  CAF_CHECK_EQUAL(attempt_trail(result(id)), (std::vector<std::string>{"a"}));
}

CAF_TEST(a larger_context fallback goes only to the context fallbacks) {
  auto id = call();
  reply("a", id,
        failed_result(upstream_failure(error_class::context_length, 400),
                      {make_attempt("a", 400, error_class::context_length)},
                      retry_action::fall_back, fallback_scope::larger_context));
  CAF_CHECK_EQUAL(calls_to("b"), 0u);
  CAF_CHECK_EQUAL(calls_to("big"), 1u);
}

CAF_TEST(a rejection falls back whatever its verdict says) {
  auto id = call();
  deployment_result r;
  r.rejected = true;
  r.failure = make_failure(engine_code::queue_full, "full");
  reply("a", id, std::move(r)); // verdict left at give_up
  CAF_CHECK(!done(id));
  CAF_CHECK_EQUAL(calls_to("b"), 1u);
}

CAF_TEST(a rate limited call passes on the upstream wait hint) {
  auto id = call();
  auto f = upstream_failure(error_class::rate_limited, 429);
  f.retry_after = std::chrono::milliseconds{7000};
  reply("a", id,
        failed_result(f, {make_attempt("a", 429, error_class::rate_limited)},
                      retry_action::fall_back));
  reply("b", id,
        failed_result(f, {make_attempt("b", 429, error_class::rate_limited)},
                      retry_action::fall_back));
  CAF_REQUIRE(done(id));
  auto& err = result(id).error();
  CAF_CHECK(err.failure.cls == error_class::rate_limited);
  CAF_REQUIRE(err.retry_after.has_value());
  CAF_CHECK(*err.retry_after == std::chrono::milliseconds{7000});
}

CAF_TEST(the caller metadata reaches the deployment call and the events) {
  call_options opts;
  opts.metadata = {{"request_id", "req-42"}};
  auto id = call(opts);
  CAF_REQUIRE_EQUAL(calls_to("a"), 1u);
  auto md = logs["a"]->calls[0].metadata;
  CAF_REQUIRE(md != nullptr);
  CAF_CHECK_EQUAL(md->at("request_id"), "req-42");
  reply("a", id,
        failed_result(upstream_failure(error_class::server_error, 500),
                      {make_attempt("a", 500, error_class::server_error)},
                      retry_action::fall_back));
  auto fb = events->of<fallback_taken>();
  CAF_REQUIRE_EQUAL(fb.size(), 1u);
  CAF_REQUIRE(fb[0].metadata != nullptr);
  CAF_CHECK_EQUAL(fb[0].metadata->at("request_id"), "req-42");
  CAF_CHECK(logs["b"]->calls[0].metadata == md);
  cancel(id);
  auto fin = events->of<call_finished>();
  CAF_REQUIRE_EQUAL(fin.size(), 1u);
  CAF_CHECK(fin[0].metadata == md);
}

CAF_TEST_FIXTURE_SCOPE_END()
