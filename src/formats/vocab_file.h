#pragma once
// The vocabulary of a model file without its weights, for commands that only tokenize: a GGUF
// (also llama.cpp's vocab-only files, which have no tensors), a Hugging Face folder or
// tokenizer.json, or a llama2.c checkpoint with its tokenizer .bin.
#include <string>

#include "tokenizer/vocab.h"

namespace lumen {

// `tokenizer_path`: the llama2.c tokenizer for a llama2.c checkpoint (or for a Hugging Face
// folder, in place of its tokenizer.json); may be empty otherwise.
Vocab load_vocab(const std::string& model_path, const std::string& tokenizer_path = "");

}  // namespace lumen
