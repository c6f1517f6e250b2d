#pragma once
// Images for the classifiers, decoded by stb_image (PNG, JPEG, PPM/PGM, BMP, GIF, TGA, PSD, HDR
// and PIC; Debian's libstb) to 8-bit RGB, and brought to a model's square input size the way
// torchvision's evaluation transforms do: Resize(size) then CenterCrop(size).
#include <cstdint>
#include <string>
#include <vector>

namespace lumen {

struct RgbImage {
  int32_t width = 0, height = 0;
  std::vector<uint8_t> pixels;  // height rows of width RGB triples
};

// Fails with "PATH: WHY" (stb's reason: unreadable, unknown format, corrupt, too large).
RgbImage read_image(const std::string& path);

// Scales the shorter side to `size` (the longer to floor(size * long / short), as torchvision's
// Resize(int)) with a triangle filter widened by the scale when shrinking (bilinear with
// antialiasing, like PIL's BILINEAR; close to torchvision's PIL path, not bit-identical), then
// keeps the centre size x size square (CenterCrop: the top-left corner rounded half to even, as Python's round).
// An image already size x size is returned as it is.
RgbImage resize_and_center_crop(const RgbImage& image, int32_t size);

}  // namespace lumen
