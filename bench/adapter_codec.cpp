// bench-adapter_codec: what one call's wire work costs, per adapter: building
// the HTTP request for the benchmarks' chat request and parsing the canned
// OpenAI answer (OpenAI-shaped adapters only). One thread, a fixed number of
// iterations; prints ns per build and per parse.
//
// Usage: bench-adapter_codec [--iterations 200000]
#include "measure.hpp"
#include "switchyard/adapter.hpp"

#include <chrono>
#include <cstdio>

#include <CLI/CLI.hpp>

using namespace switchyard;
using namespace switchyard::bench;

namespace {

template <class F>
double ns_per_iteration(size_t n, F&& f) {
  auto t0 = clock_type::now();
  for (size_t i = 0; i < n; ++i)
    f();
  auto t1 = clock_type::now();
  return std::chrono::duration<double, std::nano>(t1 - t0).count()
         / static_cast<double>(n);
}

} // namespace

int main(int argc, char** argv) {
  size_t iterations = 200000;
  CLI::App app{"bench-adapter_codec: request building and response parsing"};
  app.add_option("--iterations", iterations, "iterations per measurement")
      ->check(CLI::Range(1, 100000000));
  CLI11_PARSE(app, argc, argv);

  auto req = make_request();
  http_response resp;
  resp.status = 200;
  resp.headers = {{"content-type", "application/json"}};
  resp.body = std::string{canned_body};
  size_t sink = 0;
  std::printf("adapter_codec: %zu iterations each\n", iterations);
  for (auto kind :
       {provider_kind::openai_chat, provider_kind::openai_compatible,
        provider_kind::azure_openai, provider_kind::anthropic_messages,
        provider_kind::gemini}) {
    const auto& codec = adapter_for(kind);
    endpoint ep;
    ep.kind = kind;
    ep.base_url = "http://127.0.0.1:9";
    ep.model = "gpt-4o-mini";
    ep.api_key = "sk-bench";
    ep.api_version = "2024-06-01";
    ep.deployment = "bench";
    auto build = ns_per_iteration(iterations, [&] {
      auto r = codec.build_request(req, ep);
      sink += r ? r->body.size() : 0;
    });
    std::printf("  %-20s build %7.0f ns", std::string{to_string(kind)}.c_str(),
                build);
    if (kind == provider_kind::openai_chat
        || kind == provider_kind::openai_compatible
        || kind == provider_kind::azure_openai) {
      auto parse = ns_per_iteration(iterations, [&] {
        auto r = codec.parse_response(resp);
        sink += r ? r->text.size() : 0;
      });
      std::printf("   parse %7.0f ns", parse);
    }
    std::printf("\n");
  }
  return sink == 0 ? 1 : 0;
}
