#pragma once
// llama2.c checkpoints (`run.c`'s legacy version-0 format): a 7 x int32 header followed by the
// float32 weights in a fixed order. A negative vocab_size in the header means the classifier is
// stored separately after the (unused) RoPE tables; otherwise it is tied to the embedding.
#include <memory>
#include <string>

#include "formats/loaded_model.h"

namespace lumen {

std::unique_ptr<LoadedModel> load_llama2c_model(std::shared_ptr<const MappedFile> file,
                                                const std::string& tokenizer_path);

}  // namespace lumen
