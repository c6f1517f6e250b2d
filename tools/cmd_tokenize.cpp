// `lumen tokenize`: shows how a text splits into tokens, in llama.cpp's llama-tokenize layout
// (`     1 -> '<s>'`), or as a bare id list with --ids.
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "text_file.h"
#include "formats/llama2c_tokenizer.h"
#include "formats/vocab_file.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace lumen::cli {
namespace {

struct TokenizeOptions {
  std::string model;
  std::string tokenizer;
  std::string prompt;
  std::string prompt_file;
  bool no_bos = false;
  bool ids_only = false;
};

// A model brings its own vocabulary (a GGUF or Hugging Face one without reading weights; a
// llama2.c one checked against its tokenizer file); a tokenizer file alone is read to its end;
// with neither, the default model's tokenizer.
Vocab vocab_of(const TokenizeOptions& o) {
  if (!o.model.empty()) return load_vocab(o.model, o.tokenizer);
  return read_llama2c_tokenizer(o.tokenizer.empty() ? default_tokenizer_path() : o.tokenizer, -1);
}

void run_tokenize(const TokenizeOptions& o) {
  const std::unique_ptr<Tokenizer> tokenizer = make_tokenizer(vocab_of(o));
  const std::string text = o.prompt_file.empty() ? o.prompt : read_text_file(o.prompt_file);
  const auto ids = tokenizer->encode(text, !o.no_bos);
  if (o.ids_only) {
    std::printf("[");
    for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? ", %d" : "%d", ids[i]);
    std::printf("]\n");
    return;
  }
  // Each piece as it decodes on its own (no BOS-space stripping), like llama-tokenize.
  for (int32_t id : ids) std::printf("%6d -> '%s'\n", id, tokenizer->decode_piece(-1, id).c_str());
}

}  // namespace

void register_tokenize(CLI::App& app) {
  auto o = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Split a text into tokens and print them");
  cmd->add_option("-m,--model", o->model, "model file (.gguf, Hugging Face folder or tokenizer.json, or llama2.c .bin with -z)");
  cmd->add_option("-z,--tokenizer", o->tokenizer, "llama2.c tokenizer .bin");
  auto* prompt = cmd->add_option("-p,--prompt", o->prompt, "text to tokenize");
  auto* file = cmd->add_option("-f,--file", o->prompt_file, "read the text from a file (bytes as they are)");
  prompt->excludes(file);
  cmd->add_flag("--no-bos", o->no_bos, "do not add the special tokens (BOS; [CLS]/[SEP] for BERT)");
  cmd->add_flag("--ids", o->ids_only, "print only the token ids, as [1, 2, ...]");
  cmd->callback([o, prompt, file] {
    if (prompt->count() == 0 && file->count() == 0) fail("tokenize needs a text: -p TEXT or -f FILE");
    run_tokenize(*o);
  });
}

}  // namespace lumen::cli
