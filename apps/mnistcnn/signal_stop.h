// SIGINT/SIGTERM while a long job runs (training, a search, the server): the first sets a
// flag the job checks between steps (and calls the job's own stop, if it gave one), so it
// can stop cleanly and say where it stood; a second ends the program at once.
//
// No handler runs: take_stop_signals() blocks both signals in the main thread before any
// other thread exists (threads inherit the mask) and starts one thread that takes them
// with sigwait. A handler interrupts whichever thread the kernel picks, in the middle of
// anything: with one, about one stopped training in twenty beside a busy core aborted
// with a corrupted heap, always in a free() inside dnnl_sgemm (docs/RELIABILITY.md).
#pragma once
#include <atomic>
#include <functional>

namespace mnistcnn::cli {

// Call first thing in main. Outside a SignalStop scope the signals keep their default
// action (the program ends); ignored ones (SIG_IGN from the parent) stay ignored.
void take_stop_signals();

class SignalStop {
 public:
  // Clears the flag; until destroyed, a first signal sets it and calls on_signal (on the
  // signal thread, which the destructor waits for: it must be safe to call from another
  // thread, and quick).
  explicit SignalStop(std::function<void()> on_signal = {});
  ~SignalStop();
  SignalStop(const SignalStop&) = delete;
  SignalStop& operator=(const SignalStop&) = delete;

  const std::atomic<bool>* flag() const;
  // Once a signal arrived: "SIGINT" or "SIGTERM", and the exit code 128 + its number.
  const char* name() const;
  int exit_code() const;
};

}  // namespace mnistcnn::cli
