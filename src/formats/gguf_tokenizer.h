#pragma once
// The full tokenizer vocabulary of a GGUF: read_gguf_vocab's SentencePiece fields plus what
// byte-level BPE and WordPiece need — `tokenizer.ggml.pre`, `tokenizer.ggml.merges`,
// `add_eos_token`, the [SEP]/[CLS]/[PAD]/[MASK] ids — and, for keys that are absent, the
// defaults of the vocabulary's own model rather than SentencePiece's (a gpt2 vocabulary has no
// unknown token and adds no BOS; a bert one wraps text in [CLS] ... [SEP]).
#include "formats/gguf.h"
#include "tokenizer/vocab.h"

namespace lumen {

Vocab read_gguf_tokenizer(const GgufFile& gguf);

}  // namespace lumen
