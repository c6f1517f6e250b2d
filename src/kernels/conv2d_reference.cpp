// The scalar reference twin of conv2d and the shape checks both paths share.
#include "kernels/conv2d.h"

#include "util/error.h"

namespace lumen {

void validate(const Conv2dShape& s) {
  auto positive = [](const char* name, int64_t v) {
    if (v <= 0 || v > (1 << 24)) fail("convolution ", name, " = ", v, " is out of range (1..", 1 << 24, ")");
  };
  positive("input height", s.in_h);
  positive("input width", s.in_w);
  positive("input channels", s.in_channels);
  positive("output channels", s.out_channels);
  positive("kernel height", s.kernel_h);
  positive("kernel width", s.kernel_w);
  positive("stride", s.stride_h);
  positive("stride", s.stride_w);
  positive("dilation", s.dilation_h);
  positive("dilation", s.dilation_w);
  positive("groups", s.groups);
  if (s.pad_h < 0 || s.pad_w < 0 || s.pad_h > (1 << 24) || s.pad_w > (1 << 24))
    fail("convolution padding ", s.pad_h, "x", s.pad_w, " is out of range (0..", 1 << 24, ")");
  if (s.in_channels % s.groups || s.out_channels % s.groups)
    fail("convolution channels ", s.in_channels, " -> ", s.out_channels, " do not divide into ", s.groups, " groups");
  auto fits = [](int64_t in, int64_t pad, int64_t kernel, int64_t dilation) { return in + 2 * pad >= dilation * (kernel - 1) + 1; };
  if (!fits(s.in_h, s.pad_h, s.kernel_h, s.dilation_h) || !fits(s.in_w, s.pad_w, s.kernel_w, s.dilation_w))
    fail("a ", s.kernel_h, "x", s.kernel_w, " convolution does not fit a ", s.in_h, "x", s.in_w, " input padded by ",
         s.pad_h, "x", s.pad_w);
}

void conv2d_reference(const Conv2dShape& s, const float* input, const float* weights, const float* bias,
                      float* output) {
  validate(s);
  const int32_t icg = s.in_per_group(), ocg = s.out_per_group();
  for (int32_t oy = 0; oy < s.out_h(); ++oy)
    for (int32_t ox = 0; ox < s.out_w(); ++ox)
      for (int32_t o = 0; o < s.out_channels; ++o) {
        const int32_t g = o / ocg;
        const float* w = weights + o * s.weight_row();
        float sum = 0.0f;
        for (int32_t ky = 0; ky < s.kernel_h; ++ky)
          for (int32_t kx = 0; kx < s.kernel_w; ++kx)
            for (int32_t i = 0; i < icg; ++i) {
              const int32_t y = oy * s.stride_h - s.pad_h + ky * s.dilation_h;
              const int32_t x = ox * s.stride_w - s.pad_w + kx * s.dilation_w;
              const float w_i = w[(ky * s.kernel_w + kx) * icg + i];
              if (y >= 0 && y < s.in_h && x >= 0 && x < s.in_w)
                sum += w_i * input[(int64_t(y) * s.in_w + x) * s.in_channels + g * icg + i];
            }
        output[(int64_t(oy) * s.out_w() + ox) * s.out_channels + o] = sum + (bias ? bias[o] : 0.0f);
      }
}

std::vector<float> conv_weights_from_oihw(const float* oihw, int32_t out_channels, int32_t in_per_group,
                                          int32_t kernel_h, int32_t kernel_w) {
  std::vector<float> ohwi(size_t(out_channels) * in_per_group * kernel_h * kernel_w);
  for (int32_t o = 0; o < out_channels; ++o)
    for (int32_t i = 0; i < in_per_group; ++i)
      for (int32_t ky = 0; ky < kernel_h; ++ky)
        for (int32_t kx = 0; kx < kernel_w; ++kx)
          ohwi[((size_t(o) * kernel_h + ky) * kernel_w + kx) * in_per_group + i] =
              oihw[((size_t(o) * in_per_group + i) * kernel_h + ky) * kernel_w + kx];
  return ohwi;
}

}  // namespace lumen
