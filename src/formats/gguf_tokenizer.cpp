#include "formats/gguf_tokenizer.h"

#include <algorithm>

#include "util/error.h"

namespace lumen {
namespace {

constexpr const char* kModel = "tokenizer.ggml.model";
constexpr const char* kTokens = "tokenizer.ggml.tokens";
constexpr const char* kScores = "tokenizer.ggml.scores";
constexpr const char* kTokenTypes = "tokenizer.ggml.token_type";
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
constexpr const char* kChatTemplate = "tokenizer.chat_template";

// llama.cpp writes u32 0xFFFFFFFF (its LLAMA_TOKEN_NULL, -1) for "no such token".
constexpr uint32_t kNoToken = 0xFFFFFFFFu;

int32_t token_id(const GgufFile& g, const char* key, int32_t fallback, int32_t n_tokens) {
  const std::optional<uint32_t> id = g.opt_u32(key);
  if (!id) return fallback;
  if (*id == kNoToken) return -1;
  if (*id >= uint32_t(n_tokens)) fail(key, " = ", *id, " is outside the vocabulary of ", n_tokens, " tokens");
  return int32_t(*id);
}

void add_token_id(GgufWriter& w, const char* key, int32_t id) { w.add_u32(key, id < 0 ? kNoToken : uint32_t(id)); }

}  // namespace

Vocab read_gguf_tokenizer(const GgufFile& g) {
  Vocab v;
  v.model = g.opt_string(kModel).value_or(v.model);
  if (v.model != "llama" && v.model != "gpt2" && v.model != "bert")
    fail("tokenizer model '", v.model, "' is not supported (llama, gpt2, bert)");
  v.pieces = g.get_string_array(kTokens);
  const int32_t n = v.size();
  if (n == 0) fail(kTokens, " is empty");
  v.scores = g.opt_f32_array(kScores).value_or(std::vector<float>(n, 0.0f));
  const std::vector<int32_t> types =
      g.opt_i32_array(kTokenTypes).value_or(std::vector<int32_t>(n, int32_t(TokenType::Normal)));
  if (int32_t(v.scores.size()) != n) fail(kScores, " has ", v.scores.size(), " entries but ", kTokens, " has ", n);
  if (int32_t(types.size()) != n) fail(kTokenTypes, " has ", types.size(), " entries but ", kTokens, " has ", n);
  for (int32_t t : types) {
    if (t < int32_t(TokenType::Undefined) || t > int32_t(TokenType::Byte)) fail(kTokenTypes, " holds unknown type ", t);
    v.types.push_back(TokenType(t));
  }
  v.bos_id = token_id(g, kBosId, v.bos_id, n);
  v.eos_id = token_id(g, kEosId, v.eos_id, n);
  v.unk_id = token_id(g, kUnkId, v.unk_id, n);
  v.add_bos = g.opt_bool(kAddBos).value_or(v.add_bos);
  v.chat_template = g.opt_string(kChatTemplate).value_or("");
  v.pre = g.opt_string(kPre).value_or(v.pre);
  v.merges = g.opt_string_array(kMerges).value_or(std::vector<std::string>{});
  v.sep_id = token_id(g, kSepId, -1, n);
  v.cls_id = token_id(g, kClsId, -1, n);
  v.pad_id = token_id(g, kPadId, -1, n);
  v.mask_id = token_id(g, kMaskId, -1, n);
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

void write_gguf_tokenizer(GgufWriter& w, const Vocab& v) {
  const size_t n = v.pieces.size();
  if (v.scores.size() != n || v.types.size() != n)
    fail("vocabulary has ", n, " pieces but ", v.scores.size(), " scores and ", v.types.size(), " token types");
  std::vector<int32_t> types(n);
  std::transform(v.types.begin(), v.types.end(), types.begin(), [](TokenType t) { return int32_t(t); });
  w.add_string(kModel, v.model);
  if (!v.pre.empty()) w.add_string(kPre, v.pre);
  w.add_string_array(kTokens, v.pieces);
  w.add_f32_array(kScores, v.scores);
  w.add_i32_array(kTokenTypes, types);
  if (!v.merges.empty()) w.add_string_array(kMerges, v.merges);
  add_token_id(w, kBosId, v.bos_id);
  add_token_id(w, kEosId, v.eos_id);
  add_token_id(w, kUnkId, v.unk_id);
  for (const auto& [key, id] : {std::pair{kSepId, v.sep_id}, {kClsId, v.cls_id}, {kPadId, v.pad_id}, {kMaskId, v.mask_id}})
    if (id >= 0) add_token_id(w, key, id);
  w.add_bool(kAddBos, v.add_bos);
  w.add_bool(kAddEos, v.add_eos);
  if (!v.chat_template.empty()) w.add_string(kChatTemplate, v.chat_template);
}

}  // namespace lumen
