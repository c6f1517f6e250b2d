#pragma once
// Pooling over the pixels of one channels-last image (in_h x in_w x channels, kernels/conv2d.h),
// with PyTorch's conventions so that models keep their output sizes:
//  * out = floor((in + 2 pad - kernel) / stride) + 1, or with ceil_mode the ceiling, less one
//    when the last window would start inside the right padding (GoogLeNet's max pools);
//  * max pooling ignores the padding (it reads as -infinity);
//  * average pooling counts the padding inside the image's padded border as zeros
//    (count_include_pad), but not a ceil_mode window's overhang past it;
//  * adaptive average pooling gives window i the pixels [floor(i in / out), ceil((i+1) in / out)).
// Pooling costs a few operations per input value, next to the hundreds of a convolution, so it
// has one plain implementation; its inner loops run over contiguous channels and vectorize.
#include <cstdint>

namespace lumen {

struct Pool2dShape {
  int32_t in_h = 0, in_w = 0, channels = 0;
  int32_t kernel_h = 1, kernel_w = 1;
  int32_t stride_h = 1, stride_w = 1;
  int32_t pad_h = 0, pad_w = 0;
  bool ceil_mode = false;

  int32_t out_h() const;
  int32_t out_w() const;
};

// Fails with a one-line message unless the sizes are positive, the padding is at most half the
// kernel (PyTorch's rule: no window lies wholly in the padding) and the output has a pixel.
void validate(const Pool2dShape& s);

void max_pool2d(const Pool2dShape& s, const float* input, float* output);
void avg_pool2d(const Pool2dShape& s, const float* input, float* output);

// Averages in_h x in_w x channels down to out_h x out_w x channels (1x1: global average pooling).
void adaptive_avg_pool2d(int32_t in_h, int32_t in_w, int32_t channels, int32_t out_h, int32_t out_w,
                         const float* input, float* output);

}  // namespace lumen
