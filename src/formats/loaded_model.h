#pragma once
// A model as the loaders hand it to the engine: configuration, weight views, vocabulary, and
// the mapped files that own the weight bytes (kept alive as long as the model is).
#include <memory>
#include <string>
#include <vector>

#include "models/config.h"
#include "models/weights.h"
#include "tensor/mapped_file.h"
#include "tensor/huge_page_memory.h"
#include "tokenizer/vocab.h"

namespace lumen {

struct LoadedModel {
  std::string format;  // "llama2.c" or "gguf"
  ModelConfig config;
  ModelWeights weights;
  Vocab vocab;
  std::vector<Tensor> tensors;  // every tensor of the file, in file order (for inspect/convert)
  std::vector<std::shared_ptr<const MappedFile>> files;
  std::vector<std::vector<uint8_t>> buffers;  // weights made in memory (tests, benchmarks)
  std::vector<std::unique_ptr<HugePageMemory>> packed;  // weights repacked at load (models/pack_weights.h)
};

// Opens a model by its magic: GGUF (tokenizer from its metadata) or a llama2.c checkpoint
// (tokenizer from `tokenizer_path`, required for that format). Checks every tensor's shape
// against the configuration and the vocabulary size against the model's.
std::unique_ptr<LoadedModel> load_model(const std::string& model_path, const std::string& tokenizer_path = "");

// Fails unless every weight the configuration needs is present with the expected shape.
void check_weights(const ModelConfig& config, const ModelWeights& weights);

// Sets l's Q, K and V (and, when `bias` is present, their biases) to views of a fused [q; k; v]
// weight of dim + 2 kv rows (GPT-2, BLOOM). The caller has checked the shapes.
void split_fused_qkv(const Tensor& weight, const Tensor& bias, int64_t dim, int64_t kv, LayerWeights& l);

}  // namespace lumen
