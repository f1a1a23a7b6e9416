// Image folders: list and count every file first (so limits are enforced before any
// decoding), then decode each PNG, bring it into MNIST's form and store its bytes.
#include "mnistcnn/data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "mnistcnn/core/error.h"

namespace mnistcnn::data {

namespace fs = std::filesystem;

namespace {

bool hidden(const fs::path& p) { return p.filename().string().starts_with("."); }

bool is_png_name(const fs::path& p) {
  std::string ext = p.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".png";
}

// Class names end up in model files' JSON metadata and in messages: printable UTF-8 only.
bool printable_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size() || c < 0x20 || c == 0x7F) return false;
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d >> 6) != 0x2) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x80 && cp < 0xA0)) return false;
    i += len;
  }
  return !s.empty();
}

// An Error's message without its hint, prefixed with the path when it does not name it.
std::string problem_of(const Error& e, const std::string& path) {
  std::string msg = e.what();
  if (!e.hint().empty() && msg.size() >= e.hint().size() + 9) msg.resize(msg.size() - e.hint().size() - 9);
  return msg.find(path) == std::string::npos ? path + ": " + msg : msg;
}

bool is_integer(const std::string& s) {
  return !s.empty() && s.size() <= 9 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

struct ClassFiles {
  std::string name;
  std::vector<fs::path> files;
  int64_t others = 0;
};

// Every class folder and its PNGs, sorted; throws on the first limit passed.
std::vector<ClassFiles> scan(const fs::path& root, const ImageFolderOptions& o, int64_t& ignored) {
  std::vector<ClassFiles> classes;
  std::error_code ec;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (hidden(it->path()) || !it->is_directory(ec)) continue;
    if (static_cast<int>(classes.size()) == o.max_classes)
      throw Error(root.string() + ": more than " + std::to_string(o.max_classes) +
                  " class folders; at most " + std::to_string(o.max_classes) + " classes are supported");
    classes.push_back({it->path().filename().string(), {}, 0});
  }
  if (ec) throw Error(root.string() + ": cannot list the folder: " + ec.message());
  if (classes.empty())
    throw Error(root.string() + ": no class folders; an image folder holds one subfolder of PNGs per class",
                "lay it out as " + root.string() + "/<class>/<image>.png");
  const bool numeric =
      std::all_of(classes.begin(), classes.end(), [](const ClassFiles& c) { return is_integer(c.name); });
  std::sort(classes.begin(), classes.end(), [&](const ClassFiles& a, const ClassFiles& b) {
    if (numeric && std::stoi(a.name) != std::stoi(b.name)) return std::stoi(a.name) < std::stoi(b.name);
    return a.name < b.name;
  });

  int64_t total = 0;
  for (auto& c : classes) {
    const fs::path folder = root / c.name;
    if (!printable_utf8(c.name))
      throw Error(folder.string() + ": the folder name is not printable UTF-8; class names must be",
                  "rename the folder");
    fs::recursive_directory_iterator it(folder, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      if (hidden(it->path())) {
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      if (it->is_directory(ec)) continue;
      // Only regular files (or links to them) are read: a FIFO named x.png would block.
      if (!is_png_name(it->path()) || !it->is_regular_file(ec)) {
        ++c.others;
        continue;
      }
      if (++total > o.max_files)
        throw Error(root.string() + ": more than " + std::to_string(o.max_files) +
                    " PNG files in its class folders, the limit; nothing was read",
                    "split the folder or raise the limit");
      c.files.push_back(it->path());
    }
    if (ec) throw Error(folder.string() + ": cannot list the folder: " + ec.message());
    if (c.files.empty())
      throw Error(folder.string() + ": class folder without a .png file" +
                      (c.others ? " (" + std::to_string(c.others) + (c.others == 1 ? " other file" : " other files") +
                                     " there; only PNG is read)"
                               : ""),
                  "put the class's PNGs there or remove the folder");
    std::sort(c.files.begin(), c.files.end());
    ignored += c.others;
  }
  return classes;
}

}  // namespace

bool has_class_folders(const std::string& dir) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (!hidden(it->path()) && it->is_directory(ec)) return true;
  return false;
}

ImageFolder load_image_folder(const std::string& dir, const ImageFolderOptions& o) {
  if (!o.decode) throw Error("load_image_folder: no image decoder given");
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(dir + (fs::exists(dir, ec) ? ": not a directory" : ": no such directory") +
                "; expected an image folder (one subfolder of PNGs per class)");
  ImageFolder out;
  const auto classes = scan(dir, o, out.ignored);
  Dataset& ds = out.data;
  ds.rows = ds.cols = 28;
  ds.num_classes = static_cast<int>(classes.size());
  ds.source = dir;
  for (const auto& c : classes) ds.class_names.push_back(c.name);
  for (size_t k = 0; k < classes.size(); ++k) {
    for (const auto& file : classes[k].files) {
      const std::string path = file.string();
      std::string problem;
      DigitImage digit;
      try {
        digit = to_mnist_digit(o.decode(path));
        if (digit.blank) problem = path + ": blank: no digit or object found in the image";
      } catch (const Error& e) {
        problem = problem_of(e, path);
      }
      if (!problem.empty()) {
        if (!o.skip_bad)
          throw Error(problem, "fix or remove the file, or skip unreadable and blank images (--skip-bad)");
        out.skipped.push_back({path, problem});
        continue;
      }
      const auto bytes = to_bytes(digit);
      ds.images.insert(ds.images.end(), bytes.begin(), bytes.end());
      ds.labels.push_back(static_cast<uint8_t>(k));
      out.files.push_back(path);
    }
  }
  return out;
}

}  // namespace mnistcnn::data
