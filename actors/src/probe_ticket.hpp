#pragma once

#include "switchyard/policy/circuit_breaker.hpp"

#include <utility>

namespace switchyard {

/// A half-open probe slot the breaker granted to one call (or to the active
/// probe). The breaker must hear the probe's verdict or get the slot back,
/// or half-open wedges: the ticket gives the slot back when it goes out of
/// scope, unless `consume` said the breaker heard the verdict. Move-only.
class probe_ticket {
public:
  /// No slot.
  probe_ticket() noexcept = default;

  /// Holds a slot of `breaker`, which must outlive the ticket.
  explicit probe_ticket(circuit_breaker& breaker) noexcept
      : breaker_(&breaker) {
    // nop
  }

  probe_ticket(probe_ticket&& other) noexcept
      : breaker_(std::exchange(other.breaker_, nullptr)) {
    // nop
  }

  probe_ticket& operator=(probe_ticket&& other) noexcept {
    if (this != &other) {
      release();
      breaker_ = std::exchange(other.breaker_, nullptr);
    }
    return *this;
  }

  probe_ticket(const probe_ticket&) = delete;
  probe_ticket& operator=(const probe_ticket&) = delete;

  ~probe_ticket() {
    release();
  }

  /// True while the ticket holds a slot.
  explicit operator bool() const noexcept {
    return breaker_ != nullptr;
  }

  /// The breaker heard the probe's verdict: nothing to give back.
  void consume() noexcept {
    breaker_ = nullptr;
  }

  /// Gives the slot back now (if held).
  void release() noexcept {
    if (breaker_ != nullptr)
      std::exchange(breaker_, nullptr)->release_probe();
  }

private:
  circuit_breaker* breaker_ = nullptr;
};

/// Returns a ticket for the slot `allow` just granted when the breaker is
/// half-open, an empty one otherwise.
inline probe_ticket probe_if_half_open(circuit_breaker& breaker) noexcept {
  return breaker.state() == breaker_state::half_open ? probe_ticket{breaker}
                                                     : probe_ticket{};
}

} // namespace switchyard
