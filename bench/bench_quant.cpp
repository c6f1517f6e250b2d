// Quantized decode and prefill against their ceilings, on a random-weight model of the
// TinyLlama-1.1B shape (dim 2048, hidden 5632, 22 layers, 32 heads, 4 KV heads, vocab 32000,
// separate classifier) held in memory:
//  (a) the ceilings (runtime/roofline.h): memory read bandwidth, best over 1-16 concurrent
//      streams per thread, and peak int8 dot-product and f32 FMA throughput;
//  (b) per weight type: decode tokens/s through the forward pass against bandwidth / bytes read
//      per token, and prefill tokens/s of one prompt with the percentage of peak it reaches
//      (2 x matrix parameters ops per token; int8 peak for quantized types, f32 for F16);
//      cpu% is the share of the threads' wall time the process ran (below 100 on a shared machine).
// Weights are random blocks with small scales (generating them costs seconds; quantizing 1.1B
// floats with ggml's K-quant search would cost minutes, and the kernels' speed does not depend
// on the values).
//
// Usage: bench_quant [--type q4_0|q8_0|q4_k_m|f16]... [--threads N] [--decode N] [--prefill N]
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "formats/loaded_model.h"
#include "formats/quantize_model.h"
#include "kernels/cpu_features.h"
#include "models/decoder.h"
#include "models/pack_weights.h"
#include "models/model_costs.h"
#include "runtime/roofline.h"

using namespace lumen;

namespace {

struct Options {
  std::vector<std::string> types;
  int threads = 2;
  int decode_tokens = 32;
  int prefill_tokens = 512;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i += 2) {  // every option takes a value
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : "";
    if (a == "--type" && (!std::strcmp(v, "q4_0") || !std::strcmp(v, "q8_0") || !std::strcmp(v, "q4_k_m") ||
                          !std::strcmp(v, "f16"))) {
      o.types.push_back(v);
    } else if (a == "--threads" && std::atoi(v) > 0) {
      o.threads = std::atoi(v);
    } else if (a == "--decode" && std::atoi(v) > 0) {
      o.decode_tokens = std::atoi(v);
    } else if (a == "--prefill" && std::atoi(v) > 0) {
      o.prefill_tokens = std::atoi(v);
    } else {
      std::fprintf(stderr, "usage: %s [--type q4_0|q8_0|q4_k_m|f16]... [--threads N] [--decode N] [--prefill N]\n",
                   argv[0]);
      std::exit(2);
    }
  }
  if (o.types.empty()) o.types = {"q4_0", "q8_0", "q4_k_m", "f16"};
  return o;
}

// ---- the random model ----

class RandomBytes {
 public:
  uint64_t next() {  // xorshift64
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_;
  }
  void fill(uint8_t* p, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      const uint64_t v = next();
      std::memcpy(p + i, &v, 8);
    }
    for (; i < n; ++i) p[i] = uint8_t(next());
  }

 private:
  uint64_t state_ = 0x9e3779b97f4a7c15ull;
};

// Byte offsets of the f16 scale fields (d, and m/dmin where the type has one) in a block.
std::vector<size_t> scale_offsets(DType t) {
  switch (t) {
    case DType::Q4_1:
    case DType::Q5_1:
    case DType::Q4_K:
    case DType::Q5_K: return {0, 2};
    case DType::Q6_K: return {208};
    default: return {0};
  }
}

// Random quants with finite small scales; for F16, random mantissas and signs at 2^-7 scale.
void randomize(DType t, uint8_t* p, size_t bytes, RandomBytes& rng) {
  rng.fill(p, bytes);
  if (t == DType::F16) {
    for (size_t i = 0; i + 2 <= bytes; i += 2) {
      const uint16_t h = uint16_t((p[i] | p[i + 1] << 8) & 0x83FF) | 0x2000;
      std::memcpy(p + i, &h, 2);
    }
    return;
  }
  const size_t block = dtype_info(t).block_bytes;
  const uint16_t scale = f32_to_f16(0.002f);
  for (size_t b = 0; b < bytes; b += block)
    for (size_t off : scale_offsets(t)) std::memcpy(p + b + off, &scale, 2);
}

// The matrix types of a preset: "q4_k_m" is llama-quantize's Q4_K_M mixture (Q6_K for the
// classifier and for attn_v / ffn_down of the layers use_more_bits picks, Q4_K elsewhere).
std::unique_ptr<LoadedModel> random_tinyllama(const std::string& type) {
  auto m = std::make_unique<LoadedModel>();
  m->format = "random";
  ModelConfig& c = m->config;
  c.dim = 2048, c.hidden_dim = 5632, c.n_layers = 22, c.n_heads = 32, c.n_kv_heads = 4;
  c.vocab_size = 32000, c.context_length = 2048;
  validate(c);

  const QuantPreset& preset = find_quant_preset(type == "q4_k_m" ? "Q4_K_M" : type == "q4_0" ? "Q4_0"
                                                : type == "q8_0" ? "Q8_0" : "F16");
  QuantTypeChooser chooser(preset, QuantLayout{c.n_layers, c.n_layers, false});
  RandomBytes rng;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    Tensor t{name, DType::F32, std::move(shape), nullptr};
    const bool matrix = t.shape.size() == 2;
    std::string notice;
    if (matrix) t.type = chooser.choose(t, &notice);
    std::vector<uint8_t>& buf = m->buffers.emplace_back(t.bytes());
    if (matrix) {
      randomize(t.type, buf.data(), buf.size(), rng);
    } else {  // norm weights: ones
      for (size_t i = 0; i < buf.size(); i += 4) std::memcpy(buf.data() + i, "\0\0\x80\x3f", 4);
    }
    t.data = buf.data();
    m->tensors.push_back(t);
    return t;
  };
  // llama.cpp's tensor order, which the mixture's attn_v / ffn_down counters follow.
  ModelWeights& w = m->weights;
  w.token_embd = add("token_embd.weight", {c.dim, c.vocab_size});
  w.output_norm = add("output_norm.weight", {c.dim});
  w.output = add("output.weight", {c.dim, c.vocab_size});
  for (int l = 0; l < c.n_layers; ++l) {
    LayerWeights& L = w.layers.emplace_back();
    const std::string p = "blk." + std::to_string(l) + ".";
    L.attn_norm = add(p + "attn_norm.weight", {c.dim});
    L.wq = add(p + "attn_q.weight", {c.dim, c.dim});
    L.wk = add(p + "attn_k.weight", {c.dim, c.kv_dim()});
    L.wv = add(p + "attn_v.weight", {c.dim, c.kv_dim()});
    L.wo = add(p + "attn_output.weight", {c.dim, c.dim});
    L.ffn_norm = add(p + "ffn_norm.weight", {c.dim});
    L.w_gate = add(p + "ffn_gate.weight", {c.dim, c.hidden_dim});
    L.w_up = add(p + "ffn_up.weight", {c.dim, c.hidden_dim});
    L.w_down = add(p + "ffn_down.weight", {c.hidden_dim, c.dim});
  }
  check_weights(c, w);
  pack_weights(*m);  // as Model::load does
  return m;
}

// A timing, and the share of the pool's threads' time this process actually ran: on a shared
// machine the share tells how much of a shortfall is other people's load.
struct Timing {
  double tokens_per_s;
  double cpu_share;
};

template <typename Fn>
Timing timed(int tokens, int threads, Fn fn) {
  const std::clock_t c0 = std::clock();
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  const double wall = seconds_since(t0);
  return {tokens / wall, double(std::clock() - c0) / CLOCKS_PER_SEC / (wall * threads)};
}

// Best-of-3 tokens/s of `tokens` decode steps from position 0 through the forward pass.
Timing decode_tokens_per_s(const LoadedModel& m, ThreadPool& pool, int tokens) {
  SequenceRunner dec(m, tokens, pool);
  std::vector<float> logits(m.config.vocab_size);
  Timing best{0, 0};
  for (int rep = 0; rep < 3; ++rep) {
    const Timing t = timed(tokens, pool.size(), [&] {
      for (int32_t pos = 0; pos < tokens; ++pos) {
        const int32_t token = (pos * 7919 + rep) % m.config.vocab_size;
        dec.decode(token, pos, logits.data());
      }
    });
    if (t.tokens_per_s > best.tokens_per_s) best = t;
  }
  return best;
}

// Tokens/s of one `tokens`-token prompt through the forward pass (one run: each costs seconds).
Timing prefill_tokens_per_s(const LoadedModel& m, ThreadPool& pool, int tokens) {
  SequenceRunner dec(m, tokens, pool);
  std::vector<float> logits(m.config.vocab_size);
  std::vector<int32_t> prompt(tokens);
  for (int i = 0; i < tokens; ++i) prompt[i] = (i * 7919) % m.config.vocab_size;
  return timed(tokens, pool.size(), [&] { dec.forward(prompt, 0, logits.data()); });
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  ThreadPool pool(opt.threads);
  std::printf("machine  %s, %u hardware threads; %d threads; kernel ISA %s (VNNI %s)\n", cpu_model().c_str(),
              std::thread::hardware_concurrency(), opt.threads, std::string(isa_name(kernel_isa())).c_str(),
              cpu_has_avx512_vnni() ? "yes" : "no");

  const double bandwidth = measure_read_bandwidth(pool);
  const double int8_peak = measure_peak_int8_gops(pool) * 1e9, f32_peak = measure_peak_f32_gflops(pool) * 1e9;
  std::printf("(a) read bandwidth %.1f GB/s; peak int8 %.0f GOP/s, peak f32 %.0f GFLOP/s\n", bandwidth, int8_peak / 1e9,
              f32_peak / 1e9);

  std::printf("\n(b) TinyLlama-1.1B shape, random weights; decode %d tokens from position 0 (best of 3), "
              "prefill one %d-token prompt\n",
              opt.decode_tokens, opt.prefill_tokens);
  std::printf("type     GB/token  roofline_tok/s  decode_tok/s  %%roof  cpu%%  prefill_tok/s  GOPS  %%peak  cpu%%\n");
  for (const std::string& type : opt.types) {
    const auto model = random_tinyllama(type);
    const ModelCosts costs = model_costs(*model);
    const double roof = bandwidth * 1e9 / double(costs.weight_bytes_per_token);
    const Timing dec = decode_tokens_per_s(*model, pool, opt.decode_tokens);
    const Timing pre = prefill_tokens_per_s(*model, pool, opt.prefill_tokens);
    // Only the last prompt token goes through the classifier.
    const double classifier = 2.0 * double(model->weights.output.elements());
    const double ops =
        pre.tokens_per_s * (double(costs.matmul_flops_per_token) - classifier + classifier / opt.prefill_tokens);
    const double peak = type == "f16" ? f32_peak : int8_peak;
    std::printf("%-7s  %8.3f  %14.1f  %12.1f  %5.1f  %4.0f  %13.1f  %4.0f  %5.1f  %4.0f\n", type.c_str(),
                costs.weight_bytes_per_token / 1e9, roof, dec.tokens_per_s, 100 * dec.tokens_per_s / roof,
                100 * dec.cpu_share, pre.tokens_per_s, ops / 1e9, 100 * ops / peak, 100 * pre.cpu_share);
    std::fflush(stdout);
  }
  return 0;
}
