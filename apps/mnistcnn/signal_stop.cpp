#include "signal_stop.h"

#include <pthread.h>

#include <csignal>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace mnistcnn::cli {

namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};
std::mutex g_mutex;  // guards g_catching and g_on_signal
bool g_catching = false;
std::function<void()> g_on_signal;

sigset_t g_taken;  // the signals the thread takes: SIGINT and SIGTERM, unless ignored

// Whether the program was started with sig ignored (a background job of a script, nohup):
// it stays ignored. (Linux queues a blocked signal even when its action is to ignore it.)
bool ignored(int sig) {
  struct sigaction now {};
  return sigaction(sig, nullptr, &now) == 0 && now.sa_handler == SIG_IGN;
}

// The default action of sig, on this thread: the program ends as killed by it.
[[noreturn]] void end_by(int sig) {
  std::signal(sig, SIG_DFL);
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, sig);
  pthread_sigmask(SIG_UNBLOCK, &s, nullptr);
  raise(sig);
  std::_Exit(128 + sig);  // not reached
}

void wait_for_signals() {
  for (;;) {
    int sig = 0;
    if (sigwait(&g_taken, &sig) != 0) continue;
    // Under the lock, so that a SignalStop (and what its call stops) cannot end meanwhile.
    const std::lock_guard<std::mutex> lock(g_mutex);
    if (!g_catching || g_stop.load()) end_by(sig);  // no job to stop, or a second signal
    g_signal.store(sig);
    g_stop.store(true);
    if (g_on_signal) g_on_signal();
  }
}

}  // namespace

void take_stop_signals() {
  sigemptyset(&g_taken);
  for (int sig : {SIGINT, SIGTERM})
    if (!ignored(sig)) sigaddset(&g_taken, sig);
  if (sigisemptyset(&g_taken) || pthread_sigmask(SIG_BLOCK, &g_taken, nullptr) != 0) return;
  std::thread(wait_for_signals).detach();
}

SignalStop::SignalStop(std::function<void()> on_signal) {
  const std::lock_guard<std::mutex> lock(g_mutex);
  g_stop.store(false);
  g_signal.store(0);
  g_catching = true;
  g_on_signal = std::move(on_signal);
}

SignalStop::~SignalStop() {
  const std::lock_guard<std::mutex> lock(g_mutex);
  g_catching = false;
  g_on_signal = nullptr;
}

const std::atomic<bool>* SignalStop::flag() const { return &g_stop; }

const char* SignalStop::name() const { return g_signal.load() == SIGINT ? "SIGINT" : "SIGTERM"; }

int SignalStop::exit_code() const { return 128 + g_signal.load(); }

}  // namespace mnistcnn::cli
