#pragma once
// Image classifiers as lumen reads them (docs/FORMATS.md, "Image classifiers"): a folder with
// config.json ({"architecture": "resnet18" | ... | "vit", "num_classes", "image_size", ...}) and
// model.safetensors (or shards) holding the torchvision model's state dict under its own names.
// An unknown architecture, a missing or mis-typed field, a missing tensor or one of the wrong
// shape is a one-line error naming it.
#include <memory>
#include <string>

#include "models/vision.h"

namespace lumen {

std::unique_ptr<VisionModel> load_vision_model(const std::string& dir);

}  // namespace lumen
