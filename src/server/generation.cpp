#include "server/generation.h"

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

Generation::Generation(const Tokenizer& tokenizer, int32_t last_prompt_token, std::vector<std::string> stops)
    : tokenizer_(tokenizer), previous_(last_prompt_token), text_stream_(std::move(stops)) {}

TokenCallback Generation::callback(std::shared_ptr<Generation> generation) {
  return [generation](const TokenEvent& event) { return generation->on_token(event); };
}

bool Generation::on_token(const TokenEvent& event) {
  // Decoding happens outside the lock: only this thread touches the tokenizer state.
  std::string text;
  if (event.token >= 0) {
    text = text_stream_.push(tokenizer_.decode_piece(previous_, event.token));
    previous_ = event.token;
  }
  const bool stopped = text_stream_.stopped();
  const bool finished = stopped || event.finish != FinishReason::None;
  if (finished && !stopped) text += text_stream_.flush();

  std::lock_guard lock(mutex_);
  if (cancelled_) return false;
  pending_.text += text;
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
  return out;
}

void Generation::cancel() {
  std::lock_guard lock(mutex_);
  cancelled_ = true;
}

}  // namespace lumen::server
