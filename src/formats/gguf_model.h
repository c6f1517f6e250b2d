#pragma once
// GGUF <-> LoadedModel for llama.cpp's `llama` architecture: hyper-parameters from the
// `llama.*` keys, the vocabulary from `tokenizer.ggml.*` (and `tokenizer.chat_template`),
// tensors by llama.cpp's names (`token_embd.weight`, `blk.N.attn_q.weight`, ...).
#include <memory>
#include <string>

#include "formats/gguf.h"
#include "formats/loaded_model.h"

namespace lumen {

// Loads a `llama` GGUF whose tokenizer is SentencePiece-style (`tokenizer.ggml.model` =
// "llama"); checks the configuration and every weight's shape. Tensors stay in the map.
std::unique_ptr<LoadedModel> load_gguf_model(std::shared_ptr<const MappedFile> file);

// The vocabulary of any GGUF that has `tokenizer.ggml.tokens` (also llama.cpp's vocab-only
// files, whatever their tokenizer model). Keys that are absent keep Vocab's defaults; a token
// id stored as 0xFFFFFFFF (llama.cpp's "none") becomes -1; other ids outside the vocabulary
// and per-token arrays of the wrong length are errors.
Vocab read_gguf_vocab(const GgufFile& gguf);

// Writes `model` as a `llama` GGUF v3 that llama.cpp loads: norms as F32, matrices in their
// stored type, `output.weight` only when the classifier is not tied. NeoX-layout Q/K rows are
// permuted into the adjacent-pair layout that `llama` GGUFs use.
void write_gguf_model(const LoadedModel& model, const std::string& path);

}  // namespace lumen
