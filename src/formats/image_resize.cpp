#include "formats/image_resize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "util/error.h"

namespace lumen {
namespace {

// Weights carry 22 fractional bits: 8-bit pixels times weights summed over a window stay
// inside 32 bits (Pillow's PRECISION_BITS = 32 - 8 - 2).
constexpr int kPrecisionBits = 22;

// The input window and fixed-point weights of each output pixel along one axis.
struct AxisWeights {
  std::vector<int32_t> first, count;  // window [first, first + count) per output pixel
  std::vector<int32_t> weights;       // `stride` per output pixel
  int32_t stride = 0;
};

AxisWeights axis_weights(int32_t in_size, int32_t out_size) {
  const double scale = double(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = 1.0 * filter_scale;  // the triangle reaches 1 pixel, times the shrink
  const double inverse_scale = 1.0 / filter_scale;  // multiplied, not divided, as Pillow does: same rounding
  AxisWeights a;
  a.stride = int32_t(std::ceil(support)) * 2 + 1;
  a.weights.assign(size_t(out_size) * a.stride, 0);
  std::vector<double> w(size_t(a.stride));
  for (int32_t o = 0; o < out_size; ++o) {
    const double center = (o + 0.5) * scale;
    // Truncation toward zero, then clamping, as Pillow rounds the window's ends.
    const int32_t first = std::max(int32_t(center - support + 0.5), 0);
    const int32_t count = std::min(int32_t(center + support + 0.5), in_size) - first;
    double total = 0.0;
    for (int32_t i = 0; i < count; ++i) {
      const double x = std::fabs((i + first - center + 0.5) * inverse_scale);
      w[size_t(i)] = x < 1.0 ? 1.0 - x : 0.0;
      total += w[size_t(i)];
    }
    for (int32_t i = 0; i < count; ++i) {
      const double normalised = total != 0.0 ? w[size_t(i)] / total : w[size_t(i)];
      a.weights[size_t(o) * a.stride + i] = int32_t(std::lround(normalised * (1 << kPrecisionBits)));
    }
    a.first.push_back(first);
    a.count.push_back(count);
  }
  return a;
}

uint8_t round_to_8_bits(int64_t sum) {  // sum started at half of one unit: this rounds
  return uint8_t(std::clamp<int64_t>(sum >> kPrecisionBits, 0, 255));
}

// One pass along x (pixel_step 3, line_step width * 3) or y (the reverse): out[o] from in's
// window around o, for every line and channel.
RgbImage resample_axis(const RgbImage& in, int32_t out_w, int32_t out_h, bool along_x) {
  const AxisWeights a = along_x ? axis_weights(in.width, out_w) : axis_weights(in.height, out_h);
  RgbImage out{out_w, out_h, std::vector<uint8_t>(size_t(out_w) * out_h * 3)};
  const int64_t in_step = along_x ? 3 : int64_t(in.width) * 3;  // bytes between window pixels
  for (int32_t y = 0; y < out_h; ++y)
    for (int32_t x = 0; x < out_w; ++x) {
      const int32_t o = along_x ? x : y;
      const uint8_t* src = along_x ? &in.pixels[(size_t(y) * in.width + a.first[size_t(o)]) * 3]
                                   : &in.pixels[(size_t(a.first[size_t(o)]) * in.width + x) * 3];
      const int32_t* w = &a.weights[size_t(o) * a.stride];
      for (int ch = 0; ch < 3; ++ch) {
        int64_t sum = int64_t(1) << (kPrecisionBits - 1);
        for (int32_t i = 0; i < a.count[size_t(o)]; ++i) sum += int64_t(src[i * in_step + ch]) * w[i];
        out.pixels[(size_t(y) * out_w + x) * 3 + size_t(ch)] = round_to_8_bits(sum);
      }
    }
  return out;
}

}  // namespace

RgbImage resize_bilinear(const RgbImage& image, int32_t width, int32_t height) {
  if (width <= 0 || height <= 0) fail("cannot resize an image to ", width, "x", height);
  const RgbImage wide = width != image.width ? resample_axis(image, width, image.height, true) : image;
  return height != image.height ? resample_axis(wide, width, height, false) : wide;
}

RgbImage resize_and_center_crop(const RgbImage& image, int32_t size) {
  if (image.width == size && image.height == size) return image;
  const int32_t shorter = std::min(image.width, image.height), longer = std::max(image.width, image.height);
  const int64_t scaled_long = int64_t(size) * longer / shorter;
  if (scaled_long * size > kMaxImagePixels)
    fail("a ", image.width, "x", image.height, " image scaled to a shorter side of ", size, " is too large");
  const bool portrait = image.width <= image.height;
  const RgbImage scaled = resize_bilinear(image, portrait ? size : int32_t(scaled_long), portrait ? int32_t(scaled_long) : size);
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
