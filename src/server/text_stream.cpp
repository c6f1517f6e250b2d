#include "server/text_stream.h"

#include <algorithm>

namespace lumen::server {

size_t incomplete_utf8_tail(std::string_view text) {
  // A character is at most 4 bytes: its lead byte is among the last 4.
  const size_t look = std::min<size_t>(text.size(), 4);
  for (size_t back = 1; back <= look; ++back) {
    const auto byte = uint8_t(text[text.size() - back]);
    if ((byte & 0xC0) == 0x80) continue;  // continuation byte
    const size_t needed = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1;
    return needed > back ? back : 0;
  }
  return 0;  // only continuation bytes: invalid text, nothing to wait for
}

TextStream::TextStream(std::vector<std::string> stops) : stops_(std::move(stops)) {
  std::erase(stops_, std::string());
}

std::string TextStream::push(std::string_view piece) {
  if (stopped_) return {};
  held_ += piece;
  // held_ is only ever the unsent tail (shorter than the longest stop string plus a character),
  // so searching all of it each time is cheap.
  size_t first_stop = std::string::npos;
  for (const std::string& stop : stops_) first_stop = std::min(first_stop, held_.find(stop));
  if (first_stop != std::string::npos) {
    stopped_ = true;
    std::string out = held_.substr(0, first_stop);
    held_.clear();
    return out;
  }
  size_t keep = 0;  // the longest tail that a stop string starts with
  for (const std::string& stop : stops_) {
    for (size_t n = std::min(held_.size(), stop.size() - 1); n > keep; --n) {
      if (std::string_view(held_).substr(held_.size() - n) == std::string_view(stop).substr(0, n)) {
        keep = n;
        break;
      }
    }
  }
  size_t cut = held_.size() - keep;
  cut -= incomplete_utf8_tail(std::string_view(held_).substr(0, cut));
  std::string out = held_.substr(0, cut);
  held_.erase(0, cut);
  return out;
}

std::string TextStream::flush() {
  std::string out = stopped_ ? std::string() : std::move(held_);
  held_.clear();
  return out;
}

}  // namespace lumen::server
