#include "formats/vocab_file.h"

#include <cstring>
#include <filesystem>
#include <memory>

#include "formats/gguf.h"
#include "formats/gguf_tokenizer.h"
#include "formats/hf_tokenizer.h"
#include "formats/llama2c_tokenizer.h"
#include "formats/loaded_model.h"
#include "util/error.h"

namespace lumen {

Vocab load_vocab(const std::string& model_path, const std::string& tokenizer_path) {
  std::error_code ec;
  const bool folder = std::filesystem::is_directory(model_path, ec);
  if (folder && !tokenizer_path.empty()) return read_llama2c_tokenizer(tokenizer_path, -1);
  if (folder || model_path.ends_with(".json")) return read_hf_tokenizer(model_path);
  auto file = std::make_shared<const MappedFile>(model_path);
  if (file->size() >= 4 && std::memcmp(file->data(), "GGUF", 4) == 0) {
    try {
      return read_gguf_tokenizer(GgufFile(file));
    } catch (const Error& e) {
      fail(model_path, ": ", e.what());
    }
  }
  return load_model(model_path, tokenizer_path)->vocab;  // llama2.c: the checkpoint sizes the tokenizer
}

}  // namespace lumen
