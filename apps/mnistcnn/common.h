// Helpers shared by the subcommands: thread setup, data loading with messages, and
// output formatting. Nothing here computes; it calls the library.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "mnistcnn/data/dataset.h"

namespace mnistcnn::cli {

// Applies --threads (0: all cores) to the one OpenMP pool and starts
// prepare_gemm_in_background(); returns the count in use.
int setup_threads(int threads);
// Has oneDNN build its gemm kernels (kernels::prepare_gemm, ~40 ms) on another thread,
// while the command reads its data. main() waits for that thread before it returns:
// the exit handlers destroy oneDNN's kernels, which a running build would still use.
void prepare_gemm_in_background();
void wait_for_gemm_preparation();
bool stderr_is_tty();
// Loads DIR's split, logging what was read to stderr.
data::Dataset load_split(const std::string& dir, data::Split split, bool quiet = false);
// "98.93%"
std::string percent(double fraction, int decimals = 2);
std::string human_count(int64_t n);  // 1234567 -> "1,234,567"
// Refuses NaN and infinities; CLI11's Range lets NaN through (every comparison is false).
CLI::Validator finite_number();
// Seconds since the program started (static initialisation, after loading).
double seconds_since_start();
// Prints one line to stderr (progress and logs never go to stdout).
void note(const std::string& line);

}  // namespace mnistcnn::cli
