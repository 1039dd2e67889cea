#define CAF_SUITE router_deadline_trail

#include "support_fake_provider.hpp"
#include "support_fixture.hpp"

using namespace switchyard;
using namespace switchyard::test;

namespace {

constexpr std::string_view config = R"({
  "providers": {
    "pa": {"kind": "openai_chat", "base_url": "http://a.test"},
    "pb": {"kind": "openai_chat", "base_url": "http://b.test"}
  },
  "deployments": {
    "a": {"provider": "pa", "model": "model-a"},
    "b": {"provider": "pb", "model": "model-b"}
  },
  "routes": {
    "r": {"targets": ["a", "b"], "deadline_ms": 3000, "ladder_ms": [3000]}
  }
})";

/// Both deployments served by scripted fake providers.
struct fixture : actor_fixture {
  fixture() {
    start(config);
    for (auto* name : {"a", "b"}) {
      auto log = std::make_shared<fake_provider_log>();
      log->deployment = name;
      core->directory.set(index_of(name), sys.spawn(fake_provider, log));
      logs.emplace(name, log);
    }
  }

  /// Answers the last dispatch of call `id` to `name` with `r`.
  void reply(const std::string& name, uint64_t id, deployment_result r) {
    auto* c = logs.at(name)->find(id);
    CAF_REQUIRE(c != nullptr);
    caf::anon_send(c->reply_to, result_atom::value, id, c->dispatch,
                   std::move(r));
    consume_messages();
  }

  std::map<std::string, std::shared_ptr<fake_provider_log>> logs;
};

std::vector<std::string> reasons(const call_result& r) {
  std::vector<std::string> out;
  for (const auto& a : r.error().attempts)
    out.push_back(a.deployment + ":" + std::to_string(a.status));
  return out;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(router_deadline_trail_tests, fixture)

CAF_TEST(at the deadline the call waits for the running attempts trail) {
  auto id = call();
  CAF_REQUIRE_EQUAL(logs["a"]->calls.size(), 1u);
  reply("a", id,
        failed_result(upstream_failure(error_class::server_error, 500),
                      {make_attempt("a", 500, error_class::server_error)},
                      retry_action::fall_back));
  CAF_REQUIRE_EQUAL(logs["b"]->calls.size(), 1u);
  // b retried once already and is in its second attempt at the deadline.
  logs["b"]->cancel_attempts
      = {make_attempt("b", 503, error_class::overloaded)};
  CAF_CHECK_EQUAL(advance(3s - 1ns), 0u);
  CAF_CHECK(!done(id));
  CAF_CHECK(logs["b"]->cancels.empty());
  CAF_CHECK_EQUAL(advance(1ns), 1u);
  CAF_REQUIRE(done(id));
  CAF_REQUIRE_EQUAL(logs["b"]->cancels.size(), 1u);
  CAF_CHECK_EQUAL(logs["b"]->cancels[0].first, id);
  CAF_CHECK(logs["b"]->cancels[0].second == engine_code::deadline_exceeded);
  CAF_CHECK(logs["a"]->cancels.empty());
  auto& r = result(id);
  CAF_CHECK_EQUAL(failure_code(r), "deadline_exceeded");
  // Every attempt, in order, the one cut by the deadline last.
  CAF_CHECK_EQUAL(reasons(r),
                  (std::vector<std::string>{"a:500", "b:503", "b:0"}));
  CAF_CHECK_EQUAL(r.error().attempts.back().reason, "cut: deadline_exceeded");
  CAF_CHECK_EQUAL(core->calls->running(), 0u);
}

CAF_TEST(a provider that does not answer the cancel holds the call briefly) {
  logs["a"]->answer_cancel = false;
  auto id = call();
  CAF_CHECK_EQUAL(advance(3s), 1u);
  CAF_CHECK(!done(id));
  CAF_CHECK_EQUAL(logs["a"]->cancels.size(), 1u);
  CAF_CHECK_EQUAL(advance(expiry_grace - 1ns), 0u);
  CAF_CHECK(!done(id));
  CAF_CHECK_EQUAL(advance(1ns), 1u);
  CAF_REQUIRE(done(id));
  CAF_CHECK_EQUAL(failure_code(result(id)), "deadline_exceeded");
  CAF_CHECK(result(id).error().attempts.empty());
  // A late answer finds the call gone and changes nothing.
  reply("a", id,
        failed_result(make_failure(engine_code::deadline_exceeded, "cut"),
                      {make_attempt("a", 0, error_class::timeout)},
                      retry_action::give_up));
  CAF_CHECK(result(id).error().attempts.empty());
  CAF_CHECK_EQUAL(core->calls->running(), 0u);
}

CAF_TEST(a caller cancel passes its reason and ends the call at once) {
  auto id = call();
  cancel(id);
  CAF_REQUIRE(done(id));
  CAF_CHECK_EQUAL(failure_code(result(id)), "cancelled");
  CAF_REQUIRE_EQUAL(logs["a"]->cancels.size(), 1u);
  CAF_CHECK(logs["a"]->cancels[0].second == engine_code::cancelled);
}

CAF_TEST(an absolute deadline replaces the route deadline) {
  call_options opts;
  opts.deadline_at = now() + 1s;
  auto id = call(opts);
  CAF_REQUIRE_EQUAL(logs["a"]->calls.size(), 1u);
  CAF_CHECK(logs["a"]->calls[0].deadline == now() + 1s);
  logs["a"]->answer_cancel = true;
  CAF_CHECK_EQUAL(advance(1s), 1u);
  CAF_REQUIRE(done(id));
  CAF_CHECK_EQUAL(failure_code(result(id)), "deadline_exceeded");
}

CAF_TEST_FIXTURE_SCOPE_END()
