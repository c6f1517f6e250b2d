#pragma once
// The link between the engine's loop thread, which runs a request's choices (one per engine
// request: OpenAI's n and best_of), and the HTTP thread that answers it. Each choice's callback
// turns tokens into text (holding back split characters and possible stop strings, cancelling
// its engine request when a stop string completes or the client has gone) and hands it over;
// the HTTP thread takes what has arrived from all of them, waiting when nothing has.
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

// What wakes the HTTP thread: shared by the choices of one request.
struct GenerationSignal {
  std::mutex mutex;
  std::condition_variable changed;
};

// One choice.
class Generation {
 public:
  struct Update {
    std::string text;           // new text since the last take()
    std::vector<TokenLogprobs> logprobs;  // with logprobs: one per token generated since then
    bool finished = false;      // no more text will come
    std::string finish_reason;  // "stop", "length" (set once finished)
    Usage usage;
    double logprob_sum = 0;     // of the generated tokens, when the engine reports them
  };

  // `last_prompt_token` is what the first generated piece is decoded after (it decides whether
  // SentencePiece's leading space is dropped). With `logprobs`, each token's log-probabilities
  // (from its TokenEvent) come as text too.
  Generation(std::shared_ptr<GenerationSignal> signal, const Tokenizer& tokenizer, int32_t last_prompt_token,
             std::vector<std::string> stops, bool logprobs);

  // The callback for Engine::submit; it keeps the Generation alive for as long as the engine
  // holds it.
  static TokenCallback callback(std::shared_ptr<Generation> generation);

  // With the signal's mutex held: whether anything arrived since the last take_locked(), and
  // what did.
  bool has_news_locked() const {
    return !pending_.text.empty() || !pending_.logprobs.empty() || pending_.finished != finish_taken_;
  }
  Update take_locked();

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

  const std::shared_ptr<GenerationSignal> signal_;  // guards what follows
  Update pending_;
  bool finish_taken_ = false;  // a take_locked() has reported the end (later ones repeat it as old news)
  bool cancelled_ = false;
};

// The choices of one request, answered by one HTTP thread.
class Choices {
 public:
  Choices(int32_t count, const Tokenizer& tokenizer, int32_t last_prompt_token, const std::vector<std::string>& stops,
          bool logprobs);

  size_t size() const { return generations_.size(); }
  Generation& operator[](size_t i) { return *generations_[i]; }
  std::vector<TokenCallback> callbacks() const;  // for Engine::submit_group, one per choice

  // Waits up to `timeout` for news from any choice; returns each choice's update since the last
  // call (a finished choice keeps reporting finished).
  std::vector<Generation::Update> take(std::chrono::milliseconds timeout);

  void cancel();  // every choice

 private:
  std::shared_ptr<GenerationSignal> signal_;
  std::vector<std::shared_ptr<Generation>> generations_;
};

// The usage of a request's choices (or candidates): the prompt counted once, every generated
// token (OpenAI bills best_of's candidates too).
Usage combined_usage(const std::vector<Generation::Update>& choices);

// The `n` of `candidates` (all finished) with the highest mean log-probability per generated
// token, best first: OpenAI's best_of. Ties keep the earlier candidate first.
std::vector<size_t> best_candidates(const std::vector<Generation::Update>& candidates, size_t n);

}  // namespace lumen::server
