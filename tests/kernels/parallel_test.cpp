// parallel_region: a team only where it pays, and worksharing that binds to the right
// threads wherever the body runs.
#include "mnistcnn/kernels/parallel.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <atomic>
#include <vector>

namespace mnistcnn::kernels {
namespace {

// Runs an `omp for` over n iterations inside parallel_region and returns how many times
// each iteration ran, the team size the body saw and whether it was in a region.
struct Seen {
  std::vector<int> hits;
  int team = 0;
  bool in_region = false;
  bool in_body = false;
};

Seen run_loop(bool worth, int n) {
  Seen s;
  s.hits.assign(static_cast<size_t>(n), 0);
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  parallel_region(worth, [&] {
#pragma omp single
    {
      s.team = omp_get_num_threads();
      s.in_region = omp_in_parallel();
      s.in_body = in_region_body();
    }
#pragma omp for schedule(static)
    for (int i = 0; i < n; ++i) hits[static_cast<size_t>(i)]++;
  });
  for (int i = 0; i < n; ++i) s.hits[static_cast<size_t>(i)] = hits[static_cast<size_t>(i)].load();
  return s;
}

TEST(ParallelRegion, OneThreadRunsTheBodyInTheCaller) {
  const ThreadCountScope one(1);
  const Seen s = run_loop(true, 100);
  EXPECT_EQ(s.team, 1);
  EXPECT_FALSE(s.in_region);
  EXPECT_TRUE(s.in_body);
  EXPECT_EQ(s.hits, std::vector<int>(100, 1));
  EXPECT_FALSE(in_region_body());  // only inside
}

TEST(ParallelRegion, WorkNotWorthATeamRunsInTheCaller) {
  const ThreadCountScope two(2);
  const Seen s = run_loop(false, 100);
  EXPECT_EQ(s.team, 1);
  EXPECT_FALSE(s.in_region);
  EXPECT_EQ(s.hits, std::vector<int>(100, 1));
}

TEST(ParallelRegion, WorthyWorkOnTwoThreadsGetsATeam) {
  const ThreadCountScope two(2);
  const Seen s = run_loop(true, 100);
  EXPECT_TRUE(s.in_region);
  EXPECT_TRUE(s.in_body);
  EXPECT_EQ(s.team, 2);  // libgomp gives the two asked for when nothing else runs
  EXPECT_EQ(s.hits, std::vector<int>(100, 1));
}

// Called from inside another team, the body's `omp for` must not share its iterations
// out among that team's threads (each runs its own body): every outer thread sees every
// iteration once.
TEST(ParallelRegion, InsideAnotherTeamTheBodyKeepsItsLoopToItself) {
  const ThreadCountScope two(2);
  std::atomic<int> runs{0}, complete{0};
#pragma omp parallel num_threads(2)
  {
    const Seen s = run_loop(false, 50);
    runs++;
    if (s.hits == std::vector<int>(50, 1)) complete++;
  }
  EXPECT_EQ(runs.load(), complete.load());
}

// for_each_piece: every element of every array once, in pieces of at most 4,096 within
// one array, empty arrays included; the same on 1 and 2 threads, and for a total under
// kMinParallelValues (on the calling thread).
TEST(ForEachPiece, CoversEveryElementOnceInPiecesOfAtMost4096) {
  for (const std::vector<int64_t>& sizes :
       {std::vector<int64_t>{48000, 0, 120, 10080, 4096, 4097}, std::vector<int64_t>{10, 3}}) {
    for (int threads : {1, 2}) {
      const ThreadCountScope scope(threads);
      std::vector<std::vector<std::atomic<int>>> hits;
      for (int64_t n : sizes) hits.emplace_back(static_cast<size_t>(n));
      std::atomic<bool> too_long{false};
      for_each_piece(
          static_cast<int64_t>(sizes.size()), [&](int64_t k) { return sizes[static_cast<size_t>(k)]; },
          [&](int64_t k, int64_t lo, int64_t hi) {
            if (hi - lo > 4096 || hi <= lo) too_long = true;
            for (int64_t i = lo; i < hi; ++i) hits[static_cast<size_t>(k)][static_cast<size_t>(i)]++;
          });
      EXPECT_FALSE(too_long.load()) << threads << " threads";
      for (size_t k = 0; k < sizes.size(); ++k)
        for (int64_t i = 0; i < sizes[k]; ++i)
          ASSERT_EQ(hits[k][static_cast<size_t>(i)].load(), 1) << "array " << k << " element " << i;
    }
  }
}

}  // namespace
}  // namespace mnistcnn::kernels
