// libFuzzer target for switchyard-gateway's request parsing: OpenAI chat,
// OpenAI legacy completions and Anthropic Messages bodies. Input: one byte
// that chooses the client format, then the body. Invariant: a parsed call or
// a client error with a message, never a crash or an exception; a parsed
// call has a route and at least one message.
#include "api.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

using namespace switchyard::gateway;

constexpr dialect dialects[]
    = {dialect::openai_chat, dialect::openai_completions, dialect::anthropic};

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_gateway: %s\n", what);
  std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1)
    return 0;
  auto d = dialects[data[0] % std::size(dialects)];
  std::string_view body{reinterpret_cast<const char*>(data + 1), size - 1};
  auto call = parse_request(d, body);
  if (!call) {
    if (call.error().message.empty())
      fail("refused without a message");
    return 0;
  }
  if (call->route.empty())
    fail("parsed a call without a route");
  if (call->req.messages.empty())
    fail("parsed a call without a message");
  return 0;
}
