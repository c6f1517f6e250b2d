#include "formats/gguf_tokenizer.h"

#include "formats/gguf_model.h"
#include "util/error.h"

namespace lumen {
namespace {

constexpr const char* kPre = "tokenizer.ggml.pre";
constexpr const char* kMerges = "tokenizer.ggml.merges";
constexpr const char* kAddBos = "tokenizer.ggml.add_bos_token";
constexpr const char* kAddEos = "tokenizer.ggml.add_eos_token";
constexpr const char* kBosId = "tokenizer.ggml.bos_token_id";
constexpr const char* kEosId = "tokenizer.ggml.eos_token_id";
constexpr const char* kUnkId = "tokenizer.ggml.unknown_token_id";
constexpr const char* kSepId = "tokenizer.ggml.seperator_token_id";  // sic: llama.cpp's spelling
constexpr const char* kClsId = "tokenizer.ggml.cls_token_id";
constexpr const char* kPadId = "tokenizer.ggml.padding_token_id";
constexpr const char* kMaskId = "tokenizer.ggml.mask_token_id";

// An optional token id; u32 0xFFFFFFFF is llama.cpp's "none" (-1).
int32_t optional_token(const GgufFile& g, const char* key, int32_t fallback, int32_t n_tokens) {
  const std::optional<uint32_t> id = g.opt_u32(key);
  if (!id) return fallback;
  if (*id == 0xFFFFFFFFu) return -1;
  if (*id >= uint32_t(n_tokens)) fail(key, " = ", *id, " is outside the vocabulary of ", n_tokens, " tokens");
  return int32_t(*id);
}

}  // namespace

Vocab read_gguf_tokenizer(const GgufFile& g) {
  Vocab v = read_gguf_vocab(g);
  const int32_t n = v.size();
  v.pre = g.opt_string(kPre).value_or(v.pre);
  v.merges = g.opt_string_array(kMerges).value_or(std::vector<std::string>{});
  v.sep_id = optional_token(g, kSepId, -1, n);
  v.cls_id = optional_token(g, kClsId, -1, n);
  v.pad_id = optional_token(g, kPadId, -1, n);
  v.mask_id = optional_token(g, kMaskId, -1, n);
  const bool bert = v.model == "bert";
  if (v.model == "gpt2") {
    if (!g.find(kUnkId)) v.unk_id = -1;
    if (!g.find(kAddBos)) v.add_bos = false;
  } else if (bert) {
    if (!g.find(kBosId)) v.bos_id = v.cls_id;
    if (!g.find(kEosId)) v.eos_id = v.sep_id;
  }
  v.add_eos = g.opt_bool(kAddEos).value_or(bert);
  if (v.model == "gpt2" && v.merges.empty()) fail(kMerges, " is missing or empty, which byte-level BPE needs");
  return v;
}

}  // namespace lumen
