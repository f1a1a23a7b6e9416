#include "common.h"

#include <chrono>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <exception>
#include <thread>

#include "mnistcnn/kernels/gemm.h"
#include "mnistcnn/kernels/parallel.h"

namespace mnistcnn::cli {

namespace {
const auto kProgramStart = std::chrono::steady_clock::now();
}  // namespace

double seconds_since_start() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - kProgramStart).count();
}

int setup_threads(int threads) {
  kernels::set_num_threads(threads);
  prepare_gemm_in_background();
  return kernels::num_threads();
}

namespace {
std::thread preparing_gemm;
}

void prepare_gemm_in_background() {
  if (preparing_gemm.joinable()) return;
  // A failure shows again, with its message, at the first real product.
  preparing_gemm = std::thread([] {
    try {
      kernels::prepare_gemm();
    } catch (const std::exception&) {
    }
  });
}

void wait_for_gemm_preparation() {
  if (preparing_gemm.joinable()) preparing_gemm.join();
}

bool stderr_is_tty() { return isatty(STDERR_FILENO) != 0; }

data::Dataset load_split(const std::string& dir, data::Split split, bool quiet) {
  data::Dataset ds = data::load_idx_split(dir, split);
  if (!quiet)
    note("loaded " + std::string(data::split_name(split)) + " set: " + human_count(ds.size()) + " images of " +
         std::to_string(ds.rows) + "x" + std::to_string(ds.cols) + " from " + dir);
  return ds;
}

std::string percent(double fraction, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f%%", decimals, 100.0 * fraction);
  return buf;
}

std::string human_count(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

CLI::Validator finite_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0' || !std::isfinite(v)) return "must be a finite number, got " + text;
        return {};
      },
      "FINITE");
}

void note(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace mnistcnn::cli
