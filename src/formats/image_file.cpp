#include "formats/image_file.h"

#include <stb_image.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <fstream>
#include <memory>
#include <optional>

#include "util/error.h"

namespace lumen {
namespace {

// Image files larger than this are refused before they are read.
constexpr int64_t kMaxFileBytes = int64_t(1) << 30;

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) fail(path, ": cannot open the image");
  const std::streamoff size = in.tellg();
  if (size < 0 || size > kMaxFileBytes) fail(path, ": the file is larger than the ", kMaxFileBytes, " bytes lumen reads");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), size)) fail(path, ": cannot read the image");
  return bytes;
}

// Where the pixels of a binary PNM (P5 grey, P6 RGB) start and how many bytes one sample takes,
// or nullopt for other formats (and headers stb refuses anyway). stb_image (Debian's 2022
// snapshot) does not notice pixel data cut short: it returns the image with the missing bytes
// uninitialised, so read_image checks the length. Header: the magic, then width, height and
// maxval separated by whitespace or '#' comments, then one whitespace byte.
struct PnmLayout {
  int64_t data_offset, channels, sample_bytes;
};
std::optional<PnmLayout> binary_pnm_layout(const std::vector<uint8_t>& b) {
  if (b.size() < 2 || b[0] != 'P' || (b[1] != '5' && b[1] != '6')) return std::nullopt;
  size_t i = 2;
  int64_t value = 0;  // width, height, then maxval
  for (int field = 0; field < 3; ++field) {
    while (i < b.size() && (std::isspace(b[i]) || b[i] == '#')) {
      if (b[i] == '#')
        while (i < b.size() && b[i] != '\n' && b[i] != '\r') ++i;
      else
        ++i;
    }
    if (i >= b.size() || !std::isdigit(b[i])) return std::nullopt;
    for (value = 0; i < b.size() && std::isdigit(b[i]); ++i) value = std::min<int64_t>(value * 10 + (b[i] - '0'), INT_MAX);
  }
  return PnmLayout{int64_t(i) + 1, b[1] == '6' ? 3 : 1, value > 255 ? 2 : 1};
}

}  // namespace

RgbImage read_image(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  if (bytes.size() > size_t(INT_MAX)) fail(path, ": the file is too large for stb_image");
  const auto* data_begin = bytes.data();
  const int length = int(bytes.size());
  int w = 0, h = 0, channels = 0;
  if (!stbi_info_from_memory(data_begin, length, &w, &h, &channels))
    fail(path, ": cannot read the image (", stbi_failure_reason() ? stbi_failure_reason() : "unknown format", ")");
  if (w <= 0 || h <= 0 || int64_t(w) * h > kMaxImagePixels)
    fail(path, ": a ", w, "x", h, " image is larger than the ", kMaxImagePixels, " pixels lumen decodes");
  if (const std::optional<PnmLayout> pnm = binary_pnm_layout(bytes)) {
    const int64_t needed = int64_t(w) * h * pnm->channels * pnm->sample_bytes;
    if (pnm->data_offset + needed > length)
      fail(path, ": the PNM file is truncated (", std::max<int64_t>(length - pnm->data_offset, 0), " of its ", needed,
           " pixel bytes)");
  }
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(stbi_load_from_memory(data_begin, length, &w, &h, &channels, 3),
                                                   stbi_image_free);
  if (!pixels)
    fail(path, ": cannot decode the image (", stbi_failure_reason() ? stbi_failure_reason() : "unknown reason", ")");
  RgbImage image{w, h, {}};
  image.pixels.assign(pixels.get(), pixels.get() + size_t(w) * h * 3);
  return image;
}

}  // namespace lumen
