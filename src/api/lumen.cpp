// The public API (include/lumen/lumen.h) over the engine's parts: loader, tokenizer, decoder,
// sampler and generation loop.
#include "lumen/lumen.h"

#include <optional>
#include <thread>

#include "formats/loaded_model.h"
#include "models/decoder.h"
#include "models/pack_weights.h"
#include "runtime/beam_search.h"
#include "runtime/generator.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace lumen {

Model::Model(std::unique_ptr<LoadedModel> loaded)
    : loaded_(std::move(loaded)), tokenizer_(make_tokenizer(loaded_->vocab)) {
  pack_weights(*loaded_);
}
Model::~Model() = default;

std::shared_ptr<const Model> Model::load(const std::string& path, const std::string& tokenizer_path) {
  return std::shared_ptr<const Model>(new Model(load_model(path, tokenizer_path)));
}

ModelInfo Model::info() const {
  const ModelConfig& c = loaded_->config;
  return {loaded_->format, c.architecture, c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads,
          c.vocab_size, c.context_length};
}

std::vector<int32_t> Model::tokenize(std::string_view text, bool add_special) const {
  return tokenizer_->encode(text, add_special);
}

std::string Model::detokenize(std::span<const int32_t> tokens) const { return tokenizer_->decode(tokens); }

struct Session::State {
  std::shared_ptr<const Model> model;
  ThreadPool pool;
  KvCacheTypes cache_types;
  SequenceRunner runner;
  Generator generator;
  std::unique_ptr<BeamSearch> beam_search;  // made by the first beam search: its own KV cache
  std::shared_ptr<const TokenBytes> json_bytes;  // made by the first JSON-mode generation

  State(std::shared_ptr<const Model> m, const SessionOptions& o)
      : model(std::move(m)),
        pool(o.threads > 0 ? o.threads : int(std::max(1u, std::thread::hardware_concurrency()))),
        cache_types{parse_cache_type(o.cache_type_k), parse_cache_type(o.cache_type_v)},
        runner(model->loaded(), o.context_length, pool, cache_types),
        generator(runner, model->loaded().vocab.bos_id, model->loaded().vocab.eos_id) {}
};

Session::Session(std::shared_ptr<const Model> model, SessionOptions options)
    : state_(std::make_unique<State>(std::move(model), options)) {}
Session::~Session() = default;

int32_t Session::context_length() const { return state_->runner.context_length(); }
int32_t Session::threads() const { return state_->pool.size(); }

GenerateResult Session::generate(std::string_view prompt, const GenerateOptions& o,
                                 const std::function<void(std::string_view)>& on_text) {
  const Model& model = *state_->model;
  const Tokenizer& tokenizer = model.tokenizer();
  GenerateResult result;
  result.prompt_tokens = tokenizer.encode(prompt, true);
  // A vocabulary without BOS (GPT-2's) gives an empty prompt no token to start from.
  if (result.prompt_tokens.empty()) fail("the prompt is empty and the vocabulary adds no BOS token to start from");
  check_prompt_fits(result.prompt_tokens.size(), context_length());
  if (o.echo && on_text) on_text(tokenizer.decode(result.prompt_tokens));  // as the model saw it
  // The last generated token is never fed back, so the context holds one more than it feeds.
  const int32_t room = context_length() - int32_t(result.prompt_tokens.size()) + 1;
  const int32_t budget = o.max_tokens < 0 ? room : std::min(o.max_tokens, room);

  Sampler sampler({o.temperature, o.top_k, o.top_p, o.min_p, o.repeat_penalty, o.repeat_last_n, o.seed},
                  model.loaded().config.vocab_size);
  std::optional<JsonConstraint> json;
  if (o.json) {
    const Vocab& vocab = model.loaded().vocab;
    if (!state_->json_bytes) state_->json_bytes = token_bytes(vocab);
    json.emplace(state_->json_bytes, vocab.eos_id >= 0 ? vocab.eos_id : vocab.bos_id);
  }
  int32_t previous = result.prompt_tokens.back();
  std::vector<int32_t> sequence;
  GenerationStats stats;
  const StopReason reason = state_->generator.generate(
      result.prompt_tokens, budget, sampler,
      [&](int32_t token) {
        const std::string piece = tokenizer.decode_piece(previous, token);
        previous = token;
        result.text += piece;
        if (on_text) on_text(piece);
      },
      sequence, stats, json ? &*json : nullptr);
  result.tokens.assign(sequence.begin() + result.prompt_tokens.size(), sequence.end());
  result.stopped_at_end_of_text = reason == StopReason::EndOfSequence;
  result.prompt_seconds = stats.prompt_seconds;
  result.generate_seconds = stats.generate_seconds;
  return result;
}

static_assert(BeamOptions::kMaxBeams == BeamSearch::kMaxBeams);

BeamResult Session::beam_search(std::string_view prompt, const BeamOptions& o) {
  const Model& model = *state_->model;
  const LoadedModel& loaded = model.loaded();
  BeamResult result;
  result.prompt_tokens = model.tokenizer().encode(prompt, true);
  if (result.prompt_tokens.empty()) fail("the prompt is empty and the vocabulary adds no BOS token to start from");
  check_prompt_fits(result.prompt_tokens.size(), context_length());
  if (!state_->beam_search) {
    std::vector<int32_t> end_tokens;
    for (int32_t id : {loaded.vocab.eos_id, loaded.vocab.bos_id})
      if (id >= 0) end_tokens.push_back(id);
    state_->beam_search = std::make_unique<BeamSearch>(loaded, context_length(), state_->pool,
                                                       state_->cache_types, std::move(end_tokens));
  }
  // The search stops at the context's end by itself; -1 asks for all the room there is.
  const BeamParams params{o.beams, o.length_penalty, o.max_tokens < 0 ? context_length() : o.max_tokens};
  GenerationStats stats;
  const std::vector<BeamHypothesis> best = state_->beam_search->search(result.prompt_tokens, params, stats);
  if (!best.empty()) {
    result.tokens = best[0].tokens;
    int32_t previous = result.prompt_tokens.back();
    for (int32_t token : result.tokens) {  // piece by piece, as generate() streams them
      result.text += model.tokenizer().decode_piece(previous, token);
      previous = token;
    }
    result.stopped_at_end_of_text = best[0].ended;
    result.score = best[0].score;
  }
  result.beam_tokens = stats.generated_tokens;
  result.prompt_seconds = stats.prompt_seconds;
  result.generate_seconds = stats.generate_seconds;
  return result;
}

std::vector<float> Session::logits(std::span<const int32_t> tokens) {
  check_prompt_fits(tokens.size(), context_length());
  std::vector<float> out(tokens.size() * size_t(state_->model->loaded().config.vocab_size));
  state_->runner.forward(tokens, 0, out.data(), true);
  return out;
}

}  // namespace lumen
