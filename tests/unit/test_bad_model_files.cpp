// Bad model files, one test per way of being bad: each must give a lumen::Error whose one-line
// message names the problem, never a crash. The truncation loops run in-process so that the
// AddressSanitizer build (-DLUMEN_SANITIZE=ON) sees every out-of-bounds read they could cause.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "formats/gguf.h"
#include "formats/gguf_model.h"
#include "formats/gguf_writer.h"
#include "cli_runner.h"
#include "model_file_helpers.h"
#include "test_paths.h"
#include "util/error.h"

namespace lumen {
namespace {

using test::error_of;
using test::map_file;
using test::run_lumen;
using test::ScratchDir;
using test::source_path;

#define EXPECT_ERROR_CONTAINS(statement, text)               \
  do {                                                       \
    const std::string msg_ = error_of([&] { statement; });  \
    EXPECT_NE(msg_.find(text), std::string::npos) << msg_;  \
  } while (0)


// A GGUF with the given header fields and one tensor info, encoded by hand so that any field
// can hold a value the writer would refuse.
struct TensorInfo {
  std::vector<uint64_t> dims = {4};
  uint32_t type = uint32_t(DType::F32);
  uint64_t offset = 0;
};
std::vector<uint8_t> gguf_with_tensor(const TensorInfo& t, size_t data_bytes, uint32_t version = 3) {
  GgufEncoder e;
  e.put_bytes({reinterpret_cast<const uint8_t*>("GGUF"), 4});
  e.put(version);
  e.put(uint64_t(1));  // tensors
  e.put(uint64_t(1));  // metadata
  e.put_string("general.architecture");
  e.put_type(GgufType::String);
  e.put_string("llama");
  e.put_string("w");
  e.put(uint32_t(t.dims.size()));
  for (uint64_t d : t.dims) e.put(d);
  e.put(t.type);
  e.put(t.offset);
  e.pad_to(GgufFile::kDefaultAlignment);
  std::vector<uint8_t> bytes = e.bytes();
  bytes.resize(bytes.size() + data_bytes);
  return bytes;
}

// The same header and metadata prefix, then raw bytes for one key's type and value.
std::vector<uint8_t> gguf_with_raw_value(const std::function<void(GgufEncoder&)>& value) {
  GgufEncoder e;
  e.put_bytes({reinterpret_cast<const uint8_t*>("GGUF"), 4});
  e.put(uint32_t(3));
  e.put(uint64_t(0));
  e.put(uint64_t(1));
  e.put_string("key");
  value(e);
  return e.bytes();
}

// Truncates `path` (a copy of `source`) at each offset, largest first, and expects every load
// to fail cleanly. Shrinking one file in place avoids rewriting it per offset.
void expect_every_truncation_fails(const std::string& source, const std::string& path, std::vector<size_t> offsets,
                                   const std::string& tokenizer) {
  const std::vector<uint8_t> bytes = test::read_bytes(source);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  std::sort(offsets.rbegin(), offsets.rend());
  for (size_t off : offsets) {
    ASSERT_LT(off, bytes.size());
    ASSERT_EQ(::truncate(path.c_str(), off_t(off)), 0);
    bool threw = false;
    try {
      load_model(path, tokenizer);
    } catch (const Error& e) {
      threw = true;
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
    EXPECT_TRUE(threw) << "truncated at " << off << " of " << bytes.size() << " bytes: loaded without error";
  }
}

void expect_one_line_failure(const test::CliResult& r) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.rfind("lumen: error: ", 0), 0u) << r.err;
}

// --- any format ---

TEST(BadModelFile, MissingFile) {
  EXPECT_ERROR_CONTAINS(load_model(source_path("models/no-such-model.gguf")), "cannot open");
  EXPECT_ERROR_CONTAINS(load_model(source_path("models/no-such-model.gguf")), "no-such-model.gguf");
}

TEST(BadModelFile, MissingFileFromTheCommandLine) {
  ScratchDir dir;
  expect_one_line_failure(run_lumen({"convert", "-m", dir.path("absent.gguf"), "-o", dir.path("out.gguf")}));
}

// --- GGUF ---

TEST(BadGguf, TruncatedAtEveryHeaderOffsetAndThroughTheData) {
  ScratchDir dir;
  const std::string source = source_path("models/stories260K.gguf");
  const GgufFile whole(map_file(source));
  size_t data_end = 0;  // the end of the last tensor's bytes; any padding after it is optional
  for (const Tensor& t : whole.tensors())
    data_end = std::max(data_end, size_t(static_cast<const uint8_t*>(t.data) - whole.file()->data()) + t.bytes());
  std::vector<size_t> offsets;
  for (size_t off = 0; off < whole.data_offset(); ++off) offsets.push_back(off);
  for (size_t off = whole.data_offset(); off < data_end; off += 4093) offsets.push_back(off);
  offsets.push_back(data_end - 1);
  expect_every_truncation_fails(source, dir.path("cut.gguf"), offsets, "");
}

// Fuzz-like: every byte before the tensor data, set in turn to 0xFF. Some of these still load
// (a byte inside a token's text); the rest must throw lumen::Error, and none may crash.
TEST(BadGguf, AnyHeaderByteCorruptedLoadsOrFailsCleanly) {
  ScratchDir dir;
  const std::vector<uint8_t> bytes = test::read_bytes(source_path("models/stories260K.gguf"));
  const std::string path = dir.write("flip.gguf", bytes);
  const size_t header_end = GgufFile(map_file(path)).data_offset();
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  int failures = 0;
  for (size_t off = 0; off < header_end; ++off) {
    f.seekp(std::streamoff(off)).put(char(0xFF)).flush();
    try {
      load_model(path);
    } catch (const Error&) {
      ++failures;
    }
    f.seekp(std::streamoff(off)).put(char(bytes[off])).flush();
  }
  EXPECT_GT(failures, 100);
}

TEST(BadGguf, TruncatedFileFromTheCommandLine) {
  ScratchDir dir;
  std::vector<uint8_t> bytes = test::read_bytes(source_path("models/stories260K.gguf"));
  bytes.resize(5000);
  const std::string path = dir.write("cut.gguf", bytes);
  const auto result = run_lumen({"convert", "-m", path, "-o", dir.path("out.gguf")});
  expect_one_line_failure(result);
  EXPECT_NE(result.err.find("truncated"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(dir.path("out.gguf")));
}

TEST(BadGguf, WrongMagic) {
  ScratchDir dir;
  std::vector<uint8_t> bytes = test::read_bytes(source_path("models/stories260K.gguf"));
  std::memcpy(bytes.data(), "GGML", 4);
  EXPECT_ERROR_CONTAINS(GgufFile(map_file(dir.write("magic.gguf", bytes))), "not a GGUF file");
}

TEST(BadGguf, UnsupportedVersion) {
  ScratchDir dir;
  EXPECT_ERROR_CONTAINS(load_model(dir.write("v1.gguf", gguf_with_tensor({}, 16, 1))), "GGUF version 1 is not supported");
}

TEST(BadGguf, UnknownTensorTypeId) {
  ScratchDir dir;
  EXPECT_ERROR_CONTAINS(load_model(dir.write("type.gguf", gguf_with_tensor({.type = 99}, 16))),
                        "tensor 'w' has unknown type id 99");
}

TEST(BadGguf, TensorDimensionsWhoseProductOverflows) {
  ScratchDir dir;
  EXPECT_ERROR_CONTAINS(load_model(dir.write("dims.gguf", gguf_with_tensor({.dims = {1ull << 32, 1ull << 32}}, 16))),
                        "tensor 'w' has dimensions whose product overflows");
}

TEST(BadGguf, TensorDimensionBeyondInt64) {
  ScratchDir dir;
  EXPECT_ERROR_CONTAINS(load_model(dir.write("dim.gguf", gguf_with_tensor({.dims = {~0ull}}, 16))),
                        "tensor 'w' has dimensions whose product overflows");
}

TEST(BadGguf, TooManyTensorDimensions) {
  ScratchDir dir;
  EXPECT_ERROR_CONTAINS(load_model(dir.write("rank.gguf", gguf_with_tensor({.dims = {1, 1, 1, 1, 1}}, 16))),
                        "tensor 'w' has 5 dimensions");
}

TEST(BadGguf, TensorDataRunningPastEndOfFile) {
  ScratchDir dir;
  EXPECT_ERROR_CONTAINS(load_model(dir.write("short.gguf", gguf_with_tensor({.dims = {1000}}, 64))),
                        "tensor 'w' data (4000 bytes at offset");
  EXPECT_ERROR_CONTAINS(load_model(dir.write("far.gguf", gguf_with_tensor({.offset = 1ull << 62}, 64))),
                        "runs past the end of the file");
}

TEST(BadGguf, UnalignedTensorOffset) {
  ScratchDir dir;
  EXPECT_ERROR_CONTAINS(load_model(dir.write("align.gguf", gguf_with_tensor({.offset = 4}, 64))),
                        "tensor 'w' data offset 4 is not a multiple of the alignment 32");
}

TEST(BadGguf, RowNotWholeBlocks) {
  ScratchDir dir;
  EXPECT_ERROR_CONTAINS(load_model(dir.write("q.gguf", gguf_with_tensor({.dims = {33}, .type = 8}, 64))),
                        "tensor 'w' has rows of 33 elements, not a whole number of Q8_0 blocks");
}

TEST(BadGguf, StringLengthBeyondTheFile) {
  ScratchDir dir;
  const auto bytes = gguf_with_raw_value([](GgufEncoder& e) {
    e.put_type(GgufType::String);
    e.put(uint64_t(1) << 60);
  });
  EXPECT_ERROR_CONTAINS(GgufFile(map_file(dir.write("str.gguf", bytes))), "truncated: metadata key 'key' needs");
}

TEST(BadGguf, ArrayCountBeyondTheFile) {
  ScratchDir dir;
  const auto bytes = gguf_with_raw_value([](GgufEncoder& e) {
    e.put_type(GgufType::Array);
    e.put_type(GgufType::String);
    e.put(~uint64_t(0));
  });
  EXPECT_ERROR_CONTAINS(GgufFile(map_file(dir.write("arr.gguf", bytes))), "metadata key 'key' claims 18446744073709551615");
}

TEST(BadGguf, ArraysNestedTooDeep) {
  ScratchDir dir;
  const auto bytes = gguf_with_raw_value([](GgufEncoder& e) {
    e.put_type(GgufType::Array);
    for (int i = 0; i < 1000; ++i) {
      e.put_type(GgufType::Array);
      e.put(uint64_t(1));
    }
  });
  EXPECT_ERROR_CONTAINS(GgufFile(map_file(dir.write("deep.gguf", bytes))), "nests arrays more than");
}

TEST(BadGguf, UnknownMetadataValueType) {
  ScratchDir dir;
  const auto bytes = gguf_with_raw_value([](GgufEncoder& e) { e.put(uint32_t(13)); });
  EXPECT_ERROR_CONTAINS(GgufFile(map_file(dir.write("vt.gguf", bytes))), "metadata key 'key' has unknown value type 13");
}

TEST(BadGguf, MetadataCountBeyondTheFile) {
  ScratchDir dir;
  GgufEncoder e;
  e.put_bytes({reinterpret_cast<const uint8_t*>("GGUF"), 4});
  e.put(uint32_t(3));
  e.put(uint64_t(0));
  e.put(uint64_t(1) << 50);
  EXPECT_ERROR_CONTAINS(GgufFile(map_file(dir.write("kv.gguf", e.bytes()))), "metadata count claims");
}

TEST(BadGguf, DuplicateMetadataKey) {
  ScratchDir dir;
  const auto bytes = gguf_with_raw_value([](GgufEncoder& e) {
    e.put_type(GgufType::U8);
    e.put(uint8_t(1));
  });
  std::vector<uint8_t> twice = bytes;
  twice.insert(twice.end(), bytes.begin() + 24, bytes.end());  // the key-value pair again
  twice[16] = 2;                                               // metadata count
  EXPECT_ERROR_CONTAINS(GgufFile(map_file(dir.write("dup.gguf", twice))), "duplicate metadata key 'key'");
}

// Rewrites stories260K with one thing changed by `edit` and returns the path.
std::string edited_stories(const ScratchDir& dir, const std::function<void(LoadedModel&)>& edit) {
  auto m = load_model(source_path("models/stories260K.gguf"));
  edit(*m);
  const std::string path = dir.path("edited.gguf");
  write_gguf_model(*m, path);
  return path;
}

TEST(BadGguf, HyperParametersThatDisagreeWithTensorShapes) {
  ScratchDir dir;
  const std::string path = edited_stories(dir, [](LoadedModel& m) { m.config.dim = 128; });
  EXPECT_ERROR_CONTAINS(load_model(path), "tensor 'token_embd.weight' has shape [64, 512]");
}

TEST(BadGguf, MoreLayersThanTensors) {
  ScratchDir dir;
  const std::string path = edited_stories(dir, [](LoadedModel& m) { m.weights.layers.pop_back(); });
  // The file still says 5 layers; block 4's tensors are gone.
  EXPECT_ERROR_CONTAINS(load_model(path), "GGUF file has no tensor 'blk.4.attn_norm.weight'");
}

// A negative RoPE dimension count passed the checks (-2 is even and not above
// the head dimension) and later sized the RoPE table with a negative half.
TEST(BadGguf, NegativeRopeDimensionCount) {
  ScratchDir dir;
  const GgufFile g(map_file(source_path("models/stories260K.gguf")));
  GgufWriter w;
  for (const auto& kv : g.metadata())
    if (kv.key != "llama.rope.dimension_count") w.add_value(kv.key, kv.value);
  w.add_i32("llama.rope.dimension_count", -2);
  for (const Tensor& t : g.tensors())
    w.add_tensor(t.name, t.type, t.shape, std::span<const uint8_t>(static_cast<const uint8_t*>(t.data), t.bytes()));
  w.write(dir.path("rope.gguf"));
  EXPECT_ERROR_CONTAINS(load_model(dir.path("rope.gguf")), "rope dimension count -2 does not fit head dimension 8");
}

TEST(BadGguf, UnsupportedArchitecture) {
  ScratchDir dir;
  GgufWriter w;
  w.add_string("general.architecture", "mamba");
  w.write(dir.path("arch.gguf"));
  EXPECT_ERROR_CONTAINS(load_model(dir.path("arch.gguf")), "unsupported architecture 'mamba'");
}

TEST(BadGguf, MissingHyperParameter) {
  ScratchDir dir;
  GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.write(dir.path("keys.gguf"));
  EXPECT_ERROR_CONTAINS(load_model(dir.path("keys.gguf")), "GGUF metadata key 'llama.context_length' is missing");
}

TEST(BadGguf, UnsupportedTokenizerModel) {
  ScratchDir dir;
  // A llama model with a Unigram vocabulary, which lumen cannot tokenize: the tokenizer check
  // names it before the missing tensors would be noticed.
  GgufWriter w;
  w.add_string("general.architecture", "llama");
  for (const char* key : {"llama.context_length", "llama.embedding_length", "llama.feed_forward_length",
                          "llama.block_count", "llama.attention.head_count"})
    w.add_u32(key, 8);
  w.add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.add_string("tokenizer.ggml.model", "unigram");
  w.add_string_array("tokenizer.ggml.tokens", {"a", "b"});
  w.write(dir.path("bpe.gguf"));
  EXPECT_ERROR_CONTAINS(load_model(dir.path("bpe.gguf")), "tokenizer model 'unigram' is not supported");
}

TEST(BadGguf, TokenIdOutsideTheVocabulary) {
  ScratchDir dir;
  const std::string path = edited_stories(dir, [](LoadedModel& m) { m.vocab.eos_id = 512; });
  EXPECT_ERROR_CONTAINS(load_model(path), "tokenizer.ggml.eos_token_id = 512 is outside the vocabulary of 512 tokens");
}

// --- llama2.c checkpoints (the lead's loader) ---

TEST(BadLlama2c, TruncatedAtManyOffsets) {
  ScratchDir dir;
  const std::string source = source_path("models/stories260K.bin");
  const size_t size = test::read_bytes(source).size();
  std::vector<size_t> offsets;
  for (size_t off = 0; off < 64; ++off) offsets.push_back(off);  // the 28-byte header and just past it
  for (size_t off = 64; off < size; off += 1021) offsets.push_back(off);
  offsets.push_back(size - 1);
  expect_every_truncation_fails(source, dir.path("cut.bin"), offsets, source_path("models/tok512.bin"));
}

TEST(BadLlama2c, GarbageHeader) {
  ScratchDir dir;
  std::vector<uint8_t> bytes = test::read_bytes(source_path("models/stories260K.bin"));
  for (size_t i = 0; i < 28; ++i) bytes[i] = uint8_t(0x9d + 31 * i);
  EXPECT_ERROR_CONTAINS(load_model(dir.write("garbage.bin", bytes), source_path("models/tok512.bin")),
                        "not a valid llama2.c checkpoint");
}

TEST(BadLlama2c, NegativeHeaderFields) {
  ScratchDir dir;
  std::vector<uint8_t> bytes = test::read_bytes(source_path("models/stories260K.bin"));
  std::fill(bytes.begin(), bytes.begin() + 28, 0xff);  // every field -1
  EXPECT_ERROR_CONTAINS(load_model(dir.write("neg.bin", bytes), source_path("models/tok512.bin")),
                        "not a valid llama2.c checkpoint");
}

TEST(BadLlama2c, HeaderDimensionsThatDisagreeWithTheFileSize) {
  ScratchDir dir;
  std::vector<uint8_t> bytes = test::read_bytes(source_path("models/stories260K.bin"));
  const int32_t n_layers = 6;  // the file holds 5
  std::memcpy(bytes.data() + 8, &n_layers, 4);
  EXPECT_ERROR_CONTAINS(load_model(dir.write("layers.bin", bytes), source_path("models/tok512.bin")),
                        "(truncated or header dimensions wrong)");
}

TEST(BadLlama2c, TrailingBytesAfterTheWeights) {
  ScratchDir dir;
  std::vector<uint8_t> bytes = test::read_bytes(source_path("models/stories260K.bin"));
  const int32_t hidden = 160;  // smaller than the file's 172: the weights end early
  std::memcpy(bytes.data() + 4, &hidden, 4);
  const std::string msg = error_of([&] { load_model(dir.write("hidden.bin", bytes), source_path("models/tok512.bin")); });
  EXPECT_NE(msg.find("hidden.bin"), std::string::npos) << msg;
}

TEST(BadLlama2c, TokenizerVocabularyDisagreesWithTheModel) {
  EXPECT_ERROR_CONTAINS(load_model(source_path("models/stories260K.bin"), source_path("models/tokenizer.bin")), "512");
}

}  // namespace
}  // namespace lumen
