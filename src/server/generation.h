#pragma once
// The link between one request running on the engine's loop thread and the HTTP thread that
// answers it. The engine's callback turns tokens into text (holding back split characters and
// possible stop strings, cancelling the request when a stop string completes or the client has
// gone) and hands it over; the HTTP thread takes what has arrived, waiting when nothing has.
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "server/openai_protocol.h"
#include "server/text_stream.h"
#include "tokenizer/tokenizer.h"

namespace lumen::server {

class Generation {
 public:
  struct Update {
    std::string text;           // new text since the last take()
    std::vector<TokenLogprobs> logprobs;  // with logprobs: one per token generated since then
    bool finished = false;      // no more text will come
    std::string finish_reason;  // "stop", "length" (set once finished)
    Usage usage;
  };

  // `last_prompt_token` is what the first generated piece is decoded after (it decides whether
  // SentencePiece's leading space is dropped). With `logprobs`, each token's log-probabilities
  // (from its TokenEvent) come as text too.
  Generation(const Tokenizer& tokenizer, int32_t last_prompt_token, std::vector<std::string> stops,
             bool logprobs = false);

  // The callback for Engine::submit; it keeps the Generation alive for as long as the engine
  // holds it.
  static TokenCallback callback(std::shared_ptr<Generation> generation);

  // Waits up to `timeout` for text or the end; returns what arrived since the last call.
  Update take(std::chrono::milliseconds timeout);

  // The client has gone: the engine's next callback returns false, which frees the request.
  void cancel();

  // Echo (completions, before the request is submitted): the prompt's text leads the text of the
  // first event; with logprobs the prompt's tokens lead its logprobs, the first without a value
  // and the others with the engine's scores (TokenEvent::prompt_logprobs).
  void echo(std::span<const int32_t> prompt);

 private:
  bool on_token(const TokenEvent& event);  // on the engine's thread
  std::string piece(int32_t prev, int32_t token) const;  // control tokens (BOS...) are ""
  void count_offset(const std::string& piece);

  const Tokenizer& tokenizer_;
  int32_t previous_;
  TextStream text_stream_;
  const bool logprobs_;
  int64_t text_offset_ = 0;  // characters of the token pieces so far (for completions' text_offset)
  std::string echoed_text_;                 // the echoed prompt's text, until the first event
  std::vector<int32_t> echoed_;             // the echoed prompt, when its tokens are to be scored
  std::vector<TokenLogprobs> echoed_logprobs_;  // ... its entries, waiting for their scores

  std::mutex mutex_;
  std::condition_variable changed_;
  Update pending_;
  bool cancelled_ = false;
};

}  // namespace lumen::server
