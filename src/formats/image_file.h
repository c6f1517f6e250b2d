#pragma once
// Images for the classifiers, decoded by stb_image (PNG, JPEG, PPM/PGM, BMP, GIF, TGA, PSD, HDR
// and PIC; Debian's libstb) to 8-bit RGB. formats/image_resize.h brings them to a model's size.
#include <cstdint>
#include <string>
#include <vector>

namespace lumen {

// Decoding more than this many pixels (~200 MB of RGB) is refused before any is allocated.
constexpr int64_t kMaxImagePixels = int64_t(1) << 26;

struct RgbImage {
  int32_t width = 0, height = 0;
  std::vector<uint8_t> pixels;  // height rows of width RGB triples
};

// Fails with "PATH: WHY" (stb's reason: unreadable, unknown format, corrupt, too large).
RgbImage read_image(const std::string& path);

}  // namespace lumen
