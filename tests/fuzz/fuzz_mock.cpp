// libFuzzer target for switchyard-mock's input parsers: the `x-mock-fault`
// header grammar and the scenario file. Input: one byte that chooses the
// parser, then its text. Invariant: a plan / scenario or an error message,
// never a crash, a hang or an exception; a parsed scenario's faults can be
// drawn.
#include "fault.hpp"
#include "scenario.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

using namespace switchyard::mock;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_mock: %s\n", what);
  std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1)
    return 0;
  std::string_view text{reinterpret_cast<const char*>(data + 1), size - 1};
  if (data[0] % 2 == 0) {
    fault_plan plan;
    if (auto err = apply_fault_list(text, plan); err && err->empty())
      fail("a fault list refused without a message");
    return 0;
  }
  auto sc = parse_scenario(text);
  if (!sc) {
    if (sc.error().empty())
      fail("a scenario refused without a message");
    return 0;
  }
  prng rng{1};
  for (const auto& r : sc->rules) {
    for (int64_t at : {int64_t{0}, int64_t{1000}, int64_t{1} << 40}) {
      fault_plan plan;
      draw_faults(active_faults(r, at), rng, plan);
    }
    if (r.latency)
      (void)r.latency->sample(rng);
  }
  if (sc->latency)
    (void)sc->latency->sample(rng);
  return 0;
}
