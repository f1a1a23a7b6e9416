// libFuzzer target for the safetensors reader (parse_safetensors, in memory) and, when a
// file parses and its metadata names an architecture, the model loader (load_model, which
// takes a path: the bytes go through a memfd) that rebuilds the network from it.
#include <cstdint>
#include <span>

#include "fuzz_util.h"
#include "mnistcnn/core/error.h"
#include "mnistcnn/io/model_file.h"
#include "mnistcnn/io/safetensors.h"
#include "mnistcnn/kernels/parallel.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  mnistcnn::kernels::set_num_threads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemFile file;
  mnistcnn::io::SafetensorsFile st;
  try {
    st = mnistcnn::io::parse_safetensors(std::span<const uint8_t>(data, size), "fuzz.safetensors");
  } catch (const mnistcnn::Error&) {
    return 0;
  }
  // Tensors tile the data section, so their total size is bounded by the input.
  size_t bytes = 0;
  for (const auto& [name, t] : st.tensors) {
    FUZZ_CHECK(t.shape().rank() >= 1 && t.numel() >= 0);
    FUZZ_CHECK(st.find(name) != nullptr);
    bytes += static_cast<size_t>(t.numel()) * 2;  // 2: the smallest dtype
  }
  FUZZ_CHECK(bytes <= size);
  if (!st.metadata.count("arch")) return 0;
  try {
    mnistcnn::io::LoadedModel m = mnistcnn::io::load_model(file.write(data, size));
    FUZZ_CHECK(m.net.size() >= 1);
    const auto shapes = m.net.shapes(1);
    FUZZ_CHECK(shapes.size() == m.net.size());
    FUZZ_CHECK(m.info.normalization.std > 0);
    FUZZ_CHECK(m.info.classes.empty() || static_cast<int64_t>(m.info.classes.size()) == shapes.back()[1]);
  } catch (const mnistcnn::Error&) {
  }
  return 0;
}
