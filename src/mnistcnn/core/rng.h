// Rng: xoshiro256** with fully specified derived distributions, so that a seed gives the
// same numbers on every platform and standard library (std::uniform_*_distribution does
// not). Every random stream (init, shuffle, dropout, augmentation) is an Rng derived from
// the run's seed and a stream id; the state is four words and can be saved and restored.
#pragma once
#include <array>
#include <cstdint>

namespace mnistcnn {

class Rng {
 public:
  using State = std::array<uint64_t, 4>;
  explicit Rng(uint64_t seed = 0, uint64_t stream = 0);

  // Inline: dropout draws one number per activation, on the training step's critical path.
  uint64_t next_u64() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  uint64_t below(uint64_t n);           // uniform in [0, n), n > 0, unbiased
  float uniform() { return static_cast<float>(next_u64() >> 40) * 0x1.0p-24f; }  // [0, 1), 24 random bits
  float uniform(float lo, float hi);    // [lo, hi)
  float normal();                       // standard normal (Box-Muller, no cached spare)

  State state() const { return s_; }
  void set_state(const State& s) { s_ = s; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  State s_{};
};

}  // namespace mnistcnn
