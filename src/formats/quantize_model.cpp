#include "formats/quantize_model.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

#include "formats/gguf.h"
#include "formats/gguf_model.h"
#include "formats/gguf_writer.h"
#include "formats/loaded_model.h"
#include "tensor/quants/quantize.h"
#include "util/error.h"

namespace lumen {
namespace {

// llama-quantize's names and llama_ftype numbers (llama.h). Q4_K and Q5_K are its aliases
// for the _M mixes. Q8_K is lumen's own: llama.cpp has no Q8_K file type, but tests use it to
// check the activation format through the command line.
constexpr QuantPreset kPresets[] = {
    {"F32", DType::F32, 0, QuantMix::Pure},       {"F16", DType::F16, 1, QuantMix::Pure},
    {"BF16", DType::BF16, 32, QuantMix::Pure},    {"Q4_0", DType::Q4_0, 2, QuantMix::Basic},
    {"Q4_1", DType::Q4_1, 3, QuantMix::Basic},    {"Q5_0", DType::Q5_0, 8, QuantMix::Basic},
    {"Q5_1", DType::Q5_1, 9, QuantMix::Basic},    {"Q8_0", DType::Q8_0, 7, QuantMix::Basic},
    {"Q4_K_S", DType::Q4_K, 14, QuantMix::K_S},   {"Q4_K_M", DType::Q4_K, 15, QuantMix::K_M},
    {"Q4_K", DType::Q4_K, 15, QuantMix::K_M},     {"Q5_K_S", DType::Q5_K, 16, QuantMix::K_S},
    {"Q5_K_M", DType::Q5_K, 17, QuantMix::K_M},   {"Q5_K", DType::Q5_K, 17, QuantMix::K_M},
    {"Q6_K", DType::Q6_K, 18, QuantMix::Basic},   {"Q8_K", DType::Q8_K, std::nullopt, QuantMix::Pure},
};

// GGML_QNT_VERSION: the version of the quantized layouts, written as general.quantization_version.
constexpr uint32_t kQuantizationVersion = 2;

bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}
bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

// The N of a "blk.N." name, or -1.
int layer_of(std::string_view name) {
  if (!name.starts_with("blk.")) return -1;
  int n = 0;
  size_t i = 4;
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i) n = n * 10 + (name[i] - '0');
  return i > 4 && i < name.size() && name[i] == '.' ? n : -1;
}

// llama-quantize's tensor order: tensors outside the layers first, then layer by layer, by
// name within each. The attn_v / ffn_down counters of the mixes depend on it.
bool llama_order(const Tensor* a, const Tensor* b) {
  const int la = layer_of(a->name), lb = layer_of(b->name);
  return la != lb ? la < lb : a->name < b->name;
}

// Matrices llama-quantize converts: at least 2-D, named *weight, and not one of the small
// tensors it keeps in full precision (norms, MoE routers, learned position and token-type
// embeddings).
bool quantizable(const Tensor& t) {
  const std::string_view n = t.name;
  return t.shape.size() >= 2 && ends_with(n, "weight") && !contains(n, "_norm.weight") &&
         !contains(n, "ffn_gate_inp.weight") && n != "position_embd.weight" && n != "token_types.weight";
}

bool is_plain(DType t) { return dtype_info(t).block_elems == 1; }

// llama.cpp's use_more_bits: the first and last eighth of the layers and every third between.
bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

QuantLayout layout_of(const GgufFile& g, const std::vector<const Tensor*>& tensors) {
  QuantLayout l;
  int max_layer = -1;
  for (const Tensor* t : tensors) {
    max_layer = std::max(max_layer, layer_of(t->name));
    if (contains(t->name, "attn_v.weight") || contains(t->name, "attn_qkv.weight") ||
        contains(t->name, "attn_kv_b.weight"))
      ++l.n_attention_v;
    if (t->name == "output.weight") l.tied_output = false;
  }
  const auto arch = g.opt_string("general.architecture");
  const auto blocks = arch ? g.opt_u32(*arch + ".block_count") : std::nullopt;
  l.n_layers = blocks ? int(*blocks) : max_layer + 1;
  return l;
}

// Removes a file when it goes out of scope (the converted copy of a llama2.c input).
struct TempFile {
  std::string path;
  ~TempFile() {
    if (!path.empty()) std::remove(path.c_str());
  }
};

}  // namespace

const QuantPreset& find_quant_preset(std::string_view name) {
  for (const QuantPreset& p : kPresets)
    if (p.name == name) return p;
  fail("unknown quantization type '", name, "'; valid types: ", quant_preset_names());
}

std::string quant_preset_names() {
  std::string s;
  for (const QuantPreset& p : kPresets) s += (s.empty() ? "" : ", ") + std::string(p.name);
  return s;
}

DType fallback_type(DType wanted, int64_t row_length) {
  const auto fits = [&](DType t) { return row_length % dtype_info(t).block_elems == 0; };
  if (fits(wanted)) return wanted;
  DType next = DType::F16;
  switch (wanted) {
    case DType::Q4_K: next = DType::Q5_0; break;
    case DType::Q5_K: next = DType::Q5_1; break;
    case DType::Q6_K: next = DType::Q8_0; break;
    default: break;  // llama.cpp gives up here; lumen keeps the tensor in F16 instead
  }
  return fits(next) ? next : DType::F16;
}

DType QuantTypeChooser::mixture_type(const Tensor& t) {
  const DType base = preset_.base;
  const std::string_view n = t.name;
  const bool k_s = preset_.mix == QuantMix::K_S, k_m = preset_.mix == QuantMix::K_M;
  if (n == "output.weight" || (layout_.tied_output && n == "token_embd.weight")) {
    // The classifier is the most sensitive matrix: Q6_K unless the base is already Q8_0.
    if (t.row_length() % dtype_info(base).block_elems != 0) return DType::Q8_0;
    return base == DType::Q8_0 ? base : DType::Q6_K;
  }
  if (n == "token_embd.weight") return base;
  if (contains(n, "attn_v.weight") || contains(n, "attn_qkv.weight") || contains(n, "attn_kv_b.weight")) {
    const int i = i_attention_v_++;
    if (k_m && use_more_bits(i, layout_.n_attention_v)) return DType::Q6_K;
    if (k_s && i < 4) return DType::Q5_K;
    return base;
  }
  if (contains(n, "ffn_down")) {
    const int i = i_ffn_down_++;
    if (k_m && use_more_bits(i, layout_.n_layers)) return DType::Q6_K;
    if (k_s && i < layout_.n_layers / 8) return DType::Q5_K;
  }
  return base;
}

DType QuantTypeChooser::choose(const Tensor& t, std::string* notice) {
  if (is_plain(preset_.base)) return preset_.base;
  const DType wanted = preset_.mix == QuantMix::Pure ? preset_.base : mixture_type(t);
  const DType chosen = fallback_type(wanted, t.row_length());
  if (chosen != wanted && notice) {
    *notice = t.name + ": row length " + std::to_string(t.row_length()) + " is not a multiple of " +
              std::string(dtype_name(wanted)) + "'s block of " + std::to_string(dtype_info(wanted).block_elems) +
              "; using " + std::string(dtype_name(chosen));
  }
  return chosen;
}

QuantizeReport quantize_model(const std::string& in, const std::string& out, const QuantPreset& preset,
                              const QuantizeOptions& options) {
  // A llama2.c checkpoint is first written as an F32 GGUF, so one path handles both formats.
  TempFile converted;
  auto file = std::make_shared<const MappedFile>(in);
  if (file->size() < 4 || std::memcmp(file->data(), "GGUF", 4) != 0) {
    converted.path = out + ".f32-convert.gguf";
    write_gguf_model(*load_model(in, options.tokenizer), converted.path);
    file = std::make_shared<const MappedFile>(converted.path);
  }
  const GgufFile g(file);

  GgufWriter w;
  for (const auto& kv : g.metadata()) {
    // Rewritten below, or meaningless in the single 32-byte-aligned file the writer makes.
    if (kv.key == "general.file_type" || kv.key == "general.quantization_version" || kv.key == "general.alignment" ||
        kv.key.starts_with("split."))
      continue;
    w.add_value(kv.key, kv.value);
  }
  w.add_u32("general.quantization_version", kQuantizationVersion);
  if (preset.ftype) w.add_u32("general.file_type", *preset.ftype);

  std::vector<const Tensor*> order;
  for (const Tensor& t : g.tensors()) order.push_back(&t);
  std::stable_sort(order.begin(), order.end(), llama_order);

  QuantPreset chosen_preset = preset;
  if (options.pure) chosen_preset.mix = QuantMix::Pure;
  QuantTypeChooser chooser(chosen_preset, layout_of(g, order));
  QuantizeReport report;
  for (const Tensor* t : order) {
    std::string notice;
    const DType type = quantizable(*t) ? chooser.choose(*t, &notice) : t->type;
    if (!notice.empty()) report.notices.push_back(notice);
    const std::span<const uint8_t> bytes(static_cast<const uint8_t*>(t->data), t->bytes());
    report.bytes_in += bytes.size();
    ++report.tensors;
    if (type == t->type) {
      report.bytes_out += bytes.size();
      w.add_tensor(t->name, type, t->shape, bytes);
      continue;
    }
    // Widening to F32 is exact; anything else from a block type rounds a second time.
    if (!is_plain(t->type) && type != DType::F32 && !options.allow_requantize)
      fail("tensor '", t->name, "' is already ", dtype_name(t->type), "; requantizing loses precision twice, "
           "pass --allow-requantize to do it anyway");
    const std::vector<float> values = dequantize_tensor(t->type, t->data, t->rows(), t->row_length());
    std::vector<uint8_t> data = quantize_tensor(type, values.data(), t->rows(), t->row_length());
    report.bytes_out += data.size();
    ++report.converted;
    w.add_tensor(t->name, type, t->shape, std::move(data));
  }
  w.write(out);
  return report;
}

}  // namespace lumen
