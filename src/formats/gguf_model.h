#pragma once
// GGUF <-> LoadedModel for llama.cpp's decoder architectures (llama, qwen2, gpt2, bloom):
// hyper-parameters from the `ARCH.*` keys, the tokenizer from `tokenizer.ggml.*`
// (formats/gguf_tokenizer.h), tensors by llama.cpp's names (`token_embd.weight`, ...).
#include <memory>
#include <string>

#include "formats/gguf.h"
#include "formats/loaded_model.h"

namespace lumen {

// Loads a GGUF model; checks the configuration and every weight's shape. Tensors stay in the
// map.
std::unique_ptr<LoadedModel> load_gguf_model(std::shared_ptr<const MappedFile> file);

// Writes `model` as a GGUF v3 that llama.cpp loads: norms as F32, matrices in their
// stored type, `output.weight` only when the classifier is not tied. NeoX-layout Q/K rows are
// permuted into the adjacent-pair layout that `llama` GGUFs use.
void write_gguf_model(const LoadedModel& model, const std::string& path);

}  // namespace lumen
