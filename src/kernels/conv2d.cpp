// The fast path of conv2d (kernels/conv2d.h): a depthwise loop, or im2col + the matmul kernels.
#include <algorithm>
#include <climits>
#include <cstring>

#include "kernels/conv2d.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "util/error.h"

namespace lumen {
namespace {

// Each channel convolved with its own kernel. The weights are transposed to [ky][kx][channel]
// so that the inner loop runs over contiguous channels of input, weights and output alike (the
// compiler vectorizes it); threads take whole output rows.
void depthwise(const Conv2dShape& s, const float* input, const float* weights, const float* bias, float* output,
               std::vector<float>& scratch, ThreadPool& pool) {
  const int32_t channels = s.in_channels, taps = s.kernel_h * s.kernel_w;
  scratch.resize(size_t(taps) * channels);
  float* by_tap = scratch.data();
  for (int32_t c = 0; c < channels; ++c)
    for (int32_t t = 0; t < taps; ++t) by_tap[size_t(t) * channels + c] = weights[size_t(c) * taps + t];
  const int32_t out_w = s.out_w();
  pool.run([&](int i, int nth) {
    const auto [begin, end] = split_range(s.out_h(), i, nth);
    for (int64_t oy = begin; oy < end; ++oy)
      for (int32_t ox = 0; ox < out_w; ++ox) {
        float* __restrict out = output + (oy * out_w + ox) * channels;
        for (int32_t c = 0; c < channels; ++c) out[c] = bias ? bias[c] : 0.0f;
        for (int32_t ky = 0; ky < s.kernel_h; ++ky) {
          const int64_t y = oy * s.stride_h - s.pad_h + int64_t(ky) * s.dilation_h;
          if (y < 0 || y >= s.in_h) continue;
          for (int32_t kx = 0; kx < s.kernel_w; ++kx) {
            const int64_t x = int64_t(ox) * s.stride_w - s.pad_w + int64_t(kx) * s.dilation_w;
            if (x < 0 || x >= s.in_w) continue;
            const float* __restrict in = input + (y * s.in_w + x) * channels;
            const float* __restrict w = by_tap + size_t(ky * s.kernel_w + kx) * channels;
            for (int32_t c = 0; c < channels; ++c) out[c] += w[c] * in[c];
          }
        }
      }
  });
}

// Row p of `rows` becomes output pixel p's receptive field in group g's input channels, in the
// order of a weight row (ky, kx, channel); taps in the padding are zeros.
void im2col(const Conv2dShape& s, const float* input, int32_t g, float* rows, ThreadPool& pool) {
  const int32_t icg = s.in_per_group(), out_w = s.out_w();
  const int64_t row_floats = s.weight_row(), pixels = int64_t(s.out_h()) * out_w;
  pool.run([&](int i, int nth) {
    const auto [begin, end] = split_range(pixels, i, nth);
    for (int64_t p = begin; p < end; ++p) {
      const int64_t oy = p / out_w, ox = p % out_w;
      float* row = rows + p * row_floats;
      for (int32_t ky = 0; ky < s.kernel_h; ++ky) {
        const int64_t y = oy * s.stride_h - s.pad_h + int64_t(ky) * s.dilation_h;
        for (int32_t kx = 0; kx < s.kernel_w; ++kx) {
          const int64_t x = ox * s.stride_w - s.pad_w + int64_t(kx) * s.dilation_w;
          float* dst = row + int64_t(ky * s.kernel_w + kx) * icg;
          if (y < 0 || y >= s.in_h || x < 0 || x >= s.in_w) std::fill_n(dst, icg, 0.0f);
          else std::memcpy(dst, input + (y * s.in_w + x) * s.in_channels + int64_t(g) * icg, size_t(icg) * sizeof(float));
        }
      }
    }
  });
}

}  // namespace

void conv2d(const Conv2dShape& s, const float* input, const float* weights, const float* bias, float* output,
            std::vector<float>& scratch, ThreadPool& pool) {
  validate(s);
  if (s.depthwise()) return depthwise(s, input, weights, bias, output, scratch, pool);
  const int64_t pixels = int64_t(s.out_h()) * s.out_w(), row_floats = s.weight_row();
  if (pixels > INT_MAX) fail("a convolution output of ", s.out_h(), "x", s.out_w(), " pixels is too large");
  const int32_t ocg = s.out_per_group();
  // An unpadded stride-1 1x1 convolution without groups reads its input rows as they are.
  const bool direct = s.groups == 1 && s.kernel_h == 1 && s.kernel_w == 1 && s.stride_h == 1 && s.stride_w == 1 &&
                      s.pad_h == 0 && s.pad_w == 0;
  // Scratch: the im2col rows, then (grouped only) one group's outputs before they are
  // interleaved into the output's channels.
  const size_t rows_floats = direct ? 0 : size_t(pixels * row_floats);
  const size_t group_out_floats = s.groups > 1 ? size_t(pixels) * ocg : 0;
  scratch.resize(std::max<size_t>(scratch.size(), rows_floats + group_out_floats));
  for (int32_t g = 0; g < s.groups; ++g) {
    const float* x = input;
    if (!direct) {
      im2col(s, input, g, scratch.data(), pool);
      x = scratch.data();
    }
    Tensor w;
    w.name = "convolution weights";
    w.shape = {row_floats, ocg};
    w.data = weights + int64_t(g) * ocg * row_floats;
    float* y = s.groups == 1 ? output : scratch.data() + rows_floats;
    matmul(w, x, y, int(pixels), pool);
    if (s.groups > 1)
      for (int64_t p = 0; p < pixels; ++p)
        std::memcpy(output + p * s.out_channels + int64_t(g) * ocg, y + p * ocg, size_t(ocg) * sizeof(float));
  }
  if (bias) add_bias(output, bias, pixels, s.out_channels);
}

}  // namespace lumen
