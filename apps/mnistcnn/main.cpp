// mnistcnn: the command line over the library. A thin shell: parse flags, call the
// library, print; errors become a message on stderr and exit code 1 (2 for usage).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iterator>
#include <string_view>

#include "commands.h"
#include "common.h"
#include "signal_stop.h"
#include "mnistcnn/core/error.h"
#include "training_run.h"

namespace {

// libgomp's threads spin up to 300,000 times (about a millisecond here) waiting for work
// before they sleep. With one thread per core that is fast, but as soon as anything else
// runs (a build, a second training) a spinning thread holds the core its partner needs:
// a 2-thread epoch took 10x longer beside a compiler (docs/BENCHMARKS.md). Too short a
// spin costs on a quiet machine instead: where waking a sleeping thread is dear (the Xeon
// VM), lenet's 2-thread epoch took 1.53 s at 1,000 against 0.98 s at 10,000, and 2.17 s
// against 5.04 s beside a busy core. libgomp reads its settings when it loads, before
// main, so the program sets the spin and starts itself again; GOMP_SPINCOUNT or
// OMP_WAIT_POLICY given by the user are left alone. Only
// the commands that run many parallel regions restart: the second start costs about 25
// ms (loading oneDNN again), a quarter of a one-image `predict`.
void restart_with_short_openmp_spin(int argc, char** argv) {
  if (std::getenv("GOMP_SPINCOUNT") || std::getenv("OMP_WAIT_POLICY")) return;
  static constexpr std::string_view kLongRunning[] = {"train", "finetune", "eval", "ensemble",
                                                      "explain", "serve", "search"};
  if (argc < 2 || std::find(std::begin(kLongRunning), std::end(kLongRunning), argv[1]) == std::end(kLongRunning))
    return;
  setenv("GOMP_SPINCOUNT", "10000", 1);
  // The resolved path, not /proc/self/exe, so that ps and top still say "mnistcnn".
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return;
  path[n] = '\0';
  execv(path, argv);  // returns only on failure: run on with the defaults
}

}  // namespace

int main(int argc, char** argv) {
  restart_with_short_openmp_spin(argc, argv);
  mnistcnn::cli::take_stop_signals();  // before any other thread starts
  struct WaitAtReturn {
    ~WaitAtReturn() { mnistcnn::cli::wait_for_gemm_preparation(); }
  } wait_at_return;
  CLI::App app{"mnistcnn: build, train, evaluate and run convolutional networks on MNIST"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "mnistcnn 0.1.0");
  mnistcnn::cli::add_data_command(app);
  mnistcnn::cli::add_arch_command(app);
  mnistcnn::cli::add_train_command(app);
  mnistcnn::cli::add_finetune_command(app);
  mnistcnn::cli::add_import_command(app);
  mnistcnn::cli::add_eval_command(app);
  mnistcnn::cli::add_ensemble_command(app);
  mnistcnn::cli::add_predict_command(app);
  mnistcnn::cli::add_info_command(app);
  mnistcnn::cli::add_explain_command(app);
  mnistcnn::cli::add_plot_command(app);
  mnistcnn::cli::add_serve_command(app);
  mnistcnn::cli::add_search_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  } catch (const mnistcnn::cli::StoppedBySignal& s) {
    return s.code;
  } catch (const mnistcnn::Error& e) {
    std::fprintf(stderr, "mnistcnn: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "mnistcnn: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mnistcnn: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
