// One thread pool for everything: OpenMP, which Debian's oneDNN also uses, so our loops
// and dnnl_sgemm never oversubscribe the cores.
#pragma once
#include <cstdint>

namespace mnistcnn::kernels {

// Below this many values (floats touched per element-wise pass) a parallel region costs
// more than it saves: a 32×32×13×13 activation is 173k values, a 32×128 dense output 4k.
constexpr int64_t kMinParallelValues = 1 << 15;

void set_num_threads(int n);  // n <= 0: all cores
int num_threads();
int hardware_threads();

// Sets this thread's OpenMP thread count for a scope and restores it after (the count is
// per calling thread, so other threads are not affected).
class ThreadCountScope {
 public:
  explicit ThreadCountScope(int n) : previous_(num_threads()) { set_num_threads(n); }
  ~ThreadCountScope() { set_num_threads(previous_); }
  ThreadCountScope(const ThreadCountScope&) = delete;
  ThreadCountScope& operator=(const ThreadCountScope&) = delete;

 private:
  int previous_;
};

}  // namespace mnistcnn::kernels
