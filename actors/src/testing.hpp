#pragma once

// Test-only hooks into an engine: not installed, reachable only by code that
// adds actors/src to its include path (the test binaries).

#include "switchyard/engine.hpp"

#include <cstdint>
#include <functional>
#include <string_view>

namespace switchyard::testing {

/// Makes the provider actor of `deployment` fail with an exception, as a bug
/// would; its supervisor restarts it. Returns false for an unknown name or
/// after shutdown.
bool crash_provider(engine& eng, std::string_view deployment);

/// Runs `f` with the id of each call that joins an identical call in flight
/// (coalescing), after it is registered as the shared call's caller and
/// before it waits on it: the moment a cancel is hardest to get right. Set
/// it before the first call; returns false when no route caches.
bool on_cache_join(engine& eng, std::function<void(uint64_t)> f);

} // namespace switchyard::testing
