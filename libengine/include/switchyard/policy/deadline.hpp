#pragma once

#include "switchyard/time.hpp"

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace switchyard {

/// The point in time by which a call must have answered; every wait and
/// every attempt timeout is clipped to it.
class deadline {
public:
  /// Creates a deadline `budget` after `start`.
  deadline(time_point start, timespan budget) noexcept
      : start_(start), due_(start + budget) {
    // nop
  }

  /// Returns a deadline running from `start` to `due`.
  static deadline between(time_point start, time_point due) noexcept {
    return deadline{start, due - start};
  }

  /// Returns when the call started.
  time_point start() const noexcept {
    return start_;
  }

  /// Returns when the call must have answered.
  time_point due() const noexcept {
    return due_;
  }

  /// Returns the time left at `now`, never negative.
  timespan remaining(time_point now) const noexcept {
    return now < due_ ? due_ - now : timespan{0};
  }

  /// Returns the time spent since the start.
  timespan elapsed(time_point now) const noexcept {
    return now - start_;
  }

  /// Returns true once nothing is left (at `due` and after).
  bool expired(time_point now) const noexcept {
    return now >= due_;
  }

private:
  time_point start_;
  time_point due_;
};

/// Per-attempt timeouts (e.g. 2 s, 5 s, 15 s): attempt i gets step
/// min(i, size - 1), clipped to what is left of the deadline. An empty ladder
/// gives every attempt all that is left.
class timeout_ladder {
public:
  /// Creates an empty ladder.
  timeout_ladder() = default;

  /// Creates a ladder from its steps, in attempt order.
  explicit timeout_ladder(std::vector<timespan> steps)
      : steps_(std::move(steps)) {
    // nop
  }

  /// Returns the unclipped timeout of `attempt` (0 = first), or nullopt for
  /// an empty ladder.
  std::optional<timespan> step(uint32_t attempt) const noexcept {
    if (steps_.empty())
      return std::nullopt;
    return steps_[attempt < steps_.size() ? attempt : steps_.size() - 1];
  }

  /// Returns the timeout of `attempt` started at `now` under `d`, or nullopt
  /// when nothing is left of the deadline.
  std::optional<timespan> timeout_for(uint32_t attempt, time_point now,
                                      const deadline& d) const noexcept {
    auto left = d.remaining(now);
    if (left <= timespan{0})
      return std::nullopt;
    auto s = step(attempt);
    return s && *s < left ? *s : left;
  }

  /// Returns the steps.
  const std::vector<timespan>& steps() const noexcept {
    return steps_;
  }

private:
  std::vector<timespan> steps_;
};

} // namespace switchyard
