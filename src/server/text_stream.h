#pragma once
// Turns a request's decoded pieces into the text a client may be sent so far. Two things hold
// text back: a UTF-8 character split over byte tokens (a client must never see half of one), and
// a tail that may be the start of a stop string (once the stop completes, none of it may have
// been sent).
#include <string>
#include <string_view>
#include <vector>

namespace lumen::server {

// How many bytes at the end of `text` are the start of a UTF-8 character still missing bytes.
size_t incomplete_utf8_tail(std::string_view text);

class TextStream {
 public:
  explicit TextStream(std::vector<std::string> stops = {});

  // Adds a decoded piece; returns the text that is now safe to send. When a stop string
  // completes, stopped() turns true and the text returned ends just before it.
  std::string push(std::string_view piece);

  // At the end of generation: whatever was held back (no stop string can complete any more).
  std::string flush();

  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace lumen::server
