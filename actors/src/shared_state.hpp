#pragma once

// What one replica knows of a deployment's state shared through Redis
// (shared_deployment), exchanged between the Redis thread and the provider
// actor through atomics only, so that admission never waits on Redis.

#include <atomic>
#include <cstdint>

namespace switchyard {

/// A replica's share of a rate limit kept in Redis: slices of the limit are
/// taken from Redis ahead of need by the Redis thread; admission takes from
/// what is left here without messaging.
struct shared_quota {
  /// Per minute across every replica; 0 = not shared.
  int64_t limit = 0;
  /// How much the Redis thread takes from Redis at once.
  int64_t slice = 0;
  /// What this replica may still admit in the current window.
  std::atomic<int64_t> left{0};
  /// Set by admission when `left` runs low; cleared by the Redis thread.
  std::atomic<bool> want{false};

  /// Takes `n` units; false (taking nothing) when not enough is left.
  /// Returns whether the Redis thread should be woken for a refill through
  /// `wake`.
  bool take(int64_t n, bool& wake) noexcept {
    if (limit == 0)
      return true;
    auto after = left.fetch_sub(n, std::memory_order_relaxed) - n;
    if (after < 0)
      left.fetch_add(n, std::memory_order_relaxed);
    if (after < slice / 2)
      wake = !want.exchange(true, std::memory_order_relaxed) || wake;
    return after >= 0;
  }
};

/// One deployment as seen in Redis. The Redis thread writes the remote
/// fields and then bumps `seq` (release); the provider actor applies them
/// when it sees a new `seq` (acquire).
struct shared_deployment {
  // -- written by the Redis thread ------------------------------------------

  /// Redis answers: the shared gates apply. While false, every decision is
  /// local.
  std::atomic<bool> live{false};
  /// Bumped (release) after any change below.
  std::atomic<uint64_t> seq{0};
  /// Bumped after a change of the breaker fields.
  std::atomic<uint64_t> breaker_seq{0};
  /// `breaker_state` (closed or open) another replica published.
  std::atomic<uint8_t> breaker{0};
  /// While open: until when (ns on this process's monotonic clock).
  std::atomic<int64_t> open_until_ns{0};
  std::atomic<uint32_t> reopens{0};
  /// Marked down by a replica until (monotonic ns; INT64_MAX = for good).
  std::atomic<int64_t> down_until_ns{0};
  /// `error_class` of the marking.
  std::atomic<uint8_t> down_class{0};
  /// This replica holds the half-open probe lease until (monotonic ns).
  std::atomic<int64_t> lease_until_ns{0};

  // -- written by the provider actor ----------------------------------------

  /// The breaker's open period is over and this replica wants the lease.
  std::atomic<bool> want_lease{false};

  // -- both
  // --------------------------------------------------------------------

  shared_quota requests;
  shared_quota tokens;
};

} // namespace switchyard
