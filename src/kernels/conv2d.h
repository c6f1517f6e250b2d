#pragma once
// 2-D convolution of one image (seed 007: the convolution layer), channels last.
//
// Layouts: the input is in_h rows of in_w pixels of in_channels floats (HWC), the output
// out_h x out_w x out_channels (HWC), the weights one row per output channel holding
// kernel_h x kernel_w x (in_channels / groups) floats (OHWI). Channels last makes a convolution
// a matrix product: a 1x1 convolution is the matmul kernel applied to the pixels as tokens, and
// a larger one is the same after gathering each output pixel's receptive field into one row
// (im2col), in the order of a weight row. PyTorch's OIHW weights are reordered once at load
// (conv_weights_from_oihw).
//
//   out[oy][ox][o] = bias[o] + sum_{ky,kx,i} w[o][ky][kx][i] *
//                    in[oy*stride_h - pad_h + ky*dilation_h][ox*stride_w - pad_w + kx*dilation_w][g*icg + i]
// with g = o / (out_channels / groups), icg = in_channels / groups, and pixels outside the
// image read as zero. groups == in_channels == out_channels is the depthwise convolution of
// MobileNet's depthwise-separable blocks.
#include <cstdint>
#include <vector>

#include "runtime/thread_pool.h"

namespace lumen {

struct Conv2dShape {
  int32_t in_h = 0, in_w = 0, in_channels = 0, out_channels = 0;
  int32_t kernel_h = 1, kernel_w = 1;
  int32_t stride_h = 1, stride_w = 1;
  int32_t pad_h = 0, pad_w = 0;
  int32_t dilation_h = 1, dilation_w = 1;
  int32_t groups = 1;

  int32_t out_h() const { return (in_h + 2 * pad_h - dilation_h * (kernel_h - 1) - 1) / stride_h + 1; }
  int32_t out_w() const { return (in_w + 2 * pad_w - dilation_w * (kernel_w - 1) - 1) / stride_w + 1; }
  int32_t in_per_group() const { return in_channels / groups; }
  int32_t out_per_group() const { return out_channels / groups; }
  int64_t weight_row() const { return int64_t(kernel_h) * kernel_w * in_per_group(); }  // floats per output channel
  bool depthwise() const { return groups > 1 && groups == in_channels && groups == out_channels; }
};

// Fails with a one-line message unless every size is positive, the channels divide into the
// groups, and the kernel fits the padded image (an output of at least one pixel).
void validate(const Conv2dShape& s);

// The fast path: depthwise convolutions run their own loop over contiguous channels; the rest
// are matrix products on the matmul kernels (kernels/matmul.h), straight on the input for an
// unpadded stride-1 1x1 convolution, on im2col rows otherwise (kept in `scratch`, which grows as
// needed). Threads split the output rows (depthwise, im2col) and the output channels (matmul).
// bias may be null. The result differs from conv2d_reference only in summation order.
void conv2d(const Conv2dShape& s, const float* input, const float* weights, const float* bias, float* output,
            std::vector<float>& scratch, ThreadPool& pool);

// Scalar reference twin: the formula above, one output at a time, summing in weight-row order.
void conv2d_reference(const Conv2dShape& s, const float* input, const float* weights, const float* bias,
                      float* output);

// PyTorch's weight layout [out][in/groups][kh][kw] reordered to lumen's [out][kh][kw][in/groups].
std::vector<float> conv_weights_from_oihw(const float* oihw, int32_t out_channels, int32_t in_per_group,
                                          int32_t kernel_h, int32_t kernel_w);

}  // namespace lumen
