#pragma once

#include "switchyard/random.hpp"

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <vector>

namespace switchyard::test {

/// A random_generator that replays a fixed sequence of uniform values in
/// [0, 1), cycling when it runs out, so tests can predict every jitter and
/// every weighted draw.
class replay_random final : public random_generator {
public:
  /// Replays `uniforms`, each in [0, 1); exact for multiples of 2^-53.
  replay_random(std::initializer_list<double> uniforms) {
    for (auto u : uniforms)
      values_.push_back(static_cast<uint64_t>(u * 0x1.0p53) << 11);
  }

  /// Returns the next value of the sequence.
  uint64_t next() override {
    auto x = values_.empty() ? 0 : values_[pos_ % values_.size()];
    ++pos_;
    return x;
  }

  /// Returns how many values were drawn.
  size_t draws() const noexcept {
    return pos_;
  }

private:
  std::vector<uint64_t> values_;
  size_t pos_ = 0;
};

} // namespace switchyard::test
