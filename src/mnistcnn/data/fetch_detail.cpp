// Helpers of dataset fetching: content checks, placing verified files, running outside
// programs (npm, tar, apt-get, dpkg-deb) with their output captured for error messages.
#include "mnistcnn/data/fetch_detail.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "mnistcnn/core/error.h"
#include "mnistcnn/data/dataset.h"
#include "mnistcnn/data/idx.h"
#include "mnistcnn/data/sha256.h"

namespace mnistcnn::data::detail {

void say(const FetchOptions& o, const std::string& line) {
  if (o.log) o.log(line);
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

RemoveOnExit::~RemoveOnExit() {
  std::error_code ec;
  if (!path_.empty()) fs::remove_all(path_, ec);
}

std::string check_content(const fs::path& p, const KnownFile& f, std::string* found) {
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return "not a regular file";
  try {
    std::string sha = sha256_of_content(p.string());
    if (found) *found = sha;
    if (sha != f.sha256) return "sha256 mismatch: expected " + f.sha256 + ", found " + sha;
    return {};
  } catch (const Error& e) {
    return e.what();
  }
}

fs::path place(const fs::path& from, const fs::path& dir, const KnownFile& f) {
  fs::path to = dir / (f.name + (is_gzip_file(from.string()) ? ".gz" : ""));
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) throw Error(to.string() + ": cannot move the verified file into place: " + ec.message());
  return to;
}

std::string adopt(const fs::path& found, const KnownFile& f, const fs::path& dir, const std::string& label,
                  const FetchOptions& o, bool copy) {
  // A copy is checked rather than the original: that is what ends up in DIR.
  const fs::path candidate = copy ? dir / ("." + f.name + ".copy.tmp") : found;
  RemoveOnExit cleanup(copy ? candidate : fs::path());
  if (copy) {
    std::error_code ec;
    fs::copy_file(found, candidate, fs::copy_options::overwrite_existing, ec);
    if (ec) return f.name + ": cannot copy " + found.string() + ": " + ec.message();
  }
  std::string problem = check_content(candidate, f);
  if (!problem.empty()) return found.string() + " fails verification: " + problem;
  fs::path to = place(candidate, dir, f);
  cleanup.release();
  say(o, "saved " + to.string() + " (from " + label + ", sha256 ok)");
  return {};
}

fs::path find_in_tree(const fs::path& root, const KnownFile& f) {
  const auto names = idx_file_candidates(f.name);
  std::vector<fs::path> hits;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (!e.is_symlink() && e.is_regular_file() &&
        std::find(names.begin(), names.end(), e.path().filename().string()) != names.end())
      hits.push_back(e.path());
  // Directory order is the file system's; the smallest path makes the choice repeatable.
  return hits.empty() ? fs::path() : *std::min_element(hits.begin(), hits.end());
}

std::string find_program(const std::string& name) {
  auto runnable = [](const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string::npos) return runnable(name) ? name : "";
  const char* env = std::getenv("PATH");
  std::stringstream path(env ? env : "/usr/local/bin:/usr/bin:/bin");
  std::string entry;
  while (std::getline(path, entry, ':')) {
    fs::path p = fs::path(entry.empty() ? "." : entry) / name;
    if (runnable(p)) return p.string();
  }
  return "";
}

int run_program(const std::vector<std::string>& argv, const fs::path& cwd, const fs::path& log) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) throw Error(log.string() + ": cannot create: " + std::strerror(errno));
  const std::string dir = cwd.string();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    throw Error("cannot start " + argv[0] + ": fork failed: " + std::strerror(errno));
  }
  if (pid == 0) {  // only async-signal-safe calls until exec
    sigset_t none;  // the program may block signals (the CLI takes them on a thread): not its child
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (::chdir(dir.c_str()) != 0 || null_fd < 0 || ::dup2(null_fd, 0) < 0 || ::dup2(log_fd, 1) < 0 ||
        ::dup2(log_fd, 2) < 0)
      ::_exit(126);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(log_fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw Error("waiting for " + argv[0] + " failed: " + std::strerror(errno));
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string tail_of(const fs::path& log, size_t max_lines) {
  std::ifstream in(log);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  size_t from = lines.size() > max_lines ? lines.size() - max_lines : 0;
  std::string out;
  for (size_t i = from; i < lines.size(); ++i) out += "\n      " + lines[i];
  return out;
}

fs::path make_work_dir(const fs::path& dir, const std::string& prefix) {
  std::string pattern = (dir / ("." + prefix + "-XXXXXX")).string();
  if (!::mkdtemp(pattern.data()))
    throw Error(dir.string() + ": cannot create a temporary directory: " + std::strerror(errno));
  return fs::absolute(pattern);
}

}  // namespace mnistcnn::data::detail
