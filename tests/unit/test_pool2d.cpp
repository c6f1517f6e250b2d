// Pooling and channel concatenation on hand-computed cases that pin PyTorch's conventions down:
// ceil_mode output sizes (GoogLeNet's pools), padding ignored by max and counted by average
// pooling, adaptive pooling's overlapping windows. (The models' oracle tests hold them to
// torchvision as well.)
#include <gtest/gtest.h>

#include <vector>

#include "kernels/channels.h"
#include "kernels/pool2d.h"
#include "model_file_helpers.h"

namespace lumen {
namespace {

Pool2dShape pool(int32_t h, int32_t w, int32_t c, int32_t k, int32_t stride, int32_t pad, bool ceil_mode = false) {
  Pool2dShape s;
  s.in_h = h;
  s.in_w = w;
  s.channels = c;
  s.kernel_h = s.kernel_w = k;
  s.stride_h = s.stride_w = stride;
  s.pad_h = s.pad_w = pad;
  s.ceil_mode = ceil_mode;
  return s;
}

TEST(Pool2d, OutputSizesFollowPyTorch) {
  EXPECT_EQ(pool(112, 112, 1, 3, 2, 1).out_h(), 56);        // ResNet's max pool
  EXPECT_EQ(pool(112, 112, 1, 3, 2, 0, true).out_h(), 56);  // GoogLeNet's maxpool1: ceil((112-3)/2)+1
  EXPECT_EQ(pool(14, 14, 1, 2, 2, 0, true).out_h(), 7);
  EXPECT_EQ(pool(8, 8, 1, 3, 2, 0, false).out_h(), 3);
  EXPECT_EQ(pool(8, 8, 1, 3, 2, 0, true).out_h(), 4);       // the ceil window overhangs the image
  // ceil would add a window starting at 6 = in + pad: inside the padding, so it is dropped.
  EXPECT_EQ(pool(5, 5, 1, 2, 2, 1, true).out_h(), 3);
  EXPECT_EQ(pool(5, 5, 1, 2, 2, 1, false).out_h(), 3);
}

// One channel, 4x4: value 4y + x; a second channel holds the negation.
std::vector<float> ramp() {
  std::vector<float> v;
  for (int i = 0; i < 16; ++i) {
    v.push_back(float(i));
    v.push_back(-float(i));
  }
  return v;
}

TEST(Pool2d, MaxIgnoresPaddingAndCeilOverhang) {
  const std::vector<float> x = ramp();
  std::vector<float> out(2 * 2 * 2);
  max_pool2d(pool(4, 4, 2, 3, 2, 1), x.data(), out.data());  // windows rows/cols {-1..1}, {1..3}
  EXPECT_EQ(out, (std::vector<float>{5, 0, 7, -1, 13, -4, 15, -5}));
  std::vector<float> ceil_out(2 * 2 * 2);
  max_pool2d(pool(4, 4, 2, 3, 2, 0, true), x.data(), ceil_out.data());  // second window overhangs to row/col 4
  EXPECT_EQ(ceil_out, (std::vector<float>{10, 0, 11, -2, 14, -8, 15, -10}));
}

TEST(Pool2d, AverageCountsPaddingButNotCeilOverhang) {
  const std::vector<float> x = ramp();
  std::vector<float> out(2 * 2);
  std::vector<float> one(16);
  for (int i = 0; i < 16; ++i) one[size_t(i)] = x[size_t(2 * i)];
  avg_pool2d(pool(4, 4, 1, 3, 2, 1), one.data(), out.data());
  // Window (0, 0): pixels 0, 1, 4, 5 of 9 places (padding counts): 10 / 9.
  EXPECT_FLOAT_EQ(out[0], 10.0f / 9.0f);
  // Window (1, 1): rows/cols 1..3: mean of 5, 6, 7, 9, 10, 11, 13, 14, 15.
  EXPECT_FLOAT_EQ(out[3], 10.0f);
  std::vector<float> ceil_out(2 * 2);
  avg_pool2d(pool(4, 4, 1, 3, 2, 0, true), one.data(), ceil_out.data());
  // Window (1, 1) overhangs past the (unpadded) border: only the 2x2 pixels inside count.
  EXPECT_FLOAT_EQ(ceil_out[3], (10.0f + 11.0f + 14.0f + 15.0f) / 4.0f);
}

TEST(Pool2d, AdaptiveAverageWindowsOverlap) {
  // 1 x 5, one channel -> 1 x 3: windows [0, 2), [1, 4), [3, 5).
  const std::vector<float> x = {1, 2, 3, 4, 5};
  std::vector<float> out(3);
  adaptive_avg_pool2d(1, 5, 1, 1, 3, x.data(), out.data());
  EXPECT_EQ(out, (std::vector<float>{1.5f, 3.0f, 4.5f}));
  const std::vector<float> r = ramp();
  std::vector<float> global(2);
  adaptive_avg_pool2d(4, 4, 2, 1, 1, r.data(), global.data());
  EXPECT_EQ(global, (std::vector<float>{7.5f, -7.5f}));
}

TEST(Pool2d, BadShapesAreOneLineErrors) {
  using test::error_of;
  float x = 0;
  EXPECT_NE(error_of([&] { max_pool2d(pool(4, 4, 1, 3, 1, 2), &x, &x); }).find("more than half"), std::string::npos);
  EXPECT_NE(error_of([&] { max_pool2d(pool(2, 2, 1, 5, 1, 1), &x, &x); }).find("does not fit"), std::string::npos);
  EXPECT_NE(error_of([&] { avg_pool2d(pool(4, 4, 0, 2, 2, 0), &x, &x); }).find("channels"), std::string::npos);
  EXPECT_NE(error_of([&] { adaptive_avg_pool2d(4, 4, 1, 0, 1, &x, &x); }).find("empty"), std::string::npos);
}

TEST(Channels, ConcatInterleavesPixels) {
  const std::vector<float> a = {1, 2, 3, 4}, b = {10, 20, 30, 40, 50, 60};  // 2 pixels: 2 and 3 channels
  std::vector<float> out(10);
  const ChannelPart parts[] = {{a.data(), 2}, {b.data(), 3}};
  concat_channels(parts, 2, out.data());
  EXPECT_EQ(out, (std::vector<float>{1, 2, 10, 20, 30, 3, 4, 40, 50, 60}));
}

}  // namespace
}  // namespace lumen
