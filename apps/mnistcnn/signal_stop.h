// SIGINT/SIGTERM while a long job runs (training, a search): the first sets a flag the
// job checks between steps, so it can stop cleanly and say where it stood; a second
// ends the program at once (the default action is back by then).
#pragma once
#include <atomic>

namespace mnistcnn::cli {

class SignalStop {
 public:
  SignalStop();   // clears the flag and installs the handlers
  ~SignalStop();  // puts the previous handlers back
  SignalStop(const SignalStop&) = delete;
  SignalStop& operator=(const SignalStop&) = delete;

  const std::atomic<bool>* flag() const;
  // Once a signal arrived: "SIGINT" or "SIGTERM", and the exit code 128 + its number.
  const char* name() const;
  int exit_code() const;

 private:
  void (*old_int_)(int);
  void (*old_term_)(int);
};

}  // namespace mnistcnn::cli
