#pragma once
// Concatenation along channels of channels-last images (kernels/conv2d.h): the inception block
// joins its branches this way. In HWC every pixel's channels are contiguous, so the parts are
// interleaved pixel by pixel.
#include <cstdint>
#include <span>

namespace lumen {

struct ChannelPart {
  const float* data;  // pixels x channels floats
  int32_t channels;
};

// out (pixels x sum of the parts' channels) = the parts side by side, in order.
void concat_channels(std::span<const ChannelPart> parts, int64_t pixels, float* out);

}  // namespace lumen
