#pragma once
// Hugging Face model folders: `config.json` (hyper-parameters, by the field names of each
// transformers model class), weights in `model.safetensors` or sharded safetensors, and the
// tokenizer. Decoder-only families: LlamaForCausalLM, MistralForCausalLM, MixtralForCausalLM,
// Qwen2ForCausalLM, GPT2LMHeadModel, BloomForCausalLM — each a row of ModelConfig options on
// the one decoder, its tensors mapped onto ModelWeights (fused or transposed ones rearranged
// once, at load, into buffers the model owns).
//
// Llama-style Q/K rows stay in Hugging Face's half-split layout and run with RopeStyle::NeoX;
// the GGUF writer permutes them into llama.cpp's adjacent-pair layout.
#include <memory>
#include <string>

#include "formats/loaded_model.h"

namespace lumen {

// Loads the model in folder `dir`. The tokenizer comes from `tokenizer_path` (a llama2.c
// tokenizer.bin) when one is given. A missing or contradicting config field, a missing tensor
// or one of the wrong shape, and an architecture lumen does not know are errors naming it.
std::unique_ptr<LoadedModel> load_hf_model(const std::string& dir, const std::string& tokenizer_path = "");

}  // namespace lumen
