// conv2d's fast path (depthwise loop; im2col or direct rows into the matmul kernels) against its
// scalar twin on odd shapes — strides, padding, dilation, groups, depthwise, 1x1/3x3/7x7 and
// non-square kernels, images that are not whole tiles — on every SIMD path and 1-3 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/cpu_features.h"
#include "kernel_path_test.h"
#include "model_file_helpers.h"
#include "runtime/thread_pool.h"

namespace lumen {
namespace {

std::vector<float> random_vector(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& f : v) f = u(rng);
  return v;
}

Conv2dShape shape(int32_t h, int32_t w, int32_t in, int32_t out, int32_t kh, int32_t kw, int32_t stride, int32_t pad,
                  int32_t groups = 1, int32_t dilation = 1) {
  Conv2dShape s;
  s.in_h = h;
  s.in_w = w;
  s.in_channels = in;
  s.out_channels = out;
  s.kernel_h = kh;
  s.kernel_w = kw;
  s.stride_h = s.stride_w = stride;
  s.pad_h = s.pad_w = pad;
  s.groups = groups;
  s.dilation_h = s.dilation_w = dilation;
  return s;
}

// Each output is a sum of at most 7 * 7 * 19 = 931 products of values in [-1, 1]; float32
// summation in any order stays within ~931 * 2^-24 * sum|terms| < 6e-5 * (terms + 1), so 1e-4
// per term bounds every order, and a wrong tap or channel (an error of about one term) fails.
float tolerance(const Conv2dShape& s) { return 1e-4f * float(s.weight_row() + 1); }

using Conv2dPath = KernelPathTest;

TEST_P(Conv2dPath, MatchesReferenceOnOddShapes) {
  const Conv2dShape shapes[] = {
      shape(9, 7, 3, 5, 3, 3, 1, 1),          // 3x3 same padding
      shape(13, 11, 3, 17, 7, 7, 2, 3),       // ResNet's stem, shrunk
      shape(8, 9, 19, 6, 1, 1, 1, 0),         // 1x1: the input rows go straight to the matmul
      shape(9, 8, 6, 10, 1, 1, 2, 0),         // 1x1 stride 2 (a ResNet shortcut)
      shape(10, 10, 6, 9, 3, 3, 2, 1, 3),     // grouped
      shape(11, 9, 13, 13, 3, 3, 1, 1, 13),   // depthwise
      shape(12, 7, 10, 10, 3, 3, 2, 1, 10),   // depthwise stride 2
      shape(9, 9, 7, 7, 5, 5, 1, 2, 7),       // depthwise 5x5
      shape(8, 8, 4, 8, 3, 3, 1, 1, 4),       // depthwise with two outputs per channel (grouped path)
      shape(12, 11, 5, 4, 3, 3, 1, 2, 1, 2),  // dilated
      shape(6, 10, 3, 7, 2, 5, 3, 0),         // non-square kernel, stride 3
      shape(5, 5, 4, 6, 5, 5, 1, 0),          // kernel as large as the image: one pixel out
  };
  std::mt19937 rng(7);
  ThreadPool pools[] = {ThreadPool(1), ThreadPool(2), ThreadPool(3)};
  for (const Conv2dShape& s : shapes) {
    const std::vector<float> input = random_vector(size_t(s.in_h) * s.in_w * s.in_channels, rng);
    const std::vector<float> weights = random_vector(size_t(s.out_channels) * s.weight_row(), rng);
    const std::vector<float> bias = random_vector(size_t(s.out_channels), rng);
    const size_t out_size = size_t(s.out_h()) * s.out_w() * s.out_channels;
    std::vector<float> want(out_size);
    conv2d_reference(s, input.data(), weights.data(), bias.data(), want.data());
    std::vector<float> first;
    for (ThreadPool& pool : pools) {
      SCOPED_TRACE(testing::Message() << s.in_h << "x" << s.in_w << "x" << s.in_channels << " -> " << s.out_channels
                                      << " kernel " << s.kernel_h << "x" << s.kernel_w << " stride " << s.stride_h
                                      << " groups " << s.groups << " threads " << pool.size());
      std::vector<float> got(out_size, NAN), scratch;
      conv2d(s, input.data(), weights.data(), bias.data(), got.data(), scratch, pool);
      for (size_t i = 0; i < out_size; ++i) ASSERT_NEAR(got[i], want[i], tolerance(s)) << "output " << i;
      if (first.empty()) first = got;
      ASSERT_EQ(got, first) << "the thread count changed a result";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllPaths, Conv2dPath, ::testing::Values(Isa::Scalar, Isa::Avx2, Isa::Avx512),
                         [](const auto& info) { return std::string(isa_name(info.param)); });

TEST(Conv2d, WithoutBias) {
  const Conv2dShape s = shape(5, 6, 3, 4, 3, 3, 1, 1);
  std::mt19937 rng(3);
  const std::vector<float> input = random_vector(5 * 6 * 3, rng), weights = random_vector(4 * 27, rng);
  std::vector<float> want(5 * 6 * 4), got(want.size()), scratch;
  ThreadPool pool(2);
  conv2d_reference(s, input.data(), weights.data(), nullptr, want.data());
  conv2d(s, input.data(), weights.data(), nullptr, got.data(), scratch, pool);
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], tolerance(s));
}

// A 1x1 identity kernel and a hand-computed 3x3 sum pin the layouts down (HWC, OHWI).
TEST(Conv2d, HandComputedValues) {
  // 2x2 image, 2 channels: pixel (y, x) holds (10y + x, -(10y + x)).
  const std::vector<float> input = {0, -0, 1, -1, 10, -10, 11, -11};
  std::vector<float> out(2 * 2), scratch;
  ThreadPool pool(1);
  // Output channel 0 sums channel 0 over the 3x3 neighbourhood (zero padding); weights OHWI.
  std::vector<float> weights(9 * 2, 0.0f);
  for (int t = 0; t < 9; ++t) weights[size_t(t) * 2] = 1.0f;
  conv2d(shape(2, 2, 2, 1, 3, 3, 1, 1), input.data(), weights.data(), nullptr, out.data(), scratch, pool);
  EXPECT_EQ(out, (std::vector<float>{22, 22, 22, 22}));
  // PyTorch's [out][in][kh][kw] reordered: out 0 = in 1 (tap 1,0), out 1 = in 0 (tap 0,1).
  std::vector<float> oihw(2 * 2 * 2 * 2, 0.0f);
  oihw[((0 * 2 + 1) * 2 + 1) * 2 + 0] = 1.0f;
  oihw[((1 * 2 + 0) * 2 + 0) * 2 + 1] = 1.0f;
  const std::vector<float> ohwi = conv_weights_from_oihw(oihw.data(), 2, 2, 2, 2);
  EXPECT_EQ(ohwi[((0 * 2 + 1) * 2 + 0) * 2 + 1], 1.0f);
  EXPECT_EQ(ohwi[((1 * 2 + 0) * 2 + 1) * 2 + 0], 1.0f);
  std::vector<float> out2(3 * 3 * 2);
  conv2d(shape(2, 2, 2, 2, 2, 2, 1, 1), input.data(), ohwi.data(), nullptr, out2.data(), scratch, pool);
  // Output pixel (1, 1): channel 0 reads pixel (1, 0)'s channel 1, channel 1 pixel (0, 1)'s channel 0.
  EXPECT_EQ(out2[(1 * 3 + 1) * 2 + 0], -10.0f);
  EXPECT_EQ(out2[(1 * 3 + 1) * 2 + 1], 1.0f);
}

TEST(Conv2d, BadShapesAreOneLineErrors) {
  using test::error_of;
  float x = 0;
  EXPECT_NE(error_of([&] { conv2d_reference(shape(4, 4, 6, 4, 3, 3, 1, 1, 4), &x, &x, nullptr, &x); }).find("groups"),
            std::string::npos);
  EXPECT_NE(error_of([&] { conv2d_reference(shape(2, 2, 1, 1, 5, 5, 1, 1), &x, &x, nullptr, &x); }).find("does not fit"),
            std::string::npos);
  EXPECT_NE(error_of([&] { conv2d_reference(shape(4, 4, 1, 1, 3, 3, 0, 1), &x, &x, nullptr, &x); }).find("stride"),
            std::string::npos);
}

}  // namespace
}  // namespace lumen
