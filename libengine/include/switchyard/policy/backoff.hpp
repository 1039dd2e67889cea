#pragma once

#include "switchyard/policy/settings.hpp"
#include "switchyard/random.hpp"
#include "switchyard/time.hpp"

#include <cstdint>
#include <optional>

namespace switchyard {

/// How long to wait before the next retry, and why.
struct retry_wait {
  /// The wait before the retry starts.
  timespan delay{};
  /// True when the delay is the server's hint, false when it is backoff.
  bool from_hint = false;
};

/// Exponential backoff with jitter (AWS architecture blog flavours). Keeps
/// the previous delay for decorrelated jitter, so use one instance per retry
/// sequence (it is two words; copy it from a template per call). Pure and
/// allocation-free.
class backoff {
public:
  /// Creates a backoff whose decorrelated sequence starts at `base`.
  explicit backoff(backoff_settings settings) noexcept;

  /// Returns the delay before retry number `attempt` (0 = first retry):
  /// none: min(cap, base * factor^attempt); full: uniform in [0, that);
  /// decorrelated: min(cap, uniform in [base, 3 * previous)), where attempt 0
  /// restarts the sequence from previous = base.
  timespan next_delay(uint32_t attempt, random_generator& rng) noexcept;

  /// Decides the wait before retry number `attempt` when `remaining` is left
  /// of the deadline. The server's `hint` wins when honour_retry_after is set,
  /// hint <= max_retry_after and hint < remaining; otherwise the backoff delay
  /// is used if it is < remaining. Returns nullopt when no wait fits (a retry
  /// would start at or after the deadline), so that the caller falls back.
  std::optional<retry_wait> wait_before_retry(std::optional<timespan> hint,
                                              timespan remaining,
                                              uint32_t attempt,
                                              random_generator& rng) noexcept;

  /// Returns the un-jittered exponential delay of `attempt`, capped.
  timespan exponential(uint32_t attempt) const noexcept;

  /// Returns the settings this backoff runs on.
  const backoff_settings& settings() const noexcept {
    return settings_;
  }

private:
  backoff_settings settings_;
  timespan previous_;
};

} // namespace switchyard
