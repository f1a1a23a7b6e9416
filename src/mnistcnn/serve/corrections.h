// CorrectionStore: the digits a user corrected on the web page ("that's wrong, it is a
// 7"), kept as 28×28 PNGs in MNIST's form (ink white on black) under DIR/<class>/, the
// folder layout `mnistcnn finetune --data DIR` reads. Writes are atomic, names unique.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "mnistcnn/data/digit_image.h"

namespace mnistcnn::serve {

class CorrectionStore {
 public:
  // Creates `dir` if missing and counts the PNGs already there. A class whose name is not
  // a plain folder name ([A-Za-z0-9_-], at most 64) is stored under its index.
  CorrectionStore(std::string dir, std::vector<std::string> classes, int64_t max_files = 10000);

  struct Saved {
    std::string file;  // relative to the store's directory: "7/20250101T120000-....png"
    int64_t class_count = 0, total = 0;
  };
  // Throws Error for an unknown label, a blank digit or a full store; Error from io when
  // the disk refuses.
  Saved save(const data::DigitImage& digit, const std::string& label);

  std::map<std::string, int64_t> counts() const;  // per class name, all classes listed
  int64_t total() const;
  bool full() const { return total() >= max_files_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string folder(size_t cls) const;
  int64_t total_locked() const;  // mutex_ held

  std::string dir_;
  std::vector<std::string> classes_;
  int64_t max_files_;
  mutable std::mutex mutex_;
  std::vector<int64_t> counts_;
  uint64_t sequence_ = 0;
};

}  // namespace mnistcnn::serve
