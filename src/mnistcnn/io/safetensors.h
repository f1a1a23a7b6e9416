// safetensors: an 8-byte little-endian header length, a JSON header naming each tensor's
// dtype, shape and byte range, then the raw little-endian data. We write F32 and read
// F32/F64/F16/BF16 and the integers I64/I32 (as float: exact up to 2^24, enough for
// PyTorch's int64 num_batches_tracked); the reader treats every file as hostile and
// never over-reads.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "mnistcnn/io/file.h"
#include "mnistcnn/tensor/tensor.h"

namespace mnistcnn::io {

struct SafetensorsFile {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in data-section order
  std::map<std::string, std::string> metadata;          // the "__metadata__" object
  const Tensor* find(const std::string& name) const;    // nullptr when absent
};

// Ordered (name, tensor) pairs to write; the pointers must outlive the call.
using TensorRefs = std::vector<std::pair<std::string, const Tensor*>>;

// The whole file as bytes: tensors as F32 in the given order, contiguous, the header
// padded with spaces to a multiple of 8. A rank-0 (default-constructed) tensor or a
// repeated name is an Error.
std::vector<uint8_t> serialize_safetensors(const TensorRefs& tensors,
                                           const std::map<std::string, std::string>& metadata);

// Parses a complete file image. `name` (usually the path) starts every error message.
// A rank-0 tensor (a scalar, shape []) is returned with Shape{1}; rank > 4 is an Error.
SafetensorsFile parse_safetensors(std::span<const uint8_t> bytes, const std::string& name);

// serialize_safetensors + write_file_atomic.
void write_safetensors(const std::string& path, const TensorRefs& tensors,
                       const std::map<std::string, std::string>& metadata);
// read_file_bytes + parse_safetensors.
SafetensorsFile read_safetensors(const std::string& path);

}  // namespace mnistcnn::io
