// libFuzzer target for the config loader. Input: any bytes as the JSON text
// of a config (with `${NAME}` references answered by a fixed environment).
// Invariant: a config or a list of precise errors (each with a path and a
// message), never a crash, a hang or an exception.
#include "switchyard/config.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_config: %s\n", what);
  std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  switchyard::env_lookup env
      = [](const std::string& name) -> std::optional<std::string> {
    if (name == "KEY" || name == "MOCK_PRIMARY_PORT")
      return std::string{"9"};
    return std::nullopt;
  };
  auto cfg = switchyard::parse_config(text, env);
  if (!cfg) {
    if (cfg.error().empty())
      fail("rejected without an error");
    for (const auto& e : cfg.error())
      if (e.message.empty())
        fail("an error without a message");
  }
  return 0;
}
