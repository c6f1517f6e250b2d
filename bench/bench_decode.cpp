// Decode speed against the memory-bandwidth roofline.
//
// (a) memory read bandwidth (runtime/read_bandwidth.h), each thread reading its share of the
//     buffer as 1, 2, 4, 8 or 16 widely separated concurrent streams;
// (b) decode tokens/s of a model of the llama2.c 110M shape with random weights, through the
//     real forward pass (models/decoder.h) and through its matrix products alone;
// (c) the roofline: best bandwidth / weight bytes a decode step reads, and the percentage of it
//     each measurement reaches;
// (d) prefill tokens/s of one prompt and the matrix-product GFLOP/s it implies.
//
// Usage: bench_decode [--dtype f32|f16|bf16] [--tokens N] [--threads N]...   (default: 1 and 2)
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "formats/loaded_model.h"
#include "kernels/cpu_features.h"
#include "kernels/matmul.h"
#include "models/decoder.h"
#include "models/model_costs.h"
#include "runtime/roofline.h"
#include "util/error.h"

using namespace lumen;

namespace {

constexpr int kRepeats = 5;

struct Options {
  DType dtype = DType::F32;
  int tokens = 64;
  std::vector<int> threads;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i += 2) {  // every option takes a value
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : "";
    if (a == "--dtype" && (!std::strcmp(v, "f32") || !std::strcmp(v, "f16") || !std::strcmp(v, "bf16"))) {
      o.dtype = !std::strcmp(v, "f32") ? DType::F32 : !std::strcmp(v, "f16") ? DType::F16 : DType::BF16;
    } else if (a == "--tokens" && std::atoi(v) > 0) {
      o.tokens = std::atoi(v);
    } else if (a == "--threads" && std::atoi(v) > 0) {
      o.threads.push_back(std::atoi(v));
    } else {
      std::fprintf(stderr, "usage: %s [--dtype f32|f16|bf16] [--tokens N] [--threads N]...\n", argv[0]);
      std::exit(2);
    }
  }
  if (o.threads.empty()) o.threads = {1, 2};
  return o;
}

// Random weights in [-0.05, 0.05] stored as `type`: values small enough that activations stay
// finite through 12 layers, so the timing is of ordinary arithmetic.
class ModelBuilder {
 public:
  explicit ModelBuilder(LoadedModel& m) : m_(m) {}

  Tensor add(const std::string& name, DType type, std::vector<int64_t> shape, bool ones = false) {
    Tensor t{name, type, std::move(shape), nullptr};
    std::vector<uint8_t>& buf = m_.buffers.emplace_back(t.bytes());
    for (int64_t i = 0; i < t.elements(); ++i) {
      const float v = ones ? 1.0f : next() * 0.05f;
      if (type == DType::F32) {
        std::memcpy(buf.data() + 4 * i, &v, 4);
      } else {
        const uint16_t h = type == DType::F16 ? f32_to_f16(v) : f32_to_bf16(v);
        std::memcpy(buf.data() + 2 * i, &h, 2);
      }
    }
    t.data = buf.data();
    m_.tensors.push_back(t);
    return t;
  }

 private:
  float next() {  // xorshift64: uniform in [-1, 1), fast enough for 110M values
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return float(int64_t(state_ >> 11) - (int64_t(1) << 52)) / float(int64_t(1) << 52);
  }
  LoadedModel& m_;
  uint64_t state_ = 0x9e3779b97f4a7c15ull;
};

// llama2.c's 110M model (stories110M): dim 768, 12 layers, 12 heads, hidden 2048, vocab 32000,
// context 1024, classifier tied to the embedding.
std::unique_ptr<LoadedModel> random_110m(DType type) {
  auto m = std::make_unique<LoadedModel>();
  m->format = "random";
  ModelConfig& c = m->config;
  c.dim = 768, c.hidden_dim = 2048, c.n_layers = 12, c.n_heads = 12, c.n_kv_heads = 12;
  c.vocab_size = 32000, c.context_length = 1024;
  validate(c);
  ModelBuilder b(*m);
  ModelWeights& w = m->weights;
  w.token_embd = b.add("token_embd", type, {c.dim, c.vocab_size});
  for (int l = 0; l < c.n_layers; ++l) {
    LayerWeights& L = w.layers.emplace_back();
    const std::string p = "blk." + std::to_string(l) + ".";
    L.attn_norm = b.add(p + "attn_norm", DType::F32, {c.dim}, true);
    L.wq = b.add(p + "attn_q", type, {c.dim, c.dim});
    L.wk = b.add(p + "attn_k", type, {c.dim, c.kv_dim()});
    L.wv = b.add(p + "attn_v", type, {c.dim, c.kv_dim()});
    L.wo = b.add(p + "attn_output", type, {c.dim, c.dim});
    L.ffn_norm = b.add(p + "ffn_norm", DType::F32, {c.dim}, true);
    L.w_gate = b.add(p + "ffn_gate", type, {c.dim, c.hidden_dim});
    L.w_up = b.add(p + "ffn_up", type, {c.dim, c.hidden_dim});
    L.w_down = b.add(p + "ffn_down", type, {c.hidden_dim, c.dim});
  }
  w.output_norm = b.add("output_norm", DType::F32, {c.dim}, true);
  w.output = w.token_embd;
  w.tied_output = true;
  check_weights(c, w);
  return m;
}

// Best-of-kRepeats tokens/s of `tokens` decode steps from position 0 through the forward pass.
double decoder_tokens_per_s(const LoadedModel& m, ThreadPool& pool, int tokens) {
  SequenceRunner dec(m, tokens, pool);
  std::vector<float> logits(m.config.vocab_size);
  double best = 0;
  for (int rep = 0; rep < kRepeats; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int32_t pos = 0; pos < tokens; ++pos) {
      const int32_t token = (pos * 7919 + rep) % m.config.vocab_size;
      dec.decode(token, pos, logits.data());
    }
    best = std::max(best, tokens / seconds_since(t0));
  }
  return best;
}

// Best-of-kRepeats tokens/s of one `tokens`-token prompt (prefill) through the forward pass:
// matrix x matrix products, compute bound.
double prefill_tokens_per_s(const LoadedModel& m, ThreadPool& pool, int tokens) {
  SequenceRunner dec(m, tokens, pool);
  std::vector<float> logits(m.config.vocab_size);
  std::vector<int32_t> prompt(tokens);
  for (int i = 0; i < tokens; ++i) prompt[i] = (i * 7919) % m.config.vocab_size;
  double best = 0;
  for (int rep = 0; rep < kRepeats; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    dec.forward(prompt, 0, logits.data());
    best = std::max(best, tokens / seconds_since(t0));
  }
  return best;
}

// The same step reduced to its matrix products (one matrix x vector per weight matrix): the
// ceiling the kernels alone reach, to separate their speed from the rest of the forward pass.
double matmul_only_tokens_per_s(const LoadedModel& m, ThreadPool& pool, int tokens) {
  const ModelConfig& c = m.config;
  std::vector<float> in(c.hidden_dim, 0.01f), out(std::max(c.vocab_size, c.hidden_dim));
  double best = 0;
  for (int rep = 0; rep < kRepeats; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int t = 0; t < tokens; ++t) {
      for (const LayerWeights& L : m.weights.layers)
        for (const Tensor* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down})
          matmul(*w, in.data(), out.data(), 1, pool);
      matmul(m.weights.output, in.data(), out.data(), 1, pool);
    }
    best = std::max(best, tokens / seconds_since(t0));
  }
  return best;
}

// Mean time of an empty parallel section: the synchronisation a decode step pays per kernel.
double barrier_us(ThreadPool& pool) {
  constexpr int kRuns = 20000;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRuns; ++i) pool.run([](int, int) {});
  return seconds_since(t0) / kRuns * 1e6;
}

}  // namespace

int bench_main(const Options& opt) {
  std::printf("machine        %s, %u hardware threads\n", cpu_model().c_str(),
              std::thread::hardware_concurrency());
  std::printf("kernel ISA     %s (best available: %s; LUMEN_ISA overrides)\n", std::string(isa_name(kernel_isa())).c_str(),
              std::string(isa_name(best_isa())).c_str());

  std::printf("\n(a) memory read bandwidth, GB/s, best of repetitions over ~1 s of a %zu MiB buffer\n",
              kReadBufferBytes >> 20);
  std::printf("threads");
  for (int streams : kReadStreams) std::printf("  %2d stream%s", streams, streams == 1 ? " " : "s");
  std::printf("  repetitions  (concurrent streams per thread)\n");
  std::vector<double> bandwidth;  // best over stream counts, per entry of opt.threads
  for (int nth : opt.threads) {
    ThreadPool pool(nth);
    const ReadBuffer buffer(pool);
    const ReadBandwidth bw = measure_read_bandwidth(pool, buffer);
    std::printf("%7d", nth);
    for (double gbps : bw.gbps) std::printf("  %10.1f", gbps);
    std::printf("  %11d\n", bw.repetitions);
    bandwidth.push_back(bw.best());
  }

  const auto model = random_110m(opt.dtype);
  const ModelCosts costs = model_costs(*model);
  const ModelConfig& c = model->config;
  std::printf("\n(b) decode, llama2.c 110M shape, random %s weights: dim %d, layers %d, heads %d/%d, hidden %d, "
              "vocab %d, tied classifier\n",
              std::string(dtype_name(opt.dtype)).c_str(), c.dim, c.n_layers, c.n_heads, c.n_kv_heads, c.hidden_dim,
              c.vocab_size);
  std::printf("    %lld parameters, %.1f MB of weights read per token, %d tokens from position 0, best of %d\n",
              (long long)costs.parameters, costs.weight_bytes_per_token / 1e6, opt.tokens, kRepeats);

  std::printf("\n(c) threads  barrier_us  bandwidth_GB/s  roofline_tok/s  decoder_tok/s  %%roof  matmul_only_tok/s  %%roof\n");
  for (size_t i = 0; i < opt.threads.size(); ++i) {
    ThreadPool pool(opt.threads[i]);
    const double roof = bandwidth[i] * 1e9 / double(costs.weight_bytes_per_token);
    const double barrier = barrier_us(pool);
    const double dec = decoder_tokens_per_s(*model, pool, opt.tokens);
    const double mm = matmul_only_tokens_per_s(*model, pool, opt.tokens);
    std::printf("%13d  %10.2f  %14.1f  %14.1f  %13.1f  %5.1f  %17.1f  %5.1f\n", opt.threads[i], barrier, bandwidth[i],
                roof, dec, 100 * dec / roof, mm, 100 * mm / roof);
  }

  std::printf("\n(d) prefill of one %d-token prompt (matrix x matrix, compute bound)\n", opt.tokens);
  std::printf("    threads  prefill_tok/s  matmul_GFLOP/s\n");
  // Only the last prompt token goes through the classifier.
  const double classifier_flops = 2.0 * double(model->weights.output.elements());
  const double prompt_flops_per_token =
      double(costs.matmul_flops_per_token) - classifier_flops + classifier_flops / opt.tokens;
  for (int nth : opt.threads) {
    ThreadPool pool(nth);
    const double tps = prefill_tokens_per_s(*model, pool, opt.tokens);
    std::printf("%11d  %13.1f  %14.1f\n", nth, tps, tps * prompt_flops_per_token / 1e9);
  }
  return 0;
}

int main(int argc, char** argv) {
  try {
    return bench_main(parse(argc, argv));
  } catch (const Error& e) {  // e.g. a bad LUMEN_ISA
    std::fprintf(stderr, "bench_decode: %s\n", e.what());
    return 1;
  }
}
