#pragma once

#include <cstdint>
#include <random>

namespace switchyard {

/// Source of randomness for policies (jitter, weighted choice). Injected so
/// that tests can replay exact sequences.
class random_generator {
public:
  virtual ~random_generator() = default;

  /// Returns the next uniformly distributed 64-bit value.
  virtual uint64_t next() = 0;

  /// Returns a uniformly distributed double in [0, 1).
  double uniform() {
    return static_cast<double>(next() >> 11) * 0x1.0p-53;
  }
};

/// A Mersenne-Twister generator, seeded once; not thread-safe.
class default_random_generator final : public random_generator {
public:
  explicit default_random_generator(uint64_t seed = std::random_device{}())
      : engine_(seed) {
    // nop
  }

  uint64_t next() override {
    return engine_();
  }

private:
  std::mt19937_64 engine_;
};

} // namespace switchyard
