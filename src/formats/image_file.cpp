#include "formats/image_file.h"

#include <stb_image.h>
#include <stb_image_resize.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "util/error.h"

namespace lumen {
namespace {

// Decoding more than this many pixels (~200 MB of RGB) is refused before any is allocated.
constexpr int64_t kMaxPixels = int64_t(1) << 26;

}  // namespace

RgbImage read_image(const std::string& path) {
  int w = 0, h = 0, channels = 0;
  if (!stbi_info(path.c_str(), &w, &h, &channels))
    fail(path, ": cannot read the image (", stbi_failure_reason() ? stbi_failure_reason() : "unknown reason", ")");
  if (w <= 0 || h <= 0 || int64_t(w) * h > kMaxPixels)
    fail(path, ": a ", w, "x", h, " image is larger than the ", kMaxPixels, " pixels lumen decodes");
  std::unique_ptr<stbi_uc, void (*)(void*)> data(stbi_load(path.c_str(), &w, &h, &channels, 3), stbi_image_free);
  if (!data) fail(path, ": cannot decode the image (", stbi_failure_reason(), ")");
  RgbImage image{w, h, {}};
  image.pixels.assign(data.get(), data.get() + size_t(w) * h * 3);
  return image;
}

RgbImage resize_and_center_crop(const RgbImage& image, int32_t size) {
  if (image.width == size && image.height == size) return image;
  const int32_t shorter = std::min(image.width, image.height), longer = std::max(image.width, image.height);
  const int64_t scaled_long64 = int64_t(size) * longer / shorter;
  if (scaled_long64 * size > kMaxPixels)
    fail("a ", image.width, "x", image.height, " image scaled to a shorter side of ", size, " is too large");
  const int32_t scaled_long = int32_t(scaled_long64);
  RgbImage scaled;
  scaled.width = image.width <= image.height ? size : scaled_long;
  scaled.height = image.width <= image.height ? scaled_long : size;
  scaled.pixels.resize(size_t(scaled.width) * scaled.height * 3);
  if (!stbir_resize_uint8_generic(image.pixels.data(), image.width, image.height, image.width * 3, scaled.pixels.data(),
                                  scaled.width, scaled.height, scaled.width * 3, 3, STBIR_ALPHA_CHANNEL_NONE, 0,
                                  STBIR_EDGE_CLAMP, STBIR_FILTER_TRIANGLE, STBIR_COLORSPACE_LINEAR, nullptr))
    fail("cannot resize a ", image.width, "x", image.height, " image to ", scaled.width, "x", scaled.height);
  // Python's round(), as CenterCrop uses it: halves to even (the default rounding mode).
  const int32_t top = int32_t(std::nearbyint((scaled.height - size) / 2.0));
  const int32_t left = int32_t(std::nearbyint((scaled.width - size) / 2.0));
  RgbImage crop{size, size, std::vector<uint8_t>(size_t(size) * size * 3)};
  for (int32_t y = 0; y < size; ++y)
    std::memcpy(&crop.pixels[size_t(y) * size * 3], &scaled.pixels[(size_t(top + y) * scaled.width + left) * 3],
                size_t(size) * 3);
  return crop;
}

}  // namespace lumen
