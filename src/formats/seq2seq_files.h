#pragma once
// lumen's folder format for the encoder–decoder Transformer (docs/FORMATS.md): config.json
// ("architectures": ["TransformerSeq2Seq"] and the nn.Transformer hyper-parameters),
// model.safetensors (nn.Transformer's state dict under its own names, plus src_embed.weight,
// tgt_embed.weight, generator.weight and generator.bias), src_vocab.txt and tgt_vocab.txt.
#include <memory>
#include <string>

#include "models/encoder_decoder.h"

namespace lumen {

// Missing or contradicting fields and tensors, and vocabularies of the wrong size, are
// one-line errors naming them.
std::unique_ptr<Seq2SeqModel> load_seq2seq(const std::string& dir);

}  // namespace lumen
