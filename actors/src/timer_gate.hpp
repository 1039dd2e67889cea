#pragma once

#include "engine_core.hpp"
#include "switchyard/time.hpp"

#include <algorithm>
#include <set>

#include <caf/actor_cast.hpp>

namespace switchyard {

/// Lets many due times share few CAF timers. A CAF 0.17 timer cannot be
/// cancelled, and each costs a message, a clock entry and a wake-up of CAF's
/// clock thread: an actor with a timeout per call (a router's deadlines, a
/// provider's stream limits) keeps its due times in an index of its own and
/// a timer only for the earliest. When that timer fires, the actor handles
/// what is due and arms the next one.
class timer_gate {
public:
  /// Returns true when a timer must be sent for `at` (none already pending
  /// fires by then), and counts it as pending.
  bool arm(time_point at) {
    if (!pending_.empty() && *pending_.begin() <= at)
      return false;
    pending_.insert(at);
    return true;
  }

  /// Unless a pending timer fires by `at`, sends `self` (as a `Handle`) the
  /// message `(atom, at in ns since the epoch)` at `at`.
  template <class Handle, class Self, class Atom>
  void schedule(Self self, time_point at, Atom atom) {
    if (!arm(at))
      return;
    self->delayed_send(caf::actor_cast<Handle>(self),
                       std::max(at - self->clock().now(), timespan{0}), atom,
                       to_ns(at));
  }

  /// The timer sent for `at` fired.
  void fired(time_point at) {
    if (auto i = pending_.find(at); i != pending_.end())
      pending_.erase(i);
  }

private:
  /// When the timers already sent fire.
  std::multiset<time_point> pending_;
};

} // namespace switchyard
