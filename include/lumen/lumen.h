#pragma once
// lumen's public C++ API: load a model, open a session on it, generate text.
//
//   auto model = lumen::Model::load("stories260K.bin", "tok512.bin");
//   lumen::Session session(model, {.threads = 2});
//   lumen::GenerateOptions opts;
//   opts.max_tokens = 64;
//   session.generate("Once upon a time", opts, [](std::string_view piece) { std::cout << piece; });
//
// Errors (bad files, prompts longer than the context, bad parameters) are thrown as
// lumen::Error (lumen/error.h, a std::runtime_error) with a one-line message.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "lumen/error.h"

namespace lumen {

struct LoadedModel;
class Tokenizer;

struct ModelInfo {
  std::string format;        // "gguf" or "llama2.c"
  std::string architecture;  // "llama"
  int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, context_length;
};

class Model {
 public:
  // Opens a GGUF file, or a llama2.c checkpoint with its tokenizer .bin.
  static std::shared_ptr<const Model> load(const std::string& path, const std::string& tokenizer_path = "");
  ~Model();

  ModelInfo info() const;
  // add_special: the markers the vocabulary asks for (BOS; [CLS] ... [SEP] for BERT).
  std::vector<int32_t> tokenize(std::string_view text, bool add_special = true) const;
  std::string detokenize(std::span<const int32_t> tokens) const;

  const LoadedModel& loaded() const { return *loaded_; }  // the engine's view, for lumen's own tools
  const Tokenizer& tokenizer() const { return *tokenizer_; }

 private:
  friend class Session;  // decodes pieces with the model's tokenizer as it generates
  explicit Model(std::unique_ptr<LoadedModel> loaded);
  std::unique_ptr<LoadedModel> loaded_;
  std::unique_ptr<const Tokenizer> tokenizer_;
};

struct SessionOptions {
  int32_t context_length = 0;  // 0: the model's own
  int32_t threads = 0;         // 0: every hardware thread
  std::string cache_type_k = "f16";  // KV cache element types: "f16", "f32" or "q8_0"
  std::string cache_type_v = "f16";
};

struct GenerateOptions {
  int32_t max_tokens = -1;  // tokens to generate; -1: until end of text or context
  float temperature = 0.8f;  // 0: greedy
  int32_t top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int32_t repeat_last_n = 64;
  uint64_t seed = 0;
  bool echo = false;  // pass the prompt's text to on_text before the generated text
  // JSON mode: only tokens that keep the text a prefix of a JSON object are drawn, and once the
  // object is complete, only the end of text. A run cut short by max_tokens may leave it open.
  bool json = false;
};

struct GenerateResult {
  std::string text;                 // the generated text (without the prompt)
  std::vector<int32_t> prompt_tokens, tokens;  // tokens: the generated ids
  bool stopped_at_end_of_text = false;
  double prompt_seconds = 0, generate_seconds = 0;
};

struct BeamOptions {
  static constexpr int32_t kMaxBeams = 64;  // every live beam runs in one batched forward per step
  int32_t beams = 4;            // 1..kMaxBeams
  int32_t max_tokens = -1;      // tokens to generate; -1: until the search ends or the context does
  float length_penalty = 1.0f;  // a hypothesis scores sum(logprobs) / length^length_penalty
};

struct BeamResult : GenerateResult {  // the best hypothesis
  double score = 0;          // its sum of logprobs / length^length_penalty
  int32_t beam_tokens = 0;   // tokens the model ran for all beams after the prompt
};

// One conversation with a model: its own KV cache and threads. Not thread-safe; open one
// session per concurrent user.
class Session {
 public:
  explicit Session(std::shared_ptr<const Model> model, SessionOptions options = {});
  ~Session();

  // Generates a continuation of `prompt` (BOS is prepended). on_text receives each piece of
  // text as soon as it is decoded.
  GenerateResult generate(std::string_view prompt, const GenerateOptions& options,
                          const std::function<void(std::string_view)>& on_text = {});

  // Beam search, deterministic (no sampling): the best continuation of `prompt` (BOS is
  // prepended) as Hugging Face's generate(num_beams=...) finds it with early_stopping=False
  // (src/runtime/beam_scorer.h). EOS, or BOS, ends a hypothesis. No text comes until the search
  // ends, since until then any beam may still win.
  BeamResult beam_search(std::string_view prompt, const BeamOptions& options);

  // Logits of every position of `tokens` (tokens.size() x vocab_size floats, row-major).
  std::vector<float> logits(std::span<const int32_t> tokens);

  int32_t context_length() const;
  int32_t threads() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// One class of an image classifier's answer.
struct ClassScore {
  int32_t index;
  float probability;  // softmax of the logits
  std::string label;  // from the model's config, or empty
};

// An image classifier (a torchvision ResNet, MobileNetV2, GoogLeNet or ViT in lumen's folder
// format, docs/FORMATS.md) with its own threads. Images are read with stb (PNG, JPEG, PPM, BMP,
// ...), resized and centre-cropped as torchvision's eval transforms do, and normalised.
class Classifier {
 public:
  explicit Classifier(const std::string& model_dir, int32_t threads = 0);
  ~Classifier();

  // The top_k classes of an image file, most probable first (lower index first on ties).
  std::vector<ClassScore> classify(const std::string& image_path, int32_t top_k = 5);
  // The logits of an image file (num_classes floats). exact_size: refuse an image that is not
  // already the model's size instead of resizing it.
  std::vector<float> logits(const std::string& image_path, bool exact_size = false);

  std::string architecture() const;
  int32_t num_classes() const;
  int32_t image_size() const;
  int32_t threads() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace lumen
