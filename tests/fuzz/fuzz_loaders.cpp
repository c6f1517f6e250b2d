// Mutation fuzzer for lumen's readers of untrusted input: GGUF models and vocabularies,
// llama2.c checkpoints and tokenizers, Hugging Face folders (config.json, safetensors,
// tokenizer.json), chat templates, and tokenizer encode/decode of arbitrary bytes.
//
//   fuzz_loaders TARGET [SECONDS [SEED]]      TARGET: gguf vocab llama2c hf-model hf-tokenizer
//                                                     template tokenize
//   fuzz_loaders TARGET --replay FILE [N]     reads FILE as a mutation of the target's seed N
//
// Each iteration mutates a valid seed (bit flips, boundary values in 1/2/4/8-byte fields,
// truncation, removed/duplicated/repeated ranges, dictionary words) and feeds it to the entry
// point the command line uses. A lumen::Error with a one-line message is the expected outcome
// of bad input; any other exception, a multi-line message, an iteration slower than
// kIterationSeconds, a crash or a sanitizer report is a finding. Build it with -DLUMEN_FUZZ=ON
// (and -DLUMEN_SANITIZE=ON to see memory errors); run it with, for example,
//   ASAN_OPTIONS=max_allocation_size_mb=1024:allocator_may_return_null=0 build-asan/tests/fuzz/fuzz_loaders gguf 300
// so that a size field trusted before it is checked shows as an allocation failure.
// The input of the failing iteration is left in /dev/shm/lumen-fuzz-TARGET-PID/.
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "formats/gguf.h"
#include "formats/loaded_model.h"
#include "formats/vocab_file.h"
#include "lumen/lumen.h"
#include "server/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace fs = std::filesystem;
using nlohmann::json;
using Bytes = std::vector<uint8_t>;

namespace {

constexpr unsigned kIterationSeconds = 60;  // under ASan, on a busy machine; a hang is far slower
constexpr size_t kMaxInput = size_t(8) << 20;

struct Rng {
  uint64_t s;
  uint64_t next() {  // splitmix64
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return n ? size_t(next() % n) : 0; }
  bool percent(int p) { return int(below(100)) < p; }
};

// A valid input and the prefix of it where mutations matter most (a GGUF's header, not its
// tensor data).
struct Seed {
  std::string name;
  Bytes bytes;
  size_t hot = 0;
};

uint64_t boundary(Rng& r, uint64_t old) {
  static const uint64_t values[] = {0,           1,           2,           0x7f,        0x80,
                                    0xff,        0x7fff,      0x8000,      0xffff,      0x7fffffff,
                                    0x80000000u, 0xffffffffu, 1ull << 32,  1ull << 60,  0x7fffffffffffffffull,
                                    1ull << 63,  ~0ull,       ~0ull - 1};
  switch (r.below(4)) {
    case 0: return old + 1;
    case 1: return old - 1;
    case 2: return r.below(64);
    default: return values[r.below(std::size(values))];
  }
}

Bytes mutate(Bytes b, const Seed& seed, Rng& r, const std::vector<std::string>& dict) {
  const int n = 1 + int(r.below(r.percent(70) ? 3 : 12));
  for (int m = 0; m < n; ++m) {
    const size_t size = b.size();
    const size_t hot = std::min(seed.hot ? seed.hot : size, size);
    auto offset = [&] { return r.percent(85) && hot ? r.below(hot) : r.below(size + 1); };
    switch (r.below(dict.empty() ? 8 : 10)) {
      case 0:
      case 1:
        if (size) b[r.below(size) % size] ^= uint8_t(1u << r.below(8));
        break;
      case 2:
        if (size) b[offset() % size] = uint8_t(r.next());
        break;
      case 3:
      case 4: {  // a 1/2/4/8-byte little-endian field set to a boundary value
        const size_t w = size_t(1) << r.below(4);
        const size_t at = offset();
        if (at + w > size) break;
        uint64_t old = 0;
        std::memcpy(&old, &b[at], w);
        const uint64_t v = boundary(r, old);
        std::memcpy(&b[at], &v, w);
        break;
      }
      case 5:
        b.resize(offset());
        break;
      case 6: {  // remove a range
        const size_t at = offset(), len = std::min(size - std::min(at, size), 1 + r.below(r.percent(80) ? 16 : 4096));
        if (at < size) b.erase(b.begin() + std::ptrdiff_t(at), b.begin() + std::ptrdiff_t(at + len));
        break;
      }
      case 7: {  // duplicate a range, sometimes many times over (deep nesting, long runs)
        const size_t at = offset();
        if (at >= size) break;
        const size_t len = std::min(size - at, 1 + r.below(r.percent(70) ? 8 : 512));
        const size_t times = r.percent(90) ? 1 : 1 + r.below(r.percent(50) ? 100 : 100000);
        const Bytes chunk(b.begin() + std::ptrdiff_t(at), b.begin() + std::ptrdiff_t(at + len));
        Bytes run;
        for (size_t i = 0; i < times && run.size() + b.size() < kMaxInput; ++i) run.insert(run.end(), chunk.begin(), chunk.end());
        b.insert(b.begin() + std::ptrdiff_t(at), run.begin(), run.end());
        break;
      }
      default: {  // a dictionary word inserted or written over
        const std::string& w = dict[r.below(dict.size())];
        const size_t at = offset();
        if (at > size) break;
        if (r.percent(50)) {
          b.insert(b.begin() + std::ptrdiff_t(at), w.begin(), w.end());
        } else {
          const size_t len = std::min(w.size(), size - at);
          std::memcpy(&b[at], w.data(), len);
        }
        break;
      }
    }
  }
  return b;
}

Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read seed " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& path, const Bytes& b) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

Bytes to_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

std::string src(const std::string& rel) { return std::string(LUMEN_SOURCE_DIR) + "/" + rel; }

// A few strings through a tokenizer, and ids (some outside the vocabulary) back to text.
void exercise(const lumen::Tokenizer& t, std::string_view text, Rng& r) {
  for (bool special : {false, true}) {
    const std::vector<int32_t> ids = t.encode(text, special);
    t.decode(ids);
  }
  std::vector<int32_t> ids;
  for (int i = 0; i < 16; ++i) ids.push_back(int32_t(r.below(size_t(t.vocab().size()) + 2)) - 1);
  try {
    t.decode(ids);
  } catch (const lumen::Error&) {  // an id outside the vocabulary
  }
}

// A model that loads must also run: a short greedy generation on a small context.
void generate(const std::shared_ptr<const lumen::Model>& model) {
  lumen::Session session(model, {.context_length = 16, .threads = 1});
  lumen::GenerateOptions o;
  o.max_tokens = 2;
  o.temperature = 0;
  session.generate("Once", o, [](std::string_view) {});
}

const char* const kText = "Once upon a time, <s> a [CLS] cat</s> said \xE2\x96\x81 \xF0\x9F\x98\x80 <|endoftext|>\n\t 123 ";

// --- the seeds of each target ------------------------------------------------------------

size_t gguf_header_end(const std::string& path) {
  return lumen::GgufFile(std::make_shared<const lumen::MappedFile>(path)).data_offset();
}

// A safetensors file of F32 tensors ({name, row-major shape}), filled with small values.
Bytes safetensors(const std::vector<std::pair<std::string, std::vector<int64_t>>>& specs, size_t& header_end) {
  json header = json::object();
  Bytes data;
  for (const auto& [name, shape] : specs) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    const size_t begin = data.size();
    for (int64_t i = 0; i < n; ++i) {
      const float v = float(i % 7) * 0.01f;
      const auto* p = reinterpret_cast<const uint8_t*>(&v);
      data.insert(data.end(), p, p + 4);
    }
    header[name] = {{"dtype", "F32"}, {"shape", shape}, {"data_offsets", {begin, data.size()}}};
  }
  const std::string text = header.dump();
  Bytes out(8);
  const uint64_t len = text.size();
  std::memcpy(out.data(), &len, 8);
  out.insert(out.end(), text.begin(), text.end());
  header_end = out.size();
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// config.json and model.safetensors of a one-layer model of each family (vocabulary 512, so
// that tok512.bin tokenizes it).
std::vector<std::pair<Seed, Seed>> hf_seeds() {
  constexpr int64_t V = 512, D = 8, H = 16, C = 32;
  std::vector<std::pair<Seed, Seed>> out;
  auto add = [&](const std::string& name, const json& config, std::vector<std::pair<std::string, std::vector<int64_t>>> t) {
    Seed s{name + "/model.safetensors", {}, 0};
    s.bytes = safetensors(t, s.hot);
    out.push_back({Seed{name + "/config.json", to_bytes(config.dump(1)), 0}, s});
  };
  const std::string l = "model.layers.0.";
  add("llama",
      {{"architectures", {"LlamaForCausalLM"}}, {"hidden_size", D}, {"intermediate_size", H}, {"num_hidden_layers", 1},
       {"num_attention_heads", 2}, {"num_key_value_heads", 1}, {"vocab_size", V}, {"max_position_embeddings", C},
       {"rms_norm_eps", 1e-5}, {"rope_theta", 10000.0}, {"tie_word_embeddings", false}, {"head_dim", 4}},
      {{"model.embed_tokens.weight", {V, D}}, {"model.norm.weight", {D}}, {"lm_head.weight", {V, D}},
       {l + "input_layernorm.weight", {D}}, {l + "post_attention_layernorm.weight", {D}},
       {l + "self_attn.q_proj.weight", {D, D}}, {l + "self_attn.k_proj.weight", {4, D}},
       {l + "self_attn.v_proj.weight", {4, D}}, {l + "self_attn.o_proj.weight", {D, D}},
       {l + "mlp.gate_proj.weight", {H, D}}, {l + "mlp.up_proj.weight", {H, D}}, {l + "mlp.down_proj.weight", {D, H}}});
  add("mixtral",
      {{"architectures", {"MixtralForCausalLM"}}, {"hidden_size", D}, {"intermediate_size", H}, {"num_hidden_layers", 1},
       {"num_attention_heads", 2}, {"num_key_value_heads", 2}, {"vocab_size", V}, {"max_position_embeddings", C},
       {"rms_norm_eps", 1e-5}, {"num_local_experts", 2}, {"num_experts_per_tok", 1}, {"sliding_window", 4},
       {"tie_word_embeddings", true}},
      {{"model.embed_tokens.weight", {V, D}}, {"model.norm.weight", {D}}, {l + "input_layernorm.weight", {D}},
       {l + "post_attention_layernorm.weight", {D}}, {l + "self_attn.q_proj.weight", {D, D}},
       {l + "self_attn.k_proj.weight", {D, D}}, {l + "self_attn.v_proj.weight", {D, D}},
       {l + "self_attn.o_proj.weight", {D, D}}, {l + "block_sparse_moe.gate.weight", {2, D}},
       {l + "block_sparse_moe.experts.0.w1.weight", {H, D}}, {l + "block_sparse_moe.experts.0.w2.weight", {D, H}},
       {l + "block_sparse_moe.experts.0.w3.weight", {H, D}}, {l + "block_sparse_moe.experts.1.w1.weight", {H, D}},
       {l + "block_sparse_moe.experts.1.w2.weight", {D, H}}, {l + "block_sparse_moe.experts.1.w3.weight", {H, D}}});
  add("gpt2",
      {{"architectures", {"GPT2LMHeadModel"}}, {"n_embd", D}, {"n_layer", 1}, {"n_head", 2}, {"vocab_size", V},
       {"n_positions", C}, {"activation_function", "gelu_new"}},
      {{"wte.weight", {V, D}}, {"wpe.weight", {C, D}}, {"ln_f.weight", {D}}, {"ln_f.bias", {D}},
       {"h.0.ln_1.weight", {D}}, {"h.0.ln_1.bias", {D}}, {"h.0.attn.c_attn.weight", {D, 3 * D}},
       {"h.0.attn.c_attn.bias", {3 * D}}, {"h.0.attn.c_proj.weight", {D, D}}, {"h.0.attn.c_proj.bias", {D}},
       {"h.0.ln_2.weight", {D}}, {"h.0.ln_2.bias", {D}}, {"h.0.mlp.c_fc.weight", {D, 4 * D}},
       {"h.0.mlp.c_fc.bias", {4 * D}}, {"h.0.mlp.c_proj.weight", {4 * D, D}}, {"h.0.mlp.c_proj.bias", {D}}});
  add("bloom",
      {{"architectures", {"BloomForCausalLM"}}, {"hidden_size", D}, {"n_layer", 1}, {"n_head", 2}, {"vocab_size", V},
       {"seq_length", C}},
      {{"transformer.word_embeddings.weight", {V, D}}, {"transformer.word_embeddings_layernorm.weight", {D}},
       {"transformer.word_embeddings_layernorm.bias", {D}}, {"transformer.ln_f.weight", {D}},
       {"transformer.ln_f.bias", {D}}, {"transformer.h.0.input_layernorm.weight", {D}},
       {"transformer.h.0.input_layernorm.bias", {D}},
       {"transformer.h.0.self_attention.query_key_value.weight", {3 * D, D}},
       {"transformer.h.0.self_attention.query_key_value.bias", {3 * D}},
       {"transformer.h.0.self_attention.dense.weight", {D, D}}, {"transformer.h.0.self_attention.dense.bias", {D}},
       {"transformer.h.0.post_attention_layernorm.weight", {D}}, {"transformer.h.0.post_attention_layernorm.bias", {D}},
       {"transformer.h.0.mlp.dense_h_to_4h.weight", {4 * D, D}}, {"transformer.h.0.mlp.dense_h_to_4h.bias", {4 * D}},
       {"transformer.h.0.mlp.dense_4h_to_h.weight", {D, 4 * D}}, {"transformer.h.0.mlp.dense_4h_to_h.bias", {D}}});
  return out;
}

const std::vector<std::string> kJsonWords = {
    "\"", "{", "}", "[", "]", ":", ",", "null", "true", "false", "-1", "0", "1e309", "-0", "2147483648",
    "4294967296", "18446744073709551616", "-9223372036854775809", "0.5", "[[[[[[[[", "{\"a\":{\"a\":",
    "\"type\"", "\"ByteLevel\"", "\"Sequence\"", "\"WordPiece\"", "\"BPE\"", "\"TemplateProcessing\"",
    "\"BertProcessing\"", "\"SpecialToken\"", "\"special\"", "\"\\u0000\"", "\"\\ud800\"", "\xff\xfe", "\"merges\""};

const std::vector<std::string> kTemplateWords = {
    "{{", "}}", "{%", "%}", "{#", "#}", "-", "{%-", "-%}", "if ", "elif ", "else", "endif", "for ", " in ",
    "endfor", "set ", " = ", "(", ")", "[", "]", "[1:]", "[-1]", ":", ",", ".", "|", "~", "+", "*", "/", "%",
    " and ", " or ", " not ", " is ", "defined", "none", "messages", "message", "loop.index", "loop.last",
    "'", "\"", "\\", "0", "-1", "9223372036854775807", "-9223372036854775808", "99999999999999999999",
    "1.5", "1e308", "|length", "|tojson", "|trim", "|first", "|default('x')", ".strip()", ".startswith('a')",
    "raise_exception('x')", "[1,2,3]", "add_generation_prompt", "bos_token", "((((((((", "----"};

const std::vector<std::string> kTemplateSeeds = {
    lumen::server::kFallbackChatTemplate,
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
    "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate') }}{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
    "{% for message in messages %}\n    {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' -}}\n"
    "{% endfor %}\n{% if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' -}}\n{% endif %}\n",
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
    "{{ 1 + 2 * 3 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 'a' ~ 1 }}{{ 'x' if messages else 'y' }}"
    "{{ tools is defined }} {{ none is none }}{{ 'b' in 'abc' }} {{ 2 not in [1, 2] }}"
    "{{ 'AbC' | lower }}{{ [1,2,3] | length }}{{ [1,2] | last }}{{ 'hello'[1:3] }}{{ 'hello'[-1] }}"
    "{{ missing | default('d') }}{{ 'ab'.startswith('a') }}{# c #}{{ messages | tojson }}"};

// --- targets -----------------------------------------------------------------------------

struct Target {
  std::vector<Seed> seeds;
  const std::vector<std::string>* dict = nullptr;
  // Writes the mutated `input` of seed `s` where the reader expects it, and reads it.
  std::function<void(size_t s, const Bytes& input, Rng& r)> run;
};

Target make_target(const std::string& name, const fs::path& dir) {
  Target t;
  if (name == "gguf") {
    for (const char* f : {"models/stories260K.gguf", "models/llama-2-tiny-random.gguf"})
      t.seeds.push_back({f, read_file(src(f)), gguf_header_end(src(f))});
    t.run = [dir](size_t, const Bytes& in, Rng& r) {
      write_file(dir / "m.gguf", in);
      const auto model = lumen::Model::load((dir / "m.gguf").string());
      exercise(model->tokenizer(), kText, r);
      generate(model);
    };
  } else if (name == "vocab") {
    for (const char* f : {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-bert-bge.gguf",
                          "ggml-vocab-phi-3.gguf"}) {
      const std::string p = src(std::string("tests/data/ggml-vocab/") + f);
      t.seeds.push_back({f, read_file(p), 0});
    }
    t.run = [dir](size_t, const Bytes& in, Rng& r) {
      write_file(dir / "v.gguf", in);
      exercise(*lumen::make_tokenizer(lumen::load_vocab((dir / "v.gguf").string())), kText, r);
    };
  } else if (name == "llama2c") {
    t.seeds.push_back({"stories260K.bin", read_file(src("models/stories260K.bin")), 28});
    t.seeds.push_back({"tok512.bin", read_file(src("models/tok512.bin")), 0});
    const Bytes model = t.seeds[0].bytes, tok = t.seeds[1].bytes;
    t.run = [dir, model, tok](size_t s, const Bytes& in, Rng& r) {
      write_file(dir / "m.bin", s == 0 ? in : model);
      write_file(dir / "t.bin", s == 1 ? in : tok);
      const auto m = lumen::Model::load((dir / "m.bin").string(), (dir / "t.bin").string());
      exercise(m->tokenizer(), kText, r);
      generate(m);
    };
  } else if (name == "hf-model") {
    const auto pairs = hf_seeds();
    for (const auto& [config, weights] : pairs) {
      t.seeds.push_back(config);
      t.seeds.push_back(weights);
    }
    t.dict = &kJsonWords;
    const std::string tok = src("models/tok512.bin");
    t.run = [dir, pairs, tok](size_t s, const Bytes& in, Rng& r) {
      const auto& [config, weights] = pairs[s / 2];
      write_file(dir / "config.json", s % 2 == 0 ? in : config.bytes);
      write_file(dir / "model.safetensors", s % 2 == 1 ? in : weights.bytes);
      const auto m = lumen::Model::load(dir.string(), tok);
      exercise(m->tokenizer(), kText, r);
      generate(m);
    };
  } else if (name == "hf-tokenizer") {
    for (const char* f : {"gpt2-tiny/tokenizer.json", "gpt2-tiny/tokenizer_config.json", "bert-tiny/tokenizer.json"})
      t.seeds.push_back({f, read_file(src(std::string("tests/data/tokenizers/") + f)), 0});
    t.dict = &kJsonWords;
    const Bytes gpt2 = t.seeds[0].bytes, gpt2_config = t.seeds[1].bytes;
    t.run = [dir, gpt2, gpt2_config](size_t s, const Bytes& in, Rng& r) {
      fs::remove(dir / "tokenizer_config.json");
      write_file(dir / "tokenizer.json", s == 1 ? gpt2 : in);
      if (s <= 1) write_file(dir / "tokenizer_config.json", s == 1 ? in : gpt2_config);
      exercise(*lumen::make_tokenizer(lumen::load_vocab(dir.string())), kText, r);
    };
  } else if (name == "template") {
    for (const std::string& s : kTemplateSeeds) t.seeds.push_back({"template", to_bytes(s), 0});
    t.dict = &kTemplateWords;
    const json vars = {{"messages", json::parse(R"([{"role":"system","content":"Be brief."},{"role":"user","content":" Hi "},
                                                    {"role":"assistant","content":"Hello."},{"role":"user","content":"Bye"}])")},
                       {"add_generation_prompt", true}, {"bos_token", "<s>"}, {"eos_token", "</s>"}};
    t.run = [vars](size_t, const Bytes& in, Rng&) {
      lumen::server::ChatTemplate(std::string(in.begin(), in.end())).render(vars);
    };
  } else if (name == "tokenize") {
    // The input is text; the vocabularies stay valid.
    auto tokenizers = std::make_shared<std::vector<std::unique_ptr<lumen::Tokenizer>>>();
    for (const char* f : {"models/stories260K.gguf", "tests/data/ggml-vocab/ggml-vocab-gpt-2.gguf",
                          "tests/data/ggml-vocab/ggml-vocab-bert-bge.gguf", "tests/data/ggml-vocab/ggml-vocab-llama-spm.gguf",
                          "tests/data/ggml-vocab/ggml-vocab-phi-3.gguf", "tests/data/tokenizers/gpt2-tiny",
                          "tests/data/tokenizers/bert-tiny"})
      tokenizers->push_back(lumen::make_tokenizer(lumen::load_vocab(src(f))));
    for (const char* s : {kText, "Hello world! It's 2024-01-01.\r\n\u00e9\u00c9 \u4e2d\u6587 \xe0\xb8\x81  ",
                          "\xff\xfe\xc0\x80\xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82 <unk>[UNK][SEP][MASK]<|endoftext|>"})
      t.seeds.push_back({"text", to_bytes(s), 0});
    t.dict = &kTemplateWords;
    t.run = [tokenizers](size_t, const Bytes& in, Rng& r) {
      const std::string text(in.begin(), in.end());
      for (const auto& tok : *tokenizers) exercise(*tok, text, r);
    };
  } else {
    throw std::runtime_error("unknown target '" + name + "'");
  }
  return t;
}

fs::path g_dir;
uint64_t g_iteration = 0;

void on_alarm(int) {
  const char msg[] = "\nfuzz_loaders: an iteration took too long (hang?); input left in the scratch directory\n";
  (void)!write(2, msg, sizeof msg - 1);
  std::abort();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: fuzz_loaders TARGET [SECONDS [SEED]]\n";
    return 2;
  }
  const std::string name = argv[1];
  if (argc > 3 && std::string(argv[2]) == "--replay") {
    g_dir = fs::temp_directory_path() / ("lumen-fuzz-replay-" + std::to_string(::getpid()));
    fs::create_directories(g_dir);
    Rng r{1};
    const auto begin = std::chrono::steady_clock::now();
    try {
      make_target(name, g_dir).run(argc > 4 ? std::stoul(argv[4]) : 0, read_file(argv[3]), r);
      std::cout << "accepted";
    } catch (const lumen::Error& e) {
      std::cout << "lumen::Error: " << e.what();
    }
    std::cout << " (" << std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count() << " s)\n";
    fs::remove_all(g_dir);
    return 0;
  }
  const double seconds = argc > 2 ? std::stod(argv[2]) : 60;
  const uint64_t base = argc > 3 ? std::stoull(argv[3]) : uint64_t(::getpid());
  g_dir = fs::path("/dev/shm") / ("lumen-fuzz-" + name + "-" + std::to_string(::getpid()));
  fs::create_directories(g_dir);
  const Target target = make_target(name, g_dir);
  std::signal(SIGALRM, on_alarm);

  std::map<std::string, int> outcomes;  // error message prefix -> count, for the summary
  int findings = 0;
  const auto start = std::chrono::steady_clock::now();
  for (g_iteration = 0;; ++g_iteration) {
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > seconds) break;
    Rng r{base * 0x100000001b3ull + g_iteration};
    const size_t s = r.below(target.seeds.size());
    const Bytes input = mutate(target.seeds[s].bytes, target.seeds[s], r, target.dict ? *target.dict : std::vector<std::string>{});
    write_file(g_dir / "input", input);  // kept for reproduction should this iteration crash
    ::alarm(kIterationSeconds);
    std::string problem;
    try {
      target.run(s, input, r);
      ++outcomes["(accepted)"];
    } catch (const lumen::Error& e) {
      const std::string msg = e.what();
      if (msg.find('\n') != std::string::npos) problem = "multi-line lumen::Error: " + msg;
      ++outcomes[msg.substr(0, 40)];
    } catch (const std::exception& e) {
      problem = std::string("not a lumen::Error: ") + typeid(e).name() + ": " + e.what();
    }
    ::alarm(0);
    if (!problem.empty()) {
      const fs::path kept = g_dir / ("finding-" + std::to_string(findings++));
      fs::copy_file(g_dir / "input", kept, fs::copy_options::overwrite_existing);
      std::cout << "FINDING (iteration " << g_iteration << ", seed " << target.seeds[s].name << ", base " << base
                << ", input " << kept.string() << "): " << problem.substr(0, 300) << '\n';
    }
  }
  std::cout << name << ": " << g_iteration << " iterations in " << seconds << " s, " << findings << " findings\n";
  std::vector<std::pair<int, std::string>> top;
  for (const auto& [msg, n] : outcomes) top.push_back({n, msg});
  std::sort(top.rbegin(), top.rend());
  for (size_t i = 0; i < std::min<size_t>(top.size(), 12); ++i) std::cout << "  " << top[i].first << "  " << top[i].second << '\n';
  if (findings == 0) fs::remove_all(g_dir);
  return findings ? 1 : 0;
}
