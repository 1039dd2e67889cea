#pragma once

#include <chrono>

namespace switchyard {

/// The monotonic clock every policy reasons in. CAF's actor clock (and its
/// test clock) use the same time points, so policies run in virtual time too.
using clock_type = std::chrono::steady_clock;

/// A point on the monotonic clock.
using time_point = clock_type::time_point;

/// A span of monotonic time.
using timespan = clock_type::duration;

/// Wall-clock time, needed only to read HTTP dates such as `retry-after`.
using wall_time = std::chrono::system_clock::time_point;

using namespace std::chrono_literals;

} // namespace switchyard
