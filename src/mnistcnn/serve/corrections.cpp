#include "mnistcnn/serve/corrections.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <random>

#include "mnistcnn/core/error.h"
#include "mnistcnn/io/png.h"

namespace mnistcnn::serve {

namespace fs = std::filesystem;

namespace {

bool plain_name(const std::string& s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::string utc_stamp() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace

CorrectionStore::CorrectionStore(std::string dir, std::vector<std::string> classes, int64_t max_files)
    : dir_(std::move(dir)), classes_(std::move(classes)), max_files_(max_files), counts_(classes_.size(), 0) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec || !fs::is_directory(dir_, ec))
    throw Error(dir_ + ": cannot use as the corrections directory: " + (ec ? ec.message() : "not a directory"));
  for (size_t c = 0; c < classes_.size(); ++c) {
    const fs::path sub = fs::path(dir_) / folder(c);
    if (!fs::is_directory(sub, ec)) continue;
    for (const auto& e : fs::directory_iterator(sub, ec))
      if (e.path().extension() == ".png") ++counts_[c];
  }
}

std::string CorrectionStore::folder(size_t cls) const {
  return plain_name(classes_[cls]) ? classes_[cls] : std::to_string(cls);
}

CorrectionStore::Saved CorrectionStore::save(const data::DigitImage& digit, const std::string& label) {
  const auto it = std::find(classes_.begin(), classes_.end(), label);
  if (it == classes_.end()) {
    std::string known;
    for (const auto& c : classes_) known += (known.empty() ? "" : ", ") + c;
    throw Error("label '" + label.substr(0, 64) + "' is not a class of this model", "classes: " + known);
  }
  if (digit.blank) throw Error("the image is blank: there is no digit to learn from");
  const size_t cls = static_cast<size_t>(it - classes_.begin());
  std::string name;
  {
    std::lock_guard lock(mutex_);
    if (total_locked() >= max_files_)
      throw Error(dir_ + ": already holds " + std::to_string(max_files_) + " corrections, the limit",
                  "fine-tune on them, move them away, or restart with a larger --max-corrections");
    thread_local std::mt19937_64 rng(std::random_device{}());
    char tail[32];
    std::snprintf(tail, sizeof tail, "-%d-%llu-%04x.png", static_cast<int>(getpid()),
                  static_cast<unsigned long long>(++sequence_), static_cast<unsigned>(rng() & 0xffff));
    name = folder(cls) + "/" + utc_stamp() + tail;
    ++counts_[cls];  // reserved now, given back if the write fails
  }
  try {
    std::error_code ec;
    fs::create_directories(fs::path(dir_) / folder(cls), ec);
    if (ec) throw Error(dir_ + "/" + folder(cls) + ": cannot create: " + ec.message());
    const std::vector<uint8_t> bytes = data::to_bytes(digit);
    io::write_png_gray((fs::path(dir_) / name).string(), 28, 28, bytes.data());
  } catch (...) {
    std::lock_guard lock(mutex_);
    --counts_[cls];
    throw;
  }
  std::lock_guard lock(mutex_);
  return {name, counts_[cls], total_locked()};
}

std::map<std::string, int64_t> CorrectionStore::counts() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, int64_t> out;
  for (size_t c = 0; c < classes_.size(); ++c) out[classes_[c]] = counts_[c];
  return out;
}

int64_t CorrectionStore::total() const {
  std::lock_guard lock(mutex_);
  return total_locked();
}

int64_t CorrectionStore::total_locked() const {
  int64_t n = 0;
  for (int64_t c : counts_) n += c;
  return n;
}

}  // namespace mnistcnn::serve
