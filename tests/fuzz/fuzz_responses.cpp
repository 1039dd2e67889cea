// libFuzzer target for the adapters' response and error parsers. Input: one
// byte that chooses the wire format, one that chooses the HTTP status, then
// the body. Invariant: `parse_response` (2xx) and `classify` (any status)
// never throw, crash or trip a sanitizer; a parsed answer's usage is not
// negative and a classified failure keeps the status it was given.
#include "switchyard/adapter.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

using namespace switchyard;

constexpr provider_kind kinds[] = {
    provider_kind::openai_chat,
    provider_kind::anthropic_messages,
    provider_kind::gemini,
    provider_kind::azure_openai,
    provider_kind::openai_compatible,
    provider_kind::openai_completions,
};

constexpr int statuses[] = {200, 201, 400, 401, 403, 404, 408, 413,
                            422, 429, 500, 502, 503, 504, 529, 418};

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_responses: %s\n", what);
  std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2)
    return 0;
  const auto& codec = adapter_for(kinds[data[0] % std::size(kinds)]);
  http_response resp;
  resp.status = statuses[data[1] % std::size(statuses)];
  resp.headers.push_back({"content-type", "application/json"});
  resp.body.assign(reinterpret_cast<const char*>(data + 2), size - 2);
  if (resp.status / 100 == 2) {
    auto parsed = codec.parse_response(resp);
    // A 2xx that does not parse is malformed, unless it carries an error
    // document (Anthropic sends `{"type":"error",...}` with 200 too), which
    // is classified like an error answer.
    if (!parsed && parsed.error().cls != error_class::malformed
        && resp.body.find("error") == std::string::npos)
      fail("a 2xx that does not parse is not malformed");
    // The same body as an error answer too: classify never sees a 2xx in
    // the engine, but a provider may send any body with an error status.
    resp.status = 500;
  }
  auto f = codec.classify(resp, std::chrono::system_clock::now());
  if (f.status != resp.status)
    fail("classify lost the status");
  return 0;
}
