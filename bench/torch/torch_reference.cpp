// torch_reference: trains and runs mnistcnn's keras-mnist and lenet presets with libtorch
// (Debian's libtorch-dev 1.13), on the same data and recipe, so that scripts/bench_vs_torch.sh
// can time both engines side by side. A benchmark tool, not part of the product.
//
//   torch_reference --net keras-mnist|lenet --data DIR [--epochs E] [--batch-size B]
//                   [--threads T] [--optimizer adam|sgd] [--lr X] [--momentum M] [--seed S]
//                   [--infer-only] [--infer-passes N] [--latency-iters N] [--json]
//
// Tuning, as the speed issue asks: torch::set_num_threads(T) and one inter-op thread; run it
// with OMP_NUM_THREADS=T and OPENBLAS_NUM_THREADS=1 (scripts/bench_vs_torch.sh does), or
// libtorch's OpenMP threads and OpenBLAS' own threads compete for the cores.
//
// Measures: wall time of each training epoch (batch gathering, conversion and normalisation,
// forward, loss, backward, optimizer step; no evaluation), inference throughput over the
// 10,000 test images (batch 256, eval mode, inference mode; one untimed warm-up pass, then
// the median of --infer-passes timed passes; the first, cold pass is reported too),
// single-image latency (median of --latency-iters forwards of one 1x1x28x28 image after
// warm-up), test accuracy and peak RSS (getrusage ru_maxrss).
#include <malloc.h>
#include <sys/resource.h>
#include <torch/torch.h>
#include <torch/version.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Args {
  std::string net, data = "data/mnist", optimizer;
  int epochs = 1, threads = 0, infer_passes = 3, latency_iters = 2000;
  int64_t batch_size = 0, seed = 1;
  double lr = -1, momentum = -1;
  bool infer_only = false, json = false, malloc_tuning = true;
};

[[noreturn]] void usage(const std::string& msg) {
  std::fprintf(stderr,
               "torch_reference: %s\n"
               "usage: torch_reference --net keras-mnist|lenet --data DIR [--epochs E] [--batch-size B] [--threads T]\n"
               "         [--optimizer adam|sgd] [--lr X] [--momentum M] [--seed S] [--infer-only]\n"
               "         [--infer-passes N] [--latency-iters N] [--no-malloc-tuning] [--json]\n",
               msg.c_str());
  std::exit(2);
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(k + " needs a value");
      return argv[++i];
    };
    auto number = [&](auto& out) {
      const std::string v = value();
      try {
        size_t pos = 0;
        if constexpr (std::is_floating_point_v<std::remove_reference_t<decltype(out)>>)
          out = std::stod(v, &pos);
        else
          out = static_cast<std::remove_reference_t<decltype(out)>>(std::stoll(v, &pos));
        if (pos != v.size()) throw std::invalid_argument(v);
      } catch (const std::exception&) {
        usage(k + ": not a number: '" + v + "'");
      }
    };
    if (k == "--net") a.net = value();
    else if (k == "--data") a.data = value();
    else if (k == "--epochs") number(a.epochs);
    else if (k == "--batch-size") number(a.batch_size);
    else if (k == "--threads") number(a.threads);
    else if (k == "--optimizer") a.optimizer = value();
    else if (k == "--lr") number(a.lr);
    else if (k == "--momentum") number(a.momentum);
    else if (k == "--seed") number(a.seed);
    else if (k == "--infer-passes") number(a.infer_passes);
    else if (k == "--latency-iters") number(a.latency_iters);
    else if (k == "--infer-only") a.infer_only = true;
    else if (k == "--no-malloc-tuning") a.malloc_tuning = false;
    else if (k == "--json") a.json = true;
    else if (k == "-h" || k == "--help") usage("help");
    else usage("unknown argument '" + k + "'");
  }
  if (a.net != "keras-mnist" && a.net != "lenet") usage("--net must be keras-mnist or lenet");
  if (!a.optimizer.empty() && a.optimizer != "adam" && a.optimizer != "sgd") usage("--optimizer must be adam or sgd");
  if (a.epochs < 0 || a.threads < 0 || a.infer_passes < 1 || a.latency_iters < 1) usage("bad count");
  if (a.threads == 0) a.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return a;
}

// ---- MNIST IDX files (raw or .gz; gzopen reads both) ----

std::string find_idx(const std::string& dir, const std::string& split, const std::string& kind, int dims) {
  // split: train | t10k; kind: images | labels
  const std::string d = "idx" + std::to_string(dims) + "-ubyte";
  for (const std::string& base : {split + "-" + kind + "-" + d, split + "-" + kind + "." + d})
    for (const char* ext : {".gz", ""}) {
      const std::string p = dir + "/" + base + ext;
      if (std::ifstream(p).good()) return p;
    }
  throw std::runtime_error(dir + ": no " + split + "-" + kind + "-" + d + "[.gz]");
}

// Reads an IDX file of unsigned bytes straight into a uint8 tensor of its shape.
torch::Tensor read_idx(const std::string& path, int want_dims) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error(path + ": cannot open");
  auto read_exact = [&](void* dst, size_t n) {
    auto* p = static_cast<unsigned char*>(dst);
    while (n > 0) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n, 1u << 30));
      const int got = gzread(f, p, chunk);
      if (got <= 0) {
        gzclose(f);
        throw std::runtime_error(path + ": truncated or corrupt");
      }
      p += got;
      n -= static_cast<size_t>(got);
    }
  };
  unsigned char magic[4];
  read_exact(magic, 4);
  if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] != want_dims) {
    gzclose(f);
    throw std::runtime_error(path + ": not an IDX file of " + std::to_string(want_dims) + "-d unsigned bytes");
  }
  std::vector<int64_t> shape;
  for (int i = 0; i < want_dims; ++i) {
    unsigned char b[4];
    read_exact(b, 4);
    shape.push_back((int64_t{b[0]} << 24) | (int64_t{b[1]} << 16) | (int64_t{b[2]} << 8) | int64_t{b[3]});
  }
  torch::Tensor t = torch::empty(shape, torch::kUInt8);
  read_exact(t.data_ptr<uint8_t>(), static_cast<size_t>(t.numel()));
  gzclose(f);
  return t;
}

struct Split {
  torch::Tensor images;  // N x 1 x H x W, uint8
  torch::Tensor labels;  // N, int64
};

Split load_split(const std::string& dir, const std::string& split) {
  Split s;
  torch::Tensor img = read_idx(find_idx(dir, split, "images", 3), 3);
  s.images = img.unsqueeze(1);
  s.labels = read_idx(find_idx(dir, split, "labels", 1), 1).to(torch::kLong);
  if (s.images.size(0) != s.labels.size(0)) throw std::runtime_error(dir + ": " + split + " image and label counts differ");
  return s;
}

// ---- the presets ----

struct Recipe {
  std::string optimizer;
  double lr, momentum;
  int64_t batch_size;
  bool standardize;  // lenet: (x/255 - 0.1307) / 0.3081; keras-mnist: x/255
};

Recipe preset_recipe(const std::string& net) {
  if (net == "keras-mnist") return {"adam", 1e-3, 0.0, 32, false};
  return {"sgd", 1e-3, 0.9, 64, true};
}

torch::nn::Sequential build_net(const std::string& net) {
  namespace nn = torch::nn;
  if (net == "keras-mnist")
    return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 32, 3)), nn::ReLU(), nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                          nn::Conv2d(nn::Conv2dOptions(32, 64, 3)), nn::ReLU(), nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                          nn::Flatten(), nn::Linear(1600, 10));
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 6, 3)), nn::ReLU(), nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                        nn::Conv2d(nn::Conv2dOptions(6, 16, 3)), nn::ReLU(), nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                        nn::Flatten(), nn::Linear(400, 120), nn::ReLU(), nn::Linear(120, 84), nn::ReLU(),
                        nn::Linear(84, 10));
}

// uint8 images -> normalised float, per batch, as mnistcnn's loader does.
torch::Tensor normalise(const torch::Tensor& bytes, bool standardize) {
  torch::Tensor x = bytes.to(torch::kFloat32).div_(255.0f);
  if (standardize) x.sub_(0.1307f).div_(0.3081f);
  return x;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

// The BLAS and oneDNN libraries this process actually loaded (libtorch links libblas.so.3,
// which Debian's alternatives point at netlib, OpenBLAS, BLIS, ...).
std::vector<std::string> loaded_math_libs() {
  std::set<std::string> libs;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    const std::string name = path.substr(path.rfind('/') + 1);
    if (name.find("blas") != std::string::npos || name.find("lapack") != std::string::npos ||
        name.find("dnnl") != std::string::npos || name.find("mkl") != std::string::npos ||
        name.find("gomp") != std::string::npos || name.find("iomp") != std::string::npos)
      libs.insert(path);
  }
  return {libs.begin(), libs.end()};
}

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

int run(const Args& a) {
  // glibc malloc serves libtorch's large activation buffers with mmap and gives them back
  // with munmap, so every batch pays the page faults again (perf: ~18% of a keras-mnist run
  // in the kernel). Keeping freed memory in the heap, as jemalloc or tcmalloc (PyTorch's own
  // CPU tuning advice) would, made a keras-mnist epoch ~13% faster and batch-256 inference
  // ~1.45x faster here. --no-malloc-tuning measures plain libtorch.
  if (a.malloc_tuning) {
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  }
  // Threads first, before any parallel work starts.
  torch::set_num_threads(a.threads);
  at::set_num_interop_threads(1);
  torch::manual_seed(static_cast<uint64_t>(a.seed));

  Recipe r = preset_recipe(a.net);
  if (!a.optimizer.empty() && a.optimizer != r.optimizer) {
    r.optimizer = a.optimizer;
    r.momentum = 0.0;
  }
  if (a.lr > 0) r.lr = a.lr;
  if (a.momentum >= 0) r.momentum = a.momentum;
  if (a.batch_size > 0) r.batch_size = a.batch_size;
  const int epochs = a.infer_only ? 0 : a.epochs;

  const auto t_load = Clock::now();
  Split train;
  if (epochs > 0) train = load_split(a.data, "train");
  const Split test = load_split(a.data, "t10k");
  const double load_seconds = seconds_since(t_load);

  torch::nn::Sequential net = build_net(a.net);  // PyTorch's default initialisation, seeded above
  std::unique_ptr<torch::optim::Optimizer> opt;
  if (r.optimizer == "adam")
    opt = std::make_unique<torch::optim::Adam>(net->parameters(), torch::optim::AdamOptions(r.lr).eps(1e-7));
  else
    opt = std::make_unique<torch::optim::SGD>(net->parameters(), torch::optim::SGDOptions(r.lr).momentum(r.momentum));

  std::vector<double> epoch_seconds, train_loss, train_accuracy;
  for (int e = 0; e < epochs; ++e) {
    net->train();
    const int64_t n = train.images.size(0);
    double loss_sum = 0;
    int64_t correct = 0;
    const auto t0 = Clock::now();
    const torch::Tensor perm = torch::randperm(n, torch::kLong);
    for (int64_t b = 0; b < n; b += r.batch_size) {
      const torch::Tensor idx = perm.slice(0, b, std::min(n, b + r.batch_size));
      const torch::Tensor x = normalise(train.images.index_select(0, idx), r.standardize);
      const torch::Tensor y = train.labels.index_select(0, idx);
      opt->zero_grad();
      const torch::Tensor logits = net->forward(x);
      const torch::Tensor loss = torch::nn::functional::cross_entropy(logits, y);
      loss.backward();
      opt->step();
      loss_sum += loss.item<double>() * static_cast<double>(idx.size(0));
      correct += logits.argmax(1).eq(y).sum().item<int64_t>();
    }
    epoch_seconds.push_back(seconds_since(t0));
    train_loss.push_back(loss_sum / static_cast<double>(n));
    train_accuracy.push_back(static_cast<double>(correct) / static_cast<double>(n));
    std::fprintf(stderr, "epoch %d/%d: %.2f s, train loss %.4f, train accuracy %.2f%%\n", e + 1, epochs,
                 epoch_seconds.back(), train_loss.back(), 100.0 * train_accuracy.back());
  }

  // Inference over the test set, batch 256.
  net->eval();
  c10::InferenceMode guard;  // no autograd bookkeeping at all (stronger than NoGradGuard)
  const int64_t nt = test.images.size(0);
  const int64_t infer_batch = 256;
  double test_loss = 0, test_accuracy = 0;
  auto infer_pass = [&](bool score) {
    int64_t correct = 0;
    double loss_sum = 0;
    for (int64_t b = 0; b < nt; b += infer_batch) {
      const int64_t e = std::min(nt, b + infer_batch);
      const torch::Tensor logits = net->forward(normalise(test.images.slice(0, b, e), r.standardize));
      if (score) {
        const torch::Tensor y = test.labels.slice(0, b, e);
        correct += logits.argmax(1).eq(y).sum().item<int64_t>();
        loss_sum += torch::nn::functional::cross_entropy(logits, y,
                                                         torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                        .item<double>();
      }
    }
    if (score) {
      test_accuracy = static_cast<double>(correct) / static_cast<double>(nt);
      test_loss = loss_sum / static_cast<double>(nt);
    }
  };
  auto t0 = Clock::now();
  infer_pass(true);  // cold pass (also the scored one; scoring is a small part of it)
  const double first_pass_seconds = seconds_since(t0);
  std::vector<double> pass_seconds;
  for (int p = 0; p < a.infer_passes; ++p) {
    t0 = Clock::now();
    infer_pass(false);
    pass_seconds.push_back(seconds_since(t0));
  }
  const double infer_seconds = median(pass_seconds);

  // Single-image latency: forward of one normalised 1x1x28x28 image (normalisation untimed).
  const int warmup = std::max(50, a.latency_iters / 10);
  std::vector<double> lat_ms;
  lat_ms.reserve(static_cast<size_t>(a.latency_iters));
  for (int i = 0; i < warmup + a.latency_iters; ++i) {
    const int64_t k = i % nt;
    const torch::Tensor x = normalise(test.images.slice(0, k, k + 1), r.standardize);
    const auto t = Clock::now();
    const torch::Tensor logits = net->forward(x);
    const double ms = 1e3 * seconds_since(t);
    if (logits.size(1) != 10) throw std::logic_error("bad output shape");
    if (i >= warmup) lat_ms.push_back(ms);
  }
  const double single_ms = median(lat_ms);
  const double rss = peak_rss_mb();

  const double infer_ips = static_cast<double>(nt) / infer_seconds;
  if (a.json) {
    nlohmann::json j = {{"engine", "libtorch"},
                        {"torch_version", TORCH_VERSION},
                        {"net", a.net},
                        {"threads", a.threads},
                        {"torch_num_threads", torch::get_num_threads()},
                        {"interop_threads", at::get_num_interop_threads()},
                        {"omp_num_threads_env", env_or("OMP_NUM_THREADS", "")},
                        {"openblas_num_threads_env", env_or("OPENBLAS_NUM_THREADS", "")},
                        {"math_libraries", loaded_math_libs()},
                        {"mkldnn_enabled", at::globalContext().userEnabledMkldnn()},
                        {"malloc_tuning", a.malloc_tuning},
                        {"batch_size", r.batch_size},
                        {"epochs", epochs},
                        {"optimizer", r.optimizer},
                        {"lr", r.lr},
                        {"momentum", r.momentum},
                        {"seed", a.seed},
                        {"load_seconds", load_seconds},
                        {"epoch_seconds", epoch_seconds},
                        {"train_loss", train_loss},
                        {"train_accuracy", train_accuracy},
                        {"test_accuracy", test_accuracy},
                        {"test_loss", test_loss},
                        {"infer_batch_size", infer_batch},
                        {"infer_images_per_second", infer_ips},
                        {"infer_pass_seconds", pass_seconds},
                        {"infer_first_pass_images_per_second", static_cast<double>(nt) / first_pass_seconds},
                        {"single_image_ms", single_ms},
                        {"single_image_ms_p10", [&] {
                           std::vector<double> v = lat_ms;
                           std::sort(v.begin(), v.end());
                           return v[v.size() / 10];
                         }()},
                        {"single_image_iters", a.latency_iters},
                        {"peak_rss_mb", rss}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("libtorch %s, %s, %d threads, batch %lld, %s lr %g\n", TORCH_VERSION, a.net.c_str(), a.threads,
                static_cast<long long>(r.batch_size), r.optimizer.c_str(), r.lr);
    for (size_t e = 0; e < epoch_seconds.size(); ++e) std::printf("epoch %zu: %.2f s\n", e + 1, epoch_seconds[e]);
    std::printf("test accuracy: %.2f%% (loss %.4f)\n", 100.0 * test_accuracy, test_loss);
    std::printf("inference: %.0f images/s (batch %lld, median of %d passes; cold pass %.0f images/s)\n", infer_ips,
                static_cast<long long>(infer_batch), a.infer_passes, static_cast<double>(nt) / first_pass_seconds);
    std::printf("single image: %.3f ms (median of %d)\n", single_ms, a.latency_iters);
    std::printf("peak RSS: %.1f MiB\n", rss);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse_args(argc, argv);
  try {
    return run(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "torch_reference: %s\n", e.what());
    return 1;
  }
}
