// fork/exec with stdout and stderr on pipes, read through poll() so that neither pipe
// can fill up and block a child; children are reaped with waitpid once both pipes close.
#include "mnistcnn/search/process_pool.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "mnistcnn/core/error.h"

namespace mnistcnn::search {

namespace {

constexpr size_t kMaxOut = size_t{64} << 20, kMaxErr = size_t{64} << 10;
using Clock = std::chrono::steady_clock;

struct Child {
  size_t index = 0;
  pid_t pid = -1;
  int out_fd = -1, err_fd = -1;
  ProcessResult result;
  Clock::time_point start;
};

Child start_child(size_t index, const std::vector<std::string>& argv) {
  if (argv.empty()) throw Error("an empty command");
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) throw Error(std::string("cannot create a pipe: ") + std::strerror(errno));
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]), close(out[1]);
    throw Error(std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  const pid_t pid = fork();
  if (pid < 0) {
    close(out[0]), close(out[1]), close(err[0]), close(err[1]);
    throw Error(std::string("cannot start a process: ") + std::strerror(errno));
  }
  if (pid == 0) {  // the child: only async-signal-safe calls until exec
    sigset_t none;  // the program may block signals (the CLI takes them on a thread): not its child
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    const int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    execv(args[0], args.data());
    const char msg[] = "cannot execute the program\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  Child c;
  c.index = index, c.pid = pid, c.out_fd = out[0], c.err_fd = err[0], c.start = Clock::now();
  return c;
}

// Reads what is there; closes the descriptor at end of file.
void drain(int& fd, std::string& into, size_t limit, bool keep_tail) {
  char buf[65536];
  const ssize_t n = read(fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    close(fd);
    fd = -1;
    return;
  }
  into.append(buf, static_cast<size_t>(n));
  if (into.size() > limit) {
    if (keep_tail) into.erase(0, into.size() - limit);
    else into.resize(limit);
  }
}

}  // namespace

bool run_processes(const std::vector<std::vector<std::string>>& commands, int parallel,
                   const std::function<bool(size_t, const ProcessResult&)>& on_done, const std::atomic<bool>* stop,
                   double grace_seconds) {
  if (parallel < 1) throw Error("at least one process must run at a time");
  std::vector<Child> running;
  size_t next = 0;
  bool stopping = false;
  Clock::time_point stop_time;
  auto terminate_all = [&] {
    if (stopping) return;
    stopping = true;
    stop_time = Clock::now();
    for (Child& c : running) {
      c.result.terminated = true;
      kill(c.pid, SIGTERM);
    }
  };
  while (true) {
    if (stop && stop->load()) terminate_all();
    while (!stopping && next < commands.size() && static_cast<int>(running.size()) < parallel)
      running.push_back(start_child(next, commands[next])), ++next;
    if (running.empty()) break;
    if (stopping && std::chrono::duration<double>(Clock::now() - stop_time).count() > grace_seconds)
      for (Child& c : running) kill(c.pid, SIGKILL);
    std::vector<pollfd> fds;
    for (const Child& c : running) {
      if (c.out_fd >= 0) fds.push_back({c.out_fd, POLLIN, 0});
      if (c.err_fd >= 0) fds.push_back({c.err_fd, POLLIN, 0});
    }
    if (!fds.empty() && poll(fds.data(), fds.size(), 50) < 0 && errno != EINTR)
      throw Error(std::string("poll failed: ") + std::strerror(errno));
    for (const pollfd& p : fds) {
      if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
      for (Child& c : running) {
        if (c.out_fd == p.fd) drain(c.out_fd, c.result.out, kMaxOut, false);
        else if (c.err_fd == p.fd) drain(c.err_fd, c.result.err, kMaxErr, true);
      }
    }
    for (size_t k = 0; k < running.size();) {
      Child& c = running[k];
      if (c.out_fd >= 0 || c.err_fd >= 0) {
        ++k;
        continue;
      }
      int status = 0;
      const pid_t r = waitpid(c.pid, &status, fds.empty() ? 0 : WNOHANG);
      if (r == 0 || (r < 0 && errno == EINTR)) {
        ++k;
        continue;
      }
      c.result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
      c.result.seconds = std::chrono::duration<double>(Clock::now() - c.start).count();
      Child done = std::move(c);
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(k));
      if (!on_done(done.index, done.result)) terminate_all();
    }
    if (fds.empty() && !running.empty()) usleep(20000);
  }
  return !stopping && next == commands.size();
}

}  // namespace mnistcnn::search
