#include "server/generation.h"

#include <algorithm>
#include <iterator>
#include <numeric>
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

Generation::Generation(std::shared_ptr<GenerationSignal> signal, const Tokenizer& tokenizer, int32_t last_prompt_token,
                       std::vector<std::string> stops, bool logprobs)
    : tokenizer_(tokenizer),
      previous_(last_prompt_token),
      text_stream_(std::move(stops)),
      logprobs_(logprobs),
      signal_(std::move(signal)) {}

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

  std::lock_guard lock(signal_->mutex);
  if (cancelled_) return false;
  pending_.text += text;
  std::move(logprobs.begin(), logprobs.end(), std::back_inserter(pending_.logprobs));
  pending_.usage.prompt_tokens = event.prompt_tokens;
  pending_.usage.cached_tokens = event.cached_prompt_tokens;
  if (event.token >= 0) {
    ++pending_.usage.completion_tokens;
    pending_.logprob_sum += event.logprob;
  }
  if (finished) {
    pending_.finished = true;
    pending_.finish_reason = stopped ? "stop" : finish_name(event.finish);
  }
  signal_->changed.notify_all();
  return !stopped;  // a completed stop string ends the request here
}

Generation::Update Generation::take_locked() {
  finish_taken_ = pending_.finished;
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
  std::lock_guard lock(signal_->mutex);
  cancelled_ = true;
}

Choices::Choices(int32_t count, const Tokenizer& tokenizer, int32_t last_prompt_token,
                 const std::vector<std::string>& stops, bool logprobs)
    : signal_(std::make_shared<GenerationSignal>()) {
  for (int32_t i = 0; i < count; ++i)
    generations_.push_back(std::make_shared<Generation>(signal_, tokenizer, last_prompt_token, stops, logprobs));
}

std::vector<TokenCallback> Choices::callbacks() const {
  std::vector<TokenCallback> out;
  for (const auto& g : generations_) out.push_back(Generation::callback(g));
  return out;
}

std::vector<Generation::Update> Choices::take(std::chrono::milliseconds timeout) {
  std::unique_lock lock(signal_->mutex);
  signal_->changed.wait_for(lock, timeout, [&] {
    return std::any_of(generations_.begin(), generations_.end(), [](const auto& g) { return g->has_news_locked(); });
  });
  std::vector<Generation::Update> out;
  for (const auto& g : generations_) out.push_back(g->take_locked());
  return out;
}

void Choices::cancel() {
  for (const auto& g : generations_) g->cancel();
}

Usage combined_usage(const std::vector<Generation::Update>& choices) {
  Usage usage = choices.front().usage;
  for (size_t i = 1; i < choices.size(); ++i) usage.completion_tokens += choices[i].usage.completion_tokens;
  return usage;
}

std::vector<size_t> best_candidates(const std::vector<Generation::Update>& candidates, size_t n) {
  const auto mean = [&](size_t i) {
    const Generation::Update& u = candidates[i];
    return u.usage.completion_tokens > 0 ? u.logprob_sum / u.usage.completion_tokens : 0.0;
  };
  std::vector<size_t> order(candidates.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return mean(a) > mean(b); });
  order.resize(std::min(n, order.size()));
  return order;
}

}  // namespace lumen::server
