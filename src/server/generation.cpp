#include "server/generation.h"

#include <algorithm>
#include <optional>

namespace lumen::server {

namespace {

const char* finish_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::Length:
    case FinishReason::ContextFull: return "length";
    case FinishReason::EndOfSequence: return "stop";
    case FinishReason::Cancelled: return "cancelled";  // the server is shutting down
    case FinishReason::None: break;
  }
  return "";
}

}  // namespace

Generation::Generation(const Tokenizer& tokenizer, int32_t last_prompt_token, std::vector<std::string> stops,
                       bool logprobs)
    : tokenizer_(tokenizer), previous_(last_prompt_token), text_stream_(std::move(stops)), logprobs_(logprobs) {}

TokenCallback Generation::callback(std::shared_ptr<Generation> generation) {
  return [generation](const TokenEvent& event) { return generation->on_token(event); };
}

bool Generation::on_token(const TokenEvent& event) {
  // Decoding happens outside the lock: only this thread touches the tokenizer state.
  std::string text;
  std::optional<TokenLogprobs> logprobs;
  if (event.token >= 0) {
    const std::string piece = tokenizer_.decode_piece(previous_, event.token);
    if (logprobs_) {
      logprobs.emplace(TokenLogprobs{piece, event.logprob, {}, text_offset_});
      for (const TokenLogprob& t : event.top_logprobs)
        logprobs->top.emplace_back(tokenizer_.decode_piece(previous_, t.token), t.logprob);
      // Characters, as OpenAI counts them: every byte that does not continue a UTF-8 sequence.
      text_offset_ += std::count_if(piece.begin(), piece.end(), [](char c) { return (c & 0xC0) != 0x80; });
    }
    text = text_stream_.push(piece);
    previous_ = event.token;
  }
  const bool stopped = text_stream_.stopped();
  const bool finished = stopped || event.finish != FinishReason::None;
  if (finished && !stopped) text += text_stream_.flush();

  std::lock_guard lock(mutex_);
  if (cancelled_) return false;
  pending_.text += text;
  if (logprobs) pending_.logprobs.push_back(std::move(*logprobs));
  pending_.usage.prompt_tokens = event.prompt_tokens;
  pending_.usage.cached_tokens = event.cached_prompt_tokens;
  if (event.token >= 0) ++pending_.usage.completion_tokens;
  if (finished) {
    pending_.finished = true;
    pending_.finish_reason = stopped ? "stop" : finish_name(event.finish);
  }
  changed_.notify_all();
  return !stopped;  // a completed stop string ends the request here
}

Generation::Update Generation::take(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return !pending_.text.empty() || pending_.finished; });
  Update out = pending_;
  pending_.text.clear();
  pending_.logprobs.clear();
  return out;
}

void Generation::cancel() {
  std::lock_guard lock(mutex_);
  cancelled_ = true;
}

}  // namespace lumen::server
