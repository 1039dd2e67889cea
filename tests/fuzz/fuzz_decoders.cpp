// libFuzzer target for the adapters' stream decoders. Input: one byte that
// chooses the wire format, one spare byte (so the sse seeds fit), then an
// event stream. Invariant: parsing and decoding never throw, crash or trip a
// sanitizer, whatever the events hold; a decoder that finished stays finished.
#include "switchyard/adapter.hpp"
#include "switchyard/sse.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

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

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_decoders: %s\n", what);
  std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2)
    return 0;
  auto kind = kinds[data[0] % std::size(kinds)];
  std::string_view input{reinterpret_cast<const char*>(data + 2), size - 2};
  sse_parser parser;
  std::vector<sse_event> events;
  parser.feed(input, events);
  auto decoder = adapter_for(kind).make_stream_decoder();
  if (!decoder)
    fail("no decoder");
  std::vector<stream_event> out;
  for (auto& ev : events) {
    auto was_finished = decoder->finished();
    auto had_content = decoder->produced_content();
    auto err = decoder->on_event(ev, out);
    if (was_finished && !decoder->finished())
      fail("finished() went back to false");
    if (had_content && !decoder->produced_content())
      fail("produced_content() went back to false");
    if (err)
      break; // the engine abandons the attempt here
  }
  return 0;
}
