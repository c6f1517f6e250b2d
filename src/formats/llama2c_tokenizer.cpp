#include "formats/llama2c_tokenizer.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string_view>

#include "tokenizer/spm_tokenizer.h"
#include "util/error.h"

namespace lumen {
namespace {

constexpr int32_t kUnkId = 0, kBosId = 1, kEosId = 2;

std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open tokenizer ", path);
  std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) fail("cannot read tokenizer ", path);
  return bytes;
}

// Walks the file's bytes; every read is checked against what is left, so a truncated or
// corrupt file ends in an error that says where, never in a read past the end.
class Cursor {
 public:
  Cursor(const std::string& path, const std::string& bytes) : path_(path), bytes_(bytes) {}

  size_t remaining() const { return bytes_.size() - pos_; }
  size_t pos() const { return pos_; }

  template <typename T>
  T read(const char* what, int32_t token) {
    T value;
    std::memcpy(&value, take(sizeof(T), what, token), sizeof(T));
    return value;
  }

  std::string read_bytes(size_t n, int32_t token) { return std::string(take(n, "piece", token), n); }

 private:
  const char* take(size_t n, const char* what, int32_t token) {
    if (remaining() < n && token < 0)
      fail("tokenizer ", path_, " is truncated: the ", what, " needs ", n, " bytes but the file has ", remaining());
    if (remaining() < n)
      fail("tokenizer ", path_, " is truncated: token ", token, "'s ", what, " needs ", n, " bytes at offset ",
           pos_, " but only ", remaining(), " remain");
    const char* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }

  const std::string& path_;
  const std::string& bytes_;
  size_t pos_ = 0;
};

// llama2.c writes spaces as ' ' where SentencePiece (and GGUF) write U+2581.
std::string spaces_to_sentencepiece(std::string_view piece) {
  std::string out;
  for (char c : piece) {
    if (c == ' ')
      out += "\xE2\x96\x81";
    else
      out += c;
  }
  return out;
}

TokenType llama_token_type(int32_t id, const std::string& piece) {
  if (id == kUnkId) return TokenType::Unknown;
  if (id == kBosId || id == kEosId) return TokenType::Control;
  return parse_byte_piece(piece) ? TokenType::Byte : TokenType::Normal;
}

// llama2.c's exporter writes BOS and EOS as "\n<s>\n" and "\n</s>\n" so that its run.c prints
// them on a line of their own; the vocabulary keeps SentencePiece's "<s>" and "</s>".
std::string_view strip_export_newlines(std::string_view piece) {
  if (piece.size() >= 2 && piece.front() == '\n' && piece.back() == '\n') return piece.substr(1, piece.size() - 2);
  return piece;
}

}  // namespace

Vocab read_llama2c_tokenizer(const std::string& path, int32_t vocab_size) {
  if (vocab_size != -1 && vocab_size <= kEosId)
    fail("tokenizer ", path, ": vocabulary size ", vocab_size, " leaves no room for unk, BOS and EOS");
  const std::string bytes = read_whole_file(path);
  Cursor cursor(path, bytes);
  const auto max_token_length = cursor.read<int32_t>("header (max_token_length)", -1);
  if (max_token_length <= 0) fail("tokenizer ", path, ": max_token_length is ", max_token_length);

  Vocab vocab;
  const bool to_end = vocab_size == -1;
  for (int32_t id = 0; to_end ? cursor.remaining() > 0 : id < vocab_size; ++id) {
    if (cursor.remaining() == 0)
      fail("tokenizer ", path, " holds only ", id, " tokens but the model's vocabulary has ", vocab_size);
    const auto score = cursor.read<float>("score", id);
    const auto len = cursor.read<int32_t>("length", id);
    if (std::isnan(score)) fail("tokenizer ", path, ": token ", id, " has a NaN score");
    if (len < 0 || len > max_token_length)
      fail("tokenizer ", path, ": token ", id, " has length ", len, " outside 0..", max_token_length,
           " (max_token_length) at offset ", cursor.pos() - 4);
    const std::string bytes_read = cursor.read_bytes(size_t(len), id);
    const TokenType type = llama_token_type(id, bytes_read);
    std::string_view piece = bytes_read;
    if (type == TokenType::Control) piece = strip_export_newlines(piece);
    vocab.pieces.push_back(spaces_to_sentencepiece(piece));
    vocab.scores.push_back(score);
    vocab.types.push_back(type);
  }
  if (cursor.remaining() > 0)
    fail("tokenizer ", path, " has more than ", vocab_size, " tokens (the model's vocabulary size): ",
         cursor.remaining(), " bytes follow token ", vocab_size - 1);
  if (vocab.size() <= kEosId)
    fail("tokenizer ", path, " holds only ", vocab.size(), " tokens; ids 0, 1, 2 must be unk, BOS and EOS");
  vocab.unk_id = kUnkId;
  vocab.bos_id = kBosId;
  vocab.eos_id = kEosId;
  vocab.add_bos = true;
  return vocab;
}

}  // namespace lumen
