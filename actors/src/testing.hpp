#pragma once

// Test-only hooks into an engine: not installed, reachable only by code that
// adds actors/src to its include path (the test binaries).

#include "switchyard/engine.hpp"

#include <string_view>

namespace switchyard::testing {

/// Makes the provider actor of `deployment` fail with an exception, as a bug
/// would; its supervisor restarts it. Returns false for an unknown name or
/// after shutdown.
bool crash_provider(engine& eng, std::string_view deployment);

} // namespace switchyard::testing
