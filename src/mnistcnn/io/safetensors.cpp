// safetensors reader and writer. Validation follows the reference implementation
// (huggingface/safetensors): header starts with '{', tensors tile the data section
// exactly (no overlaps, no holes, no trailing bytes), sizes match shape × dtype.
#include "mnistcnn/io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "mnistcnn/core/error.h"

namespace mnistcnn::io {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; this code copies it as is");

namespace {

using Json = nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference refuses larger headers

enum class Dtype { F32, F64, F16, BF16, I64, I32 };

struct Entry {
  std::string name;
  Dtype dtype;
  std::vector<int64_t> dims;
  uint64_t begin, end;
};

// Hostile headers can hold megabyte-long names and values; messages show a prefix.
std::string clip(std::string s, size_t limit = 120) {
  if (s.size() > limit)
    s = s.substr(0, limit - 20) + "... (" + std::to_string(s.size()) + " bytes)";
  return s;
}
std::string in_quotes(const std::string& s) {
  std::string q = "'";  // not "'" + clip(s): GCC 12 warns falsely (-Wrestrict) on that form
  return q.append(clip(s)).append("'");
}
std::string dump(const Json& j) {
  return clip(j.dump(-1, ' ', false, Json::error_handler_t::replace));
}

std::string range_str(uint64_t begin, uint64_t end) {
  std::string s = "[";
  return s.append(std::to_string(begin)).append(", ").append(std::to_string(end)).append("]");
}

// IEEE 754 binary16 → binary32, exact for every value including subnormals, inf, NaN.
float half_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {
    // Subnormal half: normalise the mantissa into a normal float.
    int e = -1;
    do {
      mant <<= 1;
      ++e;
    } while ((mant & 0x400u) == 0);
    bits = sign | (static_cast<uint32_t>(112 - e) << 23) | ((mant & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(bits);
}

float bf16_to_float(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

size_t dtype_size(Dtype d) {
  switch (d) {
    case Dtype::F64:
    case Dtype::I64: return 8;
    case Dtype::F32:
    case Dtype::I32: return 4;
    case Dtype::F16:
    case Dtype::BF16: return 2;
  }
  return 0;
}

Shape make_shape(const std::vector<int64_t>& d) {
  switch (d.size()) {
    case 0: return Shape{1};
    case 1: return Shape{d[0]};
    case 2: return Shape{d[0], d[1]};
    case 3: return Shape{d[0], d[1], d[2]};
    default: return Shape{d[0], d[1], d[2], d[3]};
  }
}

// Reads one header entry; `where` is "FILE: tensor 'NAME'".
Entry parse_entry(const std::string& key, const Json& info, const std::string& where) {
  if (!info.is_object())
    throw Error(where + ": expected an object with dtype, shape, data_offsets, found " +
                info.type_name());
  auto field = [&](const char* f) -> const Json& {
    auto it = info.find(f);
    if (it == info.end()) throw Error(where + ": missing field \"" + f + "\"");
    return *it;
  };
  Entry e{key, Dtype::F32, {}, 0, 0};

  const Json& dtype = field("dtype");
  if (!dtype.is_string())
    throw Error(where + ": \"dtype\" must be a string, found " + dtype.type_name());
  const std::string& dt = dtype.get_ref<const std::string&>();
  if (dt == "F32") e.dtype = Dtype::F32;
  else if (dt == "F64") e.dtype = Dtype::F64;
  else if (dt == "F16") e.dtype = Dtype::F16;
  else if (dt == "BF16") e.dtype = Dtype::BF16;
  else if (dt == "I64") e.dtype = Dtype::I64;
  else if (dt == "I32") e.dtype = Dtype::I32;
  else
    throw Error(where + ": dtype " + dt + " is not supported (expected F32, F64, F16, BF16, I64 or I32)",
                "convert the tensor to floating point before saving");

  const Json& shape = field("shape");
  if (!shape.is_array())
    throw Error(where + ": \"shape\" must be an array, found " + shape.type_name());
  if (shape.size() > static_cast<size_t>(Shape::kMaxRank))
    throw Error(where + ": rank " + std::to_string(shape.size()) + " exceeds the maximum of 4");
  uint64_t numel = 1;
  bool overflow = false;
  for (const Json& d : shape) {
    if (!d.is_number_unsigned())
      throw Error(where + ": shape entries must be non-negative integers, found " + dump(d));
    uint64_t v = d.get<uint64_t>();
    if (v > static_cast<uint64_t>(INT64_MAX))
      throw Error(where + ": shape entry " + dump(d) + " is too large");
    overflow = overflow || __builtin_mul_overflow(numel, v, &numel);
    e.dims.push_back(static_cast<int64_t>(v));
  }

  const Json& offs = field("data_offsets");
  if (!offs.is_array() || offs.size() != 2 || !offs[0].is_number_unsigned() ||
      !offs[1].is_number_unsigned())
    throw Error(where + ": \"data_offsets\" must be [begin, end] of non-negative integers, found " +
                dump(offs));
  e.begin = offs[0].get<uint64_t>();
  e.end = offs[1].get<uint64_t>();
  if (e.end < e.begin)
    throw Error(where + ": data_offsets end " + std::to_string(e.end) + " is before begin " +
                std::to_string(e.begin));

  uint64_t bytes = 0;
  overflow = overflow || __builtin_mul_overflow(numel, dtype_size(e.dtype), &bytes);
  std::string shape_str = shape.dump();
  if (overflow)
    throw Error(where + ": shape " + shape_str + " × " + dt + " overflows 64 bits");
  if (bytes != e.end - e.begin)
    throw Error(where + ": shape " + shape_str + " of " + dt + " needs " + std::to_string(bytes) +
                " bytes, data_offsets " + range_str(e.begin, e.end) + " hold " +
                std::to_string(e.end - e.begin));
  return e;
}

Tensor decode(const Entry& e, const uint8_t* p) {
  Tensor t(make_shape(e.dims));
  float* out = t.data();
  size_t n = static_cast<size_t>(t.numel());
  switch (e.dtype) {
    case Dtype::F32:
      if (n > 0) std::memcpy(out, p, n * 4);
      break;
    case Dtype::F64:
      for (size_t i = 0; i < n; ++i) {
        double v;
        std::memcpy(&v, p + 8 * i, 8);
        out[i] = static_cast<float>(v);
      }
      break;
    case Dtype::F16:
    case Dtype::BF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, p + 2 * i, 2);
        out[i] = e.dtype == Dtype::F16 ? half_to_float(v) : bf16_to_float(v);
      }
      break;
    case Dtype::I64:  // counters such as PyTorch's num_batches_tracked
      for (size_t i = 0; i < n; ++i) {
        int64_t v;
        std::memcpy(&v, p + 8 * i, 8);
        out[i] = static_cast<float>(v);
      }
      break;
    case Dtype::I32:
      for (size_t i = 0; i < n; ++i) {
        int32_t v;
        std::memcpy(&v, p + 4 * i, 4);
        out[i] = static_cast<float>(v);
      }
      break;
  }
  return t;
}

std::vector<uint8_t> serialize(const TensorRefs& tensors,
                               const std::map<std::string, std::string>& metadata,
                               const std::string& name) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [key, t] : tensors) {
    std::string where = name + ": tensor " + in_quotes(key);
    if (t == nullptr) throw Error(where + ": null tensor pointer");
    if (key == "__metadata__") throw Error(where + ": the name is reserved for metadata");
    if (!seen.insert(key).second) throw Error(where + ": name appears twice");
    const Shape& s = t->shape();
    if (s.rank() == 0) throw Error(where + ": tensor has no shape (rank 0)");
    std::vector<int64_t> dims;
    for (int i = 0; i < s.rank(); ++i) dims.push_back(s[i]);
    uint64_t bytes = static_cast<uint64_t>(t->numel()) * 4;
    header[key] = {{"dtype", "F32"}, {"shape", dims}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw Error(name + ": cannot encode the header: " + e.what(),
                "tensor names and metadata must be valid UTF-8");
  }
  text.append((8 - text.size() % 8) % 8, ' ');

  std::vector<uint8_t> out(8 + text.size() + offset);
  uint64_t n = text.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, text.data(), text.size());
  uint8_t* p = out.data() + 8 + text.size();
  for (const auto& [key, t] : tensors) {
    size_t bytes = static_cast<size_t>(t->numel()) * 4;
    if (bytes > 0) std::memcpy(p, t->data(), bytes);
    p += bytes;
  }
  return out;
}

}  // namespace

const Tensor* SafetensorsFile::find(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}


std::vector<uint8_t> serialize_safetensors(const TensorRefs& tensors,
                                           const std::map<std::string, std::string>& metadata) {
  return serialize(tensors, metadata, "safetensors");
}

SafetensorsFile parse_safetensors(std::span<const uint8_t> bytes, const std::string& name) {
  if (bytes.size() < 8)
    throw Error(name + ": not a safetensors file: " + std::to_string(bytes.size()) +
                " bytes, expected at least the 8-byte header length");
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  if (n > kMaxHeaderBytes)
    throw Error(name + ": header length " + std::to_string(n) + " exceeds the limit of " +
                std::to_string(kMaxHeaderBytes) + " bytes", "the file is probably not safetensors");
  if (n > bytes.size() - 8)
    throw Error(name + ": header length " + std::to_string(n) + " runs past the end of the file (" +
                std::to_string(bytes.size() - 8) + " bytes follow the length)",
                "the file is truncated or not safetensors");
  const char* text = reinterpret_cast<const char*>(bytes.data() + 8);
  if (n == 0 || text[0] != '{')
    throw Error(name + ": the header does not start with '{'",
                "the file is probably not safetensors");

  // nlohmann keeps the last of duplicate keys silently; the callback sees every key.
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  int duplicate_depth = 0;
  auto on_event = [&](int depth, Json::parse_event_t ev, Json& parsed) {
    if (ev == Json::parse_event_t::object_start) open_objects.emplace_back();
    if (ev == Json::parse_event_t::object_end && !open_objects.empty()) open_objects.pop_back();
    if (ev == Json::parse_event_t::key && !open_objects.empty() && parsed.is_string() &&
        !open_objects.back().insert(parsed.get<std::string>()).second && duplicate.empty()) {
      duplicate = parsed.get<std::string>();
      duplicate_depth = depth;
    }
    return true;
  };
  Json header;
  try {
    header = Json::parse(text, text + n, on_event);
  } catch (const Json::exception& e) {
    throw Error(name + ": malformed JSON header: " + clip(e.what(), 400));
  }
  if (!duplicate.empty() && duplicate_depth == 1)
    throw Error(name + ": the header names tensor " + in_quotes(duplicate) + " twice");
  if (!duplicate.empty())
    throw Error(name + ": the header repeats key " + in_quotes(duplicate) + " within one object");
  if (!header.is_object()) throw Error(name + ": the header must be a JSON object");

  SafetensorsFile file;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object())
        throw Error(name + ": __metadata__ must be an object, found " + value.type_name());
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string())
          throw Error(name + ": __metadata__ " + in_quotes(mk) + " must be a string, found " +
                      mv.type_name());
        file.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(key, value, name + ": tensor " + in_quotes(key)));
  }

  // Tensors must tile the data section: sorted by offsets, each begins where the last ended.
  const uint64_t data_len = bytes.size() - 8 - n;
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t pos = 0;
  const Entry* prev = nullptr;
  for (const Entry& e : entries) {
    std::string where = name + ": tensor " + in_quotes(e.name) + ": data_offsets " +
                        range_str(e.begin, e.end);
    if (e.end > data_len)
      throw Error(where + " run past the data section of " + std::to_string(data_len) + " bytes",
                  "the file is truncated");
    if (e.begin < pos)
      throw Error(where + " overlap tensor " + in_quotes(prev->name) + " ending at " +
                  std::to_string(pos));
    if (e.begin > pos)
      throw Error(where + " leave a hole of " + std::to_string(e.begin - pos) + " bytes after " +
                  (prev ? "tensor " + in_quotes(prev->name) : std::string("the header")));
    pos = e.end;
    prev = &e;
  }
  if (pos != data_len)
    throw Error(name + ": the data section has " + std::to_string(data_len - pos) +
                " bytes after the last tensor (" + std::to_string(data_len) +
                " bytes, tensors cover " + std::to_string(pos) + ")");

  const uint8_t* data = bytes.data() + 8 + n;
  file.tensors.reserve(entries.size());
  for (const Entry& e : entries) file.tensors.emplace_back(e.name, decode(e, data + e.begin));
  return file;
}

void write_safetensors(const std::string& path, const TensorRefs& tensors,
                       const std::map<std::string, std::string>& metadata) {
  write_file_atomic(path, serialize(tensors, metadata, path));
}

SafetensorsFile read_safetensors(const std::string& path) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  return parse_safetensors(bytes, path);
}

}  // namespace mnistcnn::io
