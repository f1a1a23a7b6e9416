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

  uint64_t next_u64();
  uint64_t below(uint64_t n);           // uniform in [0, n), n > 0, unbiased
  float uniform();                      // [0, 1) with 24 random bits
  float uniform(float lo, float hi);    // [lo, hi)
  float normal();                       // standard normal (Box-Muller, no cached spare)

  State state() const { return s_; }
  void set_state(const State& s) { s_ = s; }

 private:
  State s_{};
};

}  // namespace mnistcnn
