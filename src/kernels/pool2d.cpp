#include "kernels/pool2d.h"

#include <algorithm>
#include <limits>

#include "util/error.h"

namespace lumen {
namespace {

int32_t pooled_size(int32_t in, int32_t kernel, int32_t stride, int32_t pad, bool ceil_mode) {
  int32_t out = (in + 2 * pad - kernel + (ceil_mode ? stride - 1 : 0)) / stride + 1;
  if (ceil_mode && int64_t(out - 1) * stride >= in + pad) --out;  // the last window starts in the padding
  return out;
}

// The window of output index o along one axis, in padded and in image coordinates.
struct Window {
  int32_t begin, end;              // clipped to the image
  int32_t padded_begin, padded_end;  // clipped to the padded border only
};
Window window(int32_t o, int32_t in, int32_t kernel, int32_t stride, int32_t pad) {
  const int32_t begin = o * stride - pad, end = std::min(begin + kernel, in + pad);
  return {std::max(begin, 0), std::min(end, in), begin, end};
}

}  // namespace

int32_t Pool2dShape::out_h() const { return pooled_size(in_h, kernel_h, stride_h, pad_h, ceil_mode); }
int32_t Pool2dShape::out_w() const { return pooled_size(in_w, kernel_w, stride_w, pad_w, ceil_mode); }

void validate(const Pool2dShape& s) {
  auto in_range = [](const char* name, int64_t v, int64_t low) {
    if (v < low || v > (1 << 24)) fail("pooling ", name, " = ", v, " is out of range (", low, "..", 1 << 24, ")");
  };
  in_range("input height", s.in_h, 1);
  in_range("input width", s.in_w, 1);
  in_range("channels", s.channels, 1);
  in_range("kernel height", s.kernel_h, 1);
  in_range("kernel width", s.kernel_w, 1);
  in_range("stride", s.stride_h, 1);
  in_range("stride", s.stride_w, 1);
  in_range("padding", s.pad_h, 0);
  in_range("padding", s.pad_w, 0);
  if (2 * s.pad_h > s.kernel_h || 2 * s.pad_w > s.kernel_w)
    fail("pooling padding ", s.pad_h, "x", s.pad_w, " is more than half the ", s.kernel_h, "x", s.kernel_w, " kernel");
  if (s.in_h + 2 * s.pad_h < s.kernel_h || s.in_w + 2 * s.pad_w < s.kernel_w)
    fail("a ", s.kernel_h, "x", s.kernel_w, " pooling window does not fit a ", s.in_h, "x", s.in_w, " input");
}

namespace {

// Every output pixel of s from its window: out starts at `start`, takes combine(out, in) for each
// input value inside the image, then finish(out, window rows, window columns).
template <class Combine, class Finish>
void pool_windows(const Pool2dShape& s, const float* input, float* output, float start, Combine combine,
                  Finish finish) {
  validate(s);
  const int32_t c = s.channels, out_w = s.out_w();
  for (int32_t oy = 0; oy < s.out_h(); ++oy) {
    const Window wy = window(oy, s.in_h, s.kernel_h, s.stride_h, s.pad_h);
    for (int32_t ox = 0; ox < out_w; ++ox) {
      const Window wx = window(ox, s.in_w, s.kernel_w, s.stride_w, s.pad_w);
      float* out = output + (int64_t(oy) * out_w + ox) * c;
      std::fill_n(out, c, start);
      for (int32_t y = wy.begin; y < wy.end; ++y)
        for (int32_t x = wx.begin; x < wx.end; ++x) {
          const float* in = input + (int64_t(y) * s.in_w + x) * c;
          for (int32_t ch = 0; ch < c; ++ch) out[ch] = combine(out[ch], in[ch]);
        }
      finish(out, wy, wx);
    }
  }
}

}  // namespace

void max_pool2d(const Pool2dShape& s, const float* input, float* output) {
  pool_windows(
      s, input, output, -std::numeric_limits<float>::infinity(), [](float a, float b) { return std::max(a, b); },
      [](float*, const Window&, const Window&) {});
}

// The divisor counts the window's padding too (PyTorch's count_include_pad), not what lies
// beyond it in ceil mode.
void avg_pool2d(const Pool2dShape& s, const float* input, float* output) {
  pool_windows(
      s, input, output, 0.0f, [](float a, float b) { return a + b; },
      [&](float* out, const Window& wy, const Window& wx) {
        const float count = float((wy.padded_end - wy.padded_begin) * (wx.padded_end - wx.padded_begin));
        for (int32_t ch = 0; ch < s.channels; ++ch) out[ch] /= count;
      });
}

void adaptive_avg_pool2d(int32_t in_h, int32_t in_w, int32_t channels, int32_t out_h, int32_t out_w,
                         const float* input, float* output) {
  if (in_h <= 0 || in_w <= 0 || channels <= 0 || out_h <= 0 || out_w <= 0)
    fail("adaptive average pooling of ", in_h, "x", in_w, "x", channels, " to ", out_h, "x", out_w, " is empty");
  auto first = [](int64_t o, int64_t in, int64_t out) { return int32_t(o * in / out); };
  auto last = [](int64_t o, int64_t in, int64_t out) { return int32_t(((o + 1) * in + out - 1) / out); };
  for (int32_t oy = 0; oy < out_h; ++oy) {
    const int32_t y0 = first(oy, in_h, out_h), y1 = last(oy, in_h, out_h);
    for (int32_t ox = 0; ox < out_w; ++ox) {
      const int32_t x0 = first(ox, in_w, out_w), x1 = last(ox, in_w, out_w);
      float* out = output + (int64_t(oy) * out_w + ox) * channels;
      std::fill_n(out, channels, 0.0f);
      for (int32_t y = y0; y < y1; ++y)
        for (int32_t x = x0; x < x1; ++x) {
          const float* in = input + (int64_t(y) * in_w + x) * channels;
          for (int32_t ch = 0; ch < channels; ++ch) out[ch] += in[ch];
        }
      const float count = float((y1 - y0) * (x1 - x0));
      for (int32_t ch = 0; ch < channels; ++ch) out[ch] /= count;
    }
  }
}

}  // namespace lumen
