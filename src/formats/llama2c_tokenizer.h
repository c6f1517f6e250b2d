#pragma once
// Reader for llama2.c's `tokenizer.bin`: int32 max_token_length, then per token a float32
// score, an int32 byte length and the piece bytes. The file carries no token types, so they
// follow the Llama layout llama2.c assumes: 0 unknown, 1 BOS, 2 EOS, `<0xHH>` byte pieces.
#include <cstdint>
#include <string>

#include "tokenizer/vocab.h"

namespace lumen {

// Reads exactly `vocab_size` tokens and fails if the file holds fewer or more (a tokenizer
// that does not match its model); vocab_size -1 reads until the end of the file.
Vocab read_llama2c_tokenizer(const std::string& path, int32_t vocab_size);

}  // namespace lumen
