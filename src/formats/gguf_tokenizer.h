#pragma once
// A GGUF's tokenizer, `tokenizer.ggml.*` metadata ↔ Vocab, for every tokenizer model lumen
// knows: SentencePiece ("llama"), byte-level BPE ("gpt2": pre-tokenizer name and merges) and
// WordPiece ("bert": [SEP]/[CLS]/[PAD]/[MASK] ids). Keys that are absent take the defaults of
// the vocabulary's own model (a gpt2 vocabulary has no unknown token and adds no BOS; a bert
// one wraps text in [CLS] ... [SEP]).
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "tokenizer/vocab.h"

namespace lumen {

Vocab read_gguf_tokenizer(const GgufFile& gguf);
void write_gguf_tokenizer(GgufWriter& writer, const Vocab& vocab);

}  // namespace lumen
