#define CAF_SUITE response_cache
#include "switchyard/cache.hpp"
#include "switchyard/config.hpp"

#include <string>
#include <vector>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

const time_point t0{};

chat_request base() {
  chat_request req;
  req.model = "m";
  message sys;
  sys.from = role::system;
  sys.text = "be brief";
  message user;
  user.text = "hello";
  req.messages = {sys, user};
  req.temperature = 0.0;
  req.max_tokens = 100;
  req.stop = {"a", "b"};
  req.tools = json::parse(R"([{"type":"function","function":{"name":"f",
    "parameters":{"type":"object","properties":{"x":{"type":"number"}}}}}])");
  req.extra = json::parse(R"({"seed": 7, "logit_bias": {"1": 2, "3": 4}})");
  return req;
}

std::string key_of(const chat_request& req, std::string_view route = "chat",
                   std::string_view pin = "") {
  return cache_key(route, pin, req);
}

std::shared_ptr<const cached_answer> answer(std::string text) {
  chat_response r;
  r.text = std::move(text);
  return std::make_shared<const cached_answer>(std::move(r));
}

std::string text_of(const std::shared_ptr<const cached_answer>& a) {
  return a ? std::get<chat_response>(*a).text : std::string{"<none>"};
}

cache_limits limits(size_t entries, size_t bytes = size_t{1} << 30) {
  cache_limits l;
  l.max_entries = entries;
  l.max_bytes = bytes;
  return l;
}

} // namespace

CAF_TEST(the key ignores the order of object keys and stop sequences) {
  auto a = base();
  auto b = base();
  b.stop = {"b", "a", "b"};
  b.tools = json::parse(R"([{"function":{"parameters":{"properties":{"x":
    {"type":"number"}},"type":"object"},"name":"f"},"type":"function"}])");
  b.extra = json::parse(R"({"logit_bias": {"3": 4, "1": 2}, "seed": 7.0})");
  CAF_CHECK_EQUAL(key_of(a), key_of(b));
  // Null, empty and absent ask the same.
  auto c = base();
  auto d = base();
  c.tool_choice = nullptr;
  d.tool_choice = json::object();
  CAF_CHECK_EQUAL(key_of(c), key_of(d));
}

CAF_TEST(every field that changes the answer changes the key) {
  auto k0 = key_of(base());
  std::vector<std::pair<std::string, chat_request>> variants;
  auto add = [&](std::string name, auto change) {
    auto req = base();
    change(req);
    variants.emplace_back(std::move(name), std::move(req));
  };
  add("model", [](chat_request& r) { r.model = "m2"; });
  add("message text", [](chat_request& r) { r.messages[1].text = "hellO"; });
  add("message role", [](chat_request& r) { r.messages[0].from = role::user; });
  add("message order",
      [](chat_request& r) { std::swap(r.messages[0], r.messages[1]); });
  add("extra message",
      [](chat_request& r) { r.messages.push_back(r.messages[1]); });
  add("message name", [](chat_request& r) { r.messages[1].name = "bob"; });
  add("message parts", [](chat_request& r) {
    content_part p;
    p.text = "hello";
    r.messages[1].parts = {p};
  });
  add("tool call", [](chat_request& r) {
    message m;
    m.from = role::assistant;
    m.tool_calls = {tool_call{"c1", "f", R"({"x":1})"}};
    r.messages.push_back(m);
  });
  add("tool result id",
      [](chat_request& r) { r.messages[1].tool_call_id = "c1"; });
  add("temperature", [](chat_request& r) { r.temperature = 0.5; });
  add("no temperature", [](chat_request& r) { r.temperature.reset(); });
  add("top_p", [](chat_request& r) { r.top_p = 0.9; });
  add("max_tokens", [](chat_request& r) { r.max_tokens = 101; });
  add("seed", [](chat_request& r) { r.seed = 3; });
  add("top_k", [](chat_request& r) { r.top_k = 3; });
  add("parallel_tool_calls",
      [](chat_request& r) { r.parallel_tool_calls = false; });
  add("presence_penalty", [](chat_request& r) { r.presence_penalty = 0.5; });
  add("frequency_penalty", [](chat_request& r) { r.frequency_penalty = 0.5; });
  add("stop", [](chat_request& r) { r.stop = {"a"}; });
  add("stream", [](chat_request& r) { r.stream = true; });
  add("tools", [](chat_request& r) { r.tools[0]["function"]["name"] = "g"; });
  add("tool_choice", [](chat_request& r) { r.tool_choice = "required"; });
  add("response_format", [](chat_request& r) {
    r.response_format = json{{"type", "json_object"}};
  });
  add("user", [](chat_request& r) { r.user = "u1"; });
  add("metadata", [](chat_request& r) { r.metadata["tenant"] = "t"; });
  add("extra", [](chat_request& r) { r.extra["seed"] = 8; });
  std::vector<std::string> keys{k0};
  for (auto& [name, req] : variants) {
    auto k = key_of(req);
    if (k == k0)
      CAF_FAIL("changing " << name << " left the key unchanged");
    keys.push_back(k);
  }
  // Pairwise distinct, route and pin included.
  keys.push_back(key_of(base(), "other"));
  keys.push_back(key_of(base(), "chat", "gpt"));
  std::sort(keys.begin(), keys.end());
  CAF_CHECK(std::adjacent_find(keys.begin(), keys.end()) == keys.end());
}

CAF_TEST(a temperature above 0 or unset needs the route to allow it) {
  cache_settings cfg;
  cfg.enabled = true;
  auto req = base();
  CAF_CHECK(cache_eligible(cfg, req));
  req.temperature = 0.7;
  CAF_CHECK(!cache_eligible(cfg, req));
  req.temperature.reset();
  CAF_CHECK(!cache_eligible(cfg, req));
  cfg.allow_nonzero_temperature = true;
  CAF_CHECK(cache_eligible(cfg, req));
  req.temperature = 1.5;
  CAF_CHECK(cache_eligible(cfg, req));
}

CAF_TEST(coalescing follows enabled unless set) {
  cache_settings cfg;
  CAF_CHECK(!cfg.coalescing());
  CAF_CHECK(!cfg.active());
  cfg.enabled = true;
  CAF_CHECK(cfg.coalescing());
  cfg.coalesce = false;
  CAF_CHECK(!cfg.coalescing());
  cfg.enabled = false;
  cfg.coalesce = true;
  CAF_CHECK(cfg.active());
}

CAF_TEST(entries expire after their ttl) {
  response_cache c{limits(10)};
  CAF_CHECK(c.store("k", answer("x"), t0, 100ms));
  CAF_CHECK_EQUAL(text_of(c.find("k", t0 + 99ms)), "x");
  CAF_CHECK_EQUAL(text_of(c.find("k", t0 + 100ms)), "<none>");
  auto st = c.stats();
  CAF_CHECK_EQUAL(st.hits, 1u);
  CAF_CHECK_EQUAL(st.misses, 1u);
  CAF_CHECK_EQUAL(st.expirations, 1u);
  CAF_CHECK_EQUAL(st.entries, 0u);
  CAF_CHECK_EQUAL(st.bytes, 0u);
}

CAF_TEST(the least recently used entry goes first) {
  response_cache c{limits(2)};
  c.store("a", answer("A"), t0, 1h);
  c.store("b", answer("B"), t0, 1h);
  // Using "a" makes "b" the least recently used.
  CAF_CHECK_EQUAL(text_of(c.find("a", t0)), "A");
  c.store("c", answer("C"), t0, 1h);
  CAF_CHECK_EQUAL(text_of(c.find("b", t0)), "<none>");
  CAF_CHECK_EQUAL(text_of(c.find("a", t0)), "A");
  CAF_CHECK_EQUAL(text_of(c.find("c", t0)), "C");
  CAF_CHECK_EQUAL(c.stats().evictions, 1u);
  CAF_CHECK_EQUAL(c.stats().entries, 2u);
}

CAF_TEST(the byte bound evicts and refuses what cannot fit) {
  auto one = approx_bytes(*answer(std::string(1000, 'x')));
  // Room for about two such answers.
  response_cache c{limits(100, 2 * one + 600)};
  c.store("a", answer(std::string(1000, 'a')), t0, 1h);
  c.store("b", answer(std::string(1000, 'b')), t0, 1h);
  CAF_CHECK_EQUAL(c.stats().entries, 2u);
  c.store("c", answer(std::string(1000, 'c')), t0, 1h);
  CAF_CHECK_EQUAL(c.stats().entries, 2u);
  CAF_CHECK_EQUAL(text_of(c.find("a", t0)), "<none>");
  CAF_CHECK(c.stats().bytes <= 2 * one + 600);
  CAF_CHECK(!c.store("huge", answer(std::string(10'000, 'h')), t0, 1h));
  CAF_CHECK_EQUAL(text_of(c.find("b", t0)).size(), 1000u);
}

CAF_TEST(storing a key again replaces its answer) {
  response_cache c{limits(10)};
  c.store("k", answer("old"), t0, 1h);
  c.store("k", answer("new"), t0, 1h);
  CAF_CHECK_EQUAL(text_of(c.find("k", t0)), "new");
  CAF_CHECK_EQUAL(c.stats().entries, 1u);
}

CAF_TEST(only a stream that ended normally without fallback is stored) {
  std::vector<stream_event> ok{stream_start{"id", "p", "m"}, text_delta{"hi"},
                               stream_end{}};
  CAF_CHECK(cacheable_stream(ok));
  auto failed = ok;
  failed.back() = stream_error{};
  CAF_CHECK(!cacheable_stream(failed));
  auto fell_back = ok;
  fell_back.insert(fell_back.begin() + 1, stream_notice{});
  CAF_CHECK(!cacheable_stream(fell_back));
  CAF_CHECK(!cacheable_stream({text_delta{"hi"}, stream_end{}}));
}

CAF_TEST(the cache config is read and checked) {
  auto text = R"({
    "providers": {"p": {"kind": "openai_chat", "base_url": "http://x"}},
    "deployments": {"d": {"provider": "p", "model": "m"}},
    "defaults": {"cache": {"ttl_ms": 2000}},
    "engine": {"cache": {"max_entries": 5, "max_bytes": 1000}},
    "routes": {
      "a": {"targets": ["d"], "cache": {"enabled": true,
            "allow_nonzero_temperature": true, "coalesce": false}},
      "b": {"targets": ["d"]}
    }
  })";
  auto cfg = parse_config(text);
  CAF_REQUIRE(cfg.has_value());
  const auto& a = cfg->routes.at("a").policy.cache;
  CAF_CHECK(a.enabled);
  CAF_CHECK(a.ttl == 2000ms);
  CAF_CHECK(a.allow_nonzero_temperature);
  CAF_CHECK(!a.coalescing());
  CAF_CHECK(!cfg->routes.at("b").policy.cache.active());
  CAF_CHECK_EQUAL(cfg->engine.cache.max_entries, 5u);
  CAF_CHECK_EQUAL(cfg->engine.cache.max_bytes, 1000u);
  auto bad = R"({
    "providers": {"p": {"kind": "openai_chat", "base_url": "http://x"}},
    "deployments": {"d": {"provider": "p", "model": "m"}},
    "engine": {"cache": {"max_entrys": 5}},
    "routes": {"a": {"targets": ["d"], "cache": {"enabled": 1, "tll_ms": 5}}}
  })";
  auto err = parse_config(bad);
  CAF_REQUIRE(!err.has_value());
  std::vector<std::string> got;
  for (auto& e : err.error())
    got.push_back(to_string(e));
  std::sort(got.begin(), got.end());
  CAF_REQUIRE_EQUAL(got.size(), 3u);
  CAF_CHECK_EQUAL(got[0].rfind("engine.cache.max_entrys: unknown key (did you "
                               "mean \"max_entries\"?)",
                               0),
                  0u);
  CAF_CHECK_EQUAL(got[1].rfind("routes.a.cache.enabled: ", 0), 0u);
  CAF_CHECK_EQUAL(got[2].rfind("routes.a.cache.tll_ms: unknown key (did you "
                               "mean \"ttl_ms\"?)",
                               0),
                  0u);
}
