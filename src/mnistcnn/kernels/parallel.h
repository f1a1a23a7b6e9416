// One thread pool for everything: OpenMP, which Debian's oneDNN also uses, so our loops
// and dnnl_sgemm never oversubscribe the cores.
#pragma once
#include <omp.h>

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

namespace detail {
inline thread_local int bodies_run_inline = 0;  // parallel_region bodies this thread is inside
}

// Runs body in a parallel region of this thread's thread count when `worth` says the work
// pays for one and that count is above one; otherwise in the calling thread, outside any
// region, where body's `omp for`, `omp single` and `omp barrier` bind to it alone (one
// thread: every iteration, in order). Entering a region costs about 1.2 us on this
// machine even when it runs one thread (an if(false) clause included), and 2.5 us nested
// in another region; a lenet training step on one thread entered 23 (docs/BENCHMARKS.md).
// Inside another region body still gets a region of its own, so that its worksharing
// never binds to the outer team.
template <class Body>
void parallel_region(bool worth, Body&& body) {
  if (omp_in_parallel() || (worth && omp_get_max_threads() > 1)) {
#pragma omp parallel if (worth)
    body();
  } else {
    struct Depth {
      Depth() { ++detail::bodies_run_inline; }
      ~Depth() { --detail::bodies_run_inline; }
    } depth;
    body();
  }
}

// piece(k, lo, hi) for every piece [lo, hi) of at most 4,096 elements of arrays k = 0 ..
// count-1 of size(k) elements, the pieces of each array shared out among the threads with
// no barrier between arrays, in one region when there are kMinParallelValues elements in
// all (on the calling thread otherwise). For passes over a network's parameters or
// gradients: zeroing, checking.
template <class Size, class Piece>
void for_each_piece(int64_t count, Size&& size, Piece&& piece) {
  constexpr int64_t kPiece = 4096;
  int64_t total = 0;
  for (int64_t k = 0; k < count; ++k) total += size(k);
  parallel_region(total >= kMinParallelValues, [&] {
    for (int64_t k = 0; k < count; ++k) {
      const int64_t n = size(k);
#pragma omp for schedule(static) nowait
      for (int64_t lo = 0; lo < n; lo += kPiece) piece(k, lo, lo + kPiece < n ? lo + kPiece : n);
    }
  });
}

// Whether this thread runs inside a parallel_region body (in a region or not), or inside
// any other parallel region: gemm then makes one single-threaded call, as it did when
// every body ran in a region.
inline bool in_region_body() { return omp_get_level() > 0 || detail::bodies_run_inline > 0; }

}  // namespace mnistcnn::kernels
