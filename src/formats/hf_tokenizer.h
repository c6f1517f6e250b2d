#pragma once
// A Hugging Face tokenizer as a Vocab: `tokenizer.json` (the model's vocabulary, merges,
// added tokens, pre-tokenizer and post-processor) and, beside it when present,
// `tokenizer_config.json` (chat template, BOS/EOS tokens, add_bos_token/add_eos_token).
// Understood: WordPiece with BERT's uncased normaliser ("bert"), byte-level BPE whose
// pre-tokenizer is one lumen knows ("gpt2"), and BPE with byte fallback as Llama and Mistral
// ship it ("llama"). Anything else, and any missing field, is a lumen::Error naming it.
#include <string>

#include <nlohmann/json.hpp>

#include "tokenizer/vocab.h"

namespace lumen {

// `path`: a model folder (holding tokenizer.json) or a tokenizer.json file.
Vocab read_hf_tokenizer(const std::string& path);

// The same from parsed files; `config` may be null (no tokenizer_config.json).
Vocab hf_tokenizer_vocab(const nlohmann::json& tokenizer, const nlohmann::json* config);

}  // namespace lumen
