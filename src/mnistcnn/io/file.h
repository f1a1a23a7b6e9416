// Whole-file reads and atomic writes, shared by every reader and writer of outside files
// (model files, checkpoints, PNGs).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace mnistcnn::io {

// Writes to PATH.tmp.PID.N in the same directory, fsyncs, renames over PATH; on any
// failure the temporary is removed, PATH is untouched, and an Error is thrown.
void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes);
// The whole file; refuses files larger than max_bytes.
std::vector<uint8_t> read_file_bytes(const std::string& path, size_t max_bytes = size_t{1} << 34);

}  // namespace mnistcnn::io
