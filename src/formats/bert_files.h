#pragma once
// BERT models as people get them and as llama.cpp stores them:
//  * a Hugging Face folder: config.json (architectures Bert*, e.g. BertModel, BertForMaskedLM),
//    model.safetensors (or shards) with transformers' names (`embeddings.word_embeddings.weight`,
//    `encoder.layer.N.attention.self.query.weight`, ...; with or without the `bert.` prefix of
//    the task-head classes) and tokenizer.json (WordPiece);
//  * a GGUF of llama.cpp's `bert` architecture (`bert.*` keys, `token_embd`, `token_types`,
//    `position_embd`, `token_embd_norm`, `blk.N.attn_q|k|v|output`, `attn_output_norm`,
//    `ffn_up|down`, `layer_output_norm`), which write_bert_gguf also writes.
// Missing or contradicting fields and tensors are one-line errors naming them.
#include <memory>
#include <string>

#include "models/bert.h"

namespace lumen {

// Whether `path` holds a BERT model: a folder whose config.json names a Bert* architecture, or
// a GGUF whose general.architecture is "bert". Reads only the config / the GGUF header.
bool is_bert_model(const std::string& path);

std::unique_ptr<BertModel> load_bert(const std::string& path);

// Writes `model` as a llama.cpp `bert` GGUF v3: matrices and embedding tables in their stored
// type, norms and biases as F32, the WordPiece vocabulary in llama.cpp's spelling.
void write_bert_gguf(const BertModel& model, const std::string& path);

}  // namespace lumen
