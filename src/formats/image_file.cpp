#include "formats/image_file.h"

#include <stb_image.h>

#include <memory>

#include "util/error.h"

namespace lumen {

RgbImage read_image(const std::string& path) {
  int w = 0, h = 0, channels = 0;
  if (!stbi_info(path.c_str(), &w, &h, &channels))
    fail(path, ": cannot read the image (", stbi_failure_reason() ? stbi_failure_reason() : "unknown reason", ")");
  if (w <= 0 || h <= 0 || int64_t(w) * h > kMaxImagePixels)
    fail(path, ": a ", w, "x", h, " image is larger than the ", kMaxImagePixels, " pixels lumen decodes");
  std::unique_ptr<stbi_uc, void (*)(void*)> data(stbi_load(path.c_str(), &w, &h, &channels, 3), stbi_image_free);
  if (!data)
    fail(path, ": cannot decode the image (", stbi_failure_reason() ? stbi_failure_reason() : "unknown reason", ")");
  RgbImage image{w, h, {}};
  image.pixels.assign(data.get(), data.get() + size_t(w) * h * 3);
  return image;
}

}  // namespace lumen
