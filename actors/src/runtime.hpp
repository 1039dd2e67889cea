#pragma once

// TEMPORARY: runtime.hpp was split into deployment_runtime.hpp and
// engine_core.hpp. This header remains only until router.cpp and engine.cpp
// include those two instead; then delete it.

#include "deployment_runtime.hpp"
#include "engine_core.hpp"
