#define CAF_SUITE stream_formats
// A clean stream in every wire format, through the real engine against a
// real mock: the caller gets one `stream_start`, the whole deterministic
// answer (the same text a non-streamed call gets) and a `stream_end` with
// the usage the provider reported.
#include "integration/support_engine.hpp"
#include "integration/support_http.hpp"

#include <algorithm>

#include <caf/test/unit_test.hpp>

using namespace switchyard;
using namespace switchyard::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

const std::string model = "gpt-4o-mini";

/// One provider of the rig: its config name, kind, and the mock's name for
/// the endpoint it reaches.
struct format {
  std::string name;
  std::string kind;
  std::string endpoint;
};

const std::vector<format> formats{
    {"openai", "openai_chat", "openai_chat"},
    {"anthropic", "anthropic_messages", "anthropic_messages"},
    {"gemini", "gemini", "gemini"},
    {"azure", "azure_openai", "azure_openai"},
    {"compatible", "openai_compatible", "openai_chat"},
    {"completions", "openai_completions", "openai_completions"},
};

/// One mock (20-word answers) and an engine with one provider and
/// deployment per format (deployment `<name>-dep`, model or Azure
/// deployment `gpt-4o-mini`); calls are pinned to one deployment.
struct rig {
  mock_server mock = start_mock({"--seed", "3"});
  std::unique_ptr<engine> eng;

  rig() {
    json providers = json::object();
    json deployments = json::object();
    json targets = json::array();
    for (const auto& f : formats) {
      providers[f.name] = mock_provider(mock, f.kind, {{"x-mock-words", "20"}});
      json dep = {{"provider", f.name}};
      if (f.kind == "azure_openai")
        dep["deployment"] = model;
      else
        dep["model"] = model;
      deployments[f.name + "-dep"] = std::move(dep);
      targets.push_back(f.name + "-dep");
    }
    json cfg = {
        {"providers", std::move(providers)},
        {"deployments", std::move(deployments)},
        {"routes",
         {{"chat",
           {{"targets", std::move(targets)},
            {"deadline_ms", 10000},
            {"ladder_ms", {5000}}}}}},
        {"engine", {{"threads", 2}}},
    };
    eng = make_engine(cfg);
  }

  ~rig() {
    eng->shutdown();
  }

  static chat_request question() {
    return user_request("which tracks lead out of the hump yard");
  }

  static call_options pinned(const format& f) {
    call_options opts;
    opts.pin = f.name + "-dep";
    return opts;
  }

  /// The answer without streaming.
  chat_response reference(const format& f) {
    auto out = run_call(*eng, question(), pinned(f));
    if (!*out.result)
      CAF_FAIL(f.name << ": the non-streamed call failed: "
                      << to_string(out.result->error().failure));
    return **out.result;
  }

  /// Streams the question through the callback API and waits for its end.
  std::vector<stream_event> stream(const format& f) {
    auto cap = stream_capture::make();
    eng->stream(question(), pinned(f), cap->callback());
    if (!cap->wait_done(8s))
      CAF_FAIL(f.name << ": the stream did not end within 8 s: "
                      << describe(cap->events()));
    return cap->events();
  }
};

/// A clean stream: start, non-empty text only, end with the reference's
/// text, finish and usage; the mock saw one streamed request.
void check_clean_stream(rig& r, const format& f,
                        const std::vector<stream_event>& evs,
                        const chat_response& ref) {
  CAF_MESSAGE(f.name << ": " << describe(evs));
  CAF_REQUIRE_GREATER(evs.size(), 2u);
  CAF_REQUIRE(std::holds_alternative<stream_start>(evs.front()));
  CAF_REQUIRE(std::holds_alternative<stream_end>(evs.back()));
  const auto& start = std::get<stream_start>(evs.front());
  CAF_CHECK_EQUAL(start.provider, f.name);
  CAF_CHECK(!start.model.empty());
  for (size_t i = 1; i + 1 < evs.size(); ++i) {
    const auto* t = std::get_if<text_delta>(&evs[i]);
    CAF_CHECK(t != nullptr && !t->text.empty());
  }
  CAF_CHECK(!ref.text.empty());
  CAF_CHECK_EQUAL(text_of(evs), ref.text);
  const auto& end = std::get<stream_end>(evs.back());
  CAF_CHECK(end.finish == finish_reason::stop);
  CAF_CHECK(end.finish == ref.finish);
  CAF_REQUIRE(end.usage.has_value());
  CAF_CHECK_EQUAL(end.usage->prompt_tokens, ref.usage.prompt_tokens);
  CAF_CHECK_EQUAL(end.usage->completion_tokens, ref.usage.completion_tokens);
  CAF_CHECK_EQUAL(end.usage->completion_tokens, 20);
  CAF_CHECK_EQUAL(end.usage->total_tokens,
                  end.usage->prompt_tokens + end.usage->completion_tokens);
  CAF_REQUIRE_EQUAL(end.attempts.size(), 1u);
  CAF_CHECK_EQUAL(end.attempts[0].deployment, f.name + "-dep");
  CAF_CHECK(!end.attempts[0].cls.has_value());
  auto stats = mock_stats(r.mock);
  CAF_CHECK_EQUAL(stats["streams"], 1);
  CAF_CHECK_EQUAL(stats["total"], 1);
  CAF_CHECK_EQUAL(stats["endpoints"].value(f.endpoint, 0), 1);
}

void run_format(std::string_view name) {
  auto f = *std::find_if(formats.begin(), formats.end(),
                         [&](auto& x) { return x.name == name; });
  rig r;
  auto ref = r.reference(f);
  http_post(r.mock.base_url() + "/mock/stats/reset", "");
  check_clean_stream(r, f, r.stream(f), ref);
}

} // namespace

CAF_TEST(openai chat streams the whole answer) {
  run_format("openai");
}

CAF_TEST(anthropic streams the whole answer and its pings are ignored) {
  run_format("anthropic");
}

CAF_TEST(gemini streams the whole answer) {
  run_format("gemini");
}

CAF_TEST(azure openai streams the whole answer) {
  run_format("azure");
}

CAF_TEST(openai compatible streams the whole answer) {
  run_format("compatible");
}

CAF_TEST(legacy completions stream the whole answer) {
  run_format("completions");
}

CAF_TEST(a stream read through a reader is the same stream) {
  const auto& f = formats.front();
  rig r;
  auto ref = r.reference(f);
  http_post(r.mock.base_url() + "/mock/stats/reset", "");
  auto reader = r.eng->stream(rig::question(), rig::pinned(f));
  CAF_REQUIRE(reader != nullptr);
  auto evs = read_all(*reader, 8s);
  CAF_CHECK(reader->done());
  check_clean_stream(r, f, evs, ref);
  CAF_CHECK(!reader->next(100ms).has_value());
}

CAF_TEST(every format streams the same answer for the same model) {
  rig r;
  std::vector<std::string> texts;
  for (const auto& f : formats)
    texts.push_back(text_of(r.stream(f)));
  CAF_REQUIRE(!texts.front().empty());
  for (size_t i = 1; i < texts.size(); ++i) {
    CAF_MESSAGE(formats[i].name);
    CAF_CHECK_EQUAL(texts[i], texts.front());
  }
}
