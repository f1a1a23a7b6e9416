// A built-in 5×7 bitmap font (ASCII, with descenders for g j p q y) so plots and
// heat-maps can carry labels without a font file or a font library at run time.
#pragma once
#include <cstdint>

namespace mnistcnn::explain {

inline constexpr int kGlyphWidth = 5, kGlyphHeight = 9;  // 7 above the baseline, 2 below
inline constexpr int kGlyphAdvance = 6, kGlyphAscent = 7;

// Whether pixel (x, y) of the glyph for c is ink; y from the top, 0..8. Characters the
// font lacks are drawn as '?'.
bool glyph_pixel(char c, int x, int y);

}  // namespace mnistcnn::explain
