#pragma once
// `lumen quantize`: rewrite a GGUF (or a llama2.c checkpoint, converted first) with its
// matrices in another storage type, choosing each tensor's type as llama.cpp's llama-quantize
// does for the same preset name, so that the two tools write the same tensors.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/tensor.h"

namespace lumen {

// How a preset varies the type per tensor (llama.cpp's "mixtures").
enum class QuantMix {
  Pure,  // every quantizable matrix gets the base type (the plain types, and --pure)
  Basic, // the output matrix (and a tied token embedding) gets Q6_K
  K_S,   // Basic, plus Q5_K for attn_v of the first 4 layers and ffn_down of the first 1/8
  K_M,   // Basic, plus Q6_K for attn_v and ffn_down in the layers use_more_bits picks
};

struct QuantPreset {
  std::string_view name;           // llama-quantize's name: "Q4_K_M"
  DType base;                      // the type most matrices get
  std::optional<uint32_t> ftype;   // llama_ftype for general.file_type (none for lumen-only presets)
  QuantMix mix;
};

// The preset of that name; an unknown name fails with a message listing the valid ones.
const QuantPreset& find_quant_preset(std::string_view name);
std::string quant_preset_names();  // "Q4_0, Q4_1, ..." for help texts

// What llama-quantize knows about the model when it picks types: layer counts and whether
// the classifier shares the token embedding.
struct QuantLayout {
  int n_layers = 0;         // `<arch>.block_count`, else 1 + the highest blk.N index
  int n_attention_v = 0;    // tensors named *attn_v.weight / *attn_qkv.weight / *attn_kv_b.weight
  bool tied_output = true;  // no output.weight tensor
};

// Picks tensor types in llama.cpp's tensor order (see quantize_model.cpp), one call per tensor:
// the attn_v / ffn_down rules count those tensors as they go, as llama.cpp does.
class QuantTypeChooser {
 public:
  QuantTypeChooser(const QuantPreset& preset, QuantLayout layout) : preset_(preset), layout_(layout) {}

  // The type `t` is written in. A row length the chosen block type does not divide falls back
  // to a type that fits (llama.cpp's table, then F16), and a one-line `notice` says so.
  DType choose(const Tensor& t, std::string* notice);

 private:
  DType mixture_type(const Tensor& t);

  const QuantPreset& preset_;
  QuantLayout layout_;
  int i_attention_v_ = 0;
  int i_ffn_down_ = 0;
};

// The type to use when row_length is not a multiple of `wanted`'s block: Q4_K -> Q5_0,
// Q5_K -> Q5_1, Q6_K -> Q8_0 (llama.cpp's choices), and F16 when that does not fit either.
// Returns `wanted` when it fits.
DType fallback_type(DType wanted, int64_t row_length);

struct QuantizeOptions {
  std::string tokenizer;          // for a llama2.c input
  bool allow_requantize = false;  // quantize tensors that are already block-quantized
  bool pure = false;              // no mixture: every quantizable matrix in the preset's base type
};

struct QuantizeReport {
  std::vector<std::string> notices;  // one line per fallback
  uint64_t bytes_in = 0, bytes_out = 0;
  int tensors = 0, converted = 0;
};

QuantizeReport quantize_model(const std::string& in, const std::string& out, const QuantPreset& preset,
                              const QuantizeOptions& options);

}  // namespace lumen
