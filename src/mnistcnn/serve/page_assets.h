// The web page's files (serve/page/: HTML, CSS, JS), embedded into the library at build
// time by cmake/embed_files.cmake, so the binary serves them with nothing to install.
#pragma once
#include <span>
#include <string_view>

namespace mnistcnn::serve {

struct PageAsset {
  std::string_view path;          // URL path: "/index.html", "/app.js"
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view body;
};

// Defined in the generated page_assets.cpp.
std::span<const PageAsset> page_assets();

}  // namespace mnistcnn::serve
