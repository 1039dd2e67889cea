#pragma once

#include "switchyard/engine.hpp"

namespace switchyard::demo {

/// Streams one answer through route "stream", whose first deployment drops
/// the connection mid-answer; the route's `continue` policy finishes it on
/// the fallback. Prints the text as it arrives (unless `quiet`) and checks
/// it against the fallback's own, non-streamed answer. Returns true when the
/// stream ended normally with exactly that text.
bool run_stream_act(engine& eng, bool quiet);

} // namespace switchyard::demo
