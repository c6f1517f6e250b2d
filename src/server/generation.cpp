#include "server/generation.h"

#include <algorithm>
#include <iterator>
#include <utility>

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
  // The first event carries the prompt's scores: an echoed prompt goes out with it, text and
  // logprobs together.
  std::string text = std::exchange(echoed_text_, {});
  std::vector<TokenLogprobs> logprobs;
  if (!echoed_logprobs_.empty()) {
    for (size_t i = 0; i < event.prompt_logprobs.size() && i + 1 < echoed_logprobs_.size(); ++i) {
      const ScoredToken& s = event.prompt_logprobs[i];
      TokenLogprobs& entry = echoed_logprobs_[i + 1];
      entry.logprob = s.logprob;
      for (const TokenLogprob& t : s.top) entry.top.emplace_back(piece(echoed_[i], t.token), t.logprob);
    }
    logprobs = std::move(echoed_logprobs_);
    echoed_logprobs_.clear();
  }
  if (event.token >= 0) {
    const std::string token_text = tokenizer_.decode_piece(previous_, event.token);
    if (logprobs_) {
      TokenLogprobs entry{token_text, event.logprob, {}, text_offset_};
      for (const TokenLogprob& t : event.top_logprobs)
        entry.top.emplace_back(tokenizer_.decode_piece(previous_, t.token), t.logprob);
      logprobs.push_back(std::move(entry));
      count_offset(token_text);
    }
    text += text_stream_.push(token_text);
    previous_ = event.token;
  }
  const bool stopped = text_stream_.stopped();
  const bool finished = stopped || event.finish != FinishReason::None;
  if (finished && !stopped) text += text_stream_.flush();

  std::lock_guard lock(mutex_);
  if (cancelled_) return false;
  pending_.text += text;
  std::move(logprobs.begin(), logprobs.end(), std::back_inserter(pending_.logprobs));
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

std::string Generation::piece(int32_t prev, int32_t token) const {
  const Vocab& v = tokenizer_.vocab();
  if (token >= 0 && token < v.size() && v.types[token] == TokenType::Control) return "";
  return tokenizer_.decode_piece(prev, token);
}

// Characters, as OpenAI counts them: every byte that does not continue a UTF-8 sequence.
void Generation::count_offset(const std::string& piece) {
  text_offset_ += std::count_if(piece.begin(), piece.end(), [](char c) { return (c & 0xC0) != 0x80; });
}

void Generation::echo(std::span<const int32_t> prompt) {
  std::string text;
  int32_t prev = -1;
  for (int32_t token : prompt) {
    const std::string p = piece(prev, token);
    if (logprobs_) {
      echoed_logprobs_.push_back({p, std::nullopt, {}, text_offset_});
      count_offset(p);
    }
    text += p;
    prev = token;
  }
  if (logprobs_) echoed_.assign(prompt.begin(), prompt.end());
  echoed_text_ = std::move(text);
}

void Generation::cancel() {
  std::lock_guard lock(mutex_);
  cancelled_ = true;
}

}  // namespace lumen::server
