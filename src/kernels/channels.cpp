#include "kernels/channels.h"

#include <cstring>

namespace lumen {

void concat_channels(std::span<const ChannelPart> parts, int64_t pixels, float* out) {
  int64_t total = 0;
  for (const ChannelPart& part : parts) total += part.channels;
  int64_t offset = 0;
  for (const ChannelPart& part : parts) {
    for (int64_t p = 0; p < pixels; ++p)
      std::memcpy(out + p * total + offset, part.data + p * part.channels, size_t(part.channels) * sizeof(float));
    offset += part.channels;
  }
}

}  // namespace lumen
