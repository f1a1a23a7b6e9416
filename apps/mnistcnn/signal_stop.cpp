#include "signal_stop.h"

#include <csignal>

namespace mnistcnn::cli {

namespace {

std::atomic<bool> g_stop{false};
volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_stop_signal(int sig) {
  g_signal = sig;
  g_stop.store(true);
  std::signal(sig, SIG_DFL);  // a second Ctrl-C ends the program at once
}

}  // namespace

SignalStop::SignalStop() {
  g_stop.store(false);
  g_signal = 0;
  old_int_ = std::signal(SIGINT, on_stop_signal);
  old_term_ = std::signal(SIGTERM, on_stop_signal);
}

SignalStop::~SignalStop() {
  std::signal(SIGINT, old_int_);
  std::signal(SIGTERM, old_term_);
}

const std::atomic<bool>* SignalStop::flag() const { return &g_stop; }

const char* SignalStop::name() const { return g_signal == SIGINT ? "SIGINT" : "SIGTERM"; }

int SignalStop::exit_code() const { return 128 + static_cast<int>(g_signal); }

}  // namespace mnistcnn::cli
