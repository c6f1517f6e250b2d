#pragma once
// Image classifiers: the CNN families (seed 007: convolution, pooling, residual, depthwise-
// separable and inception blocks) and the Vision Transformer, each computed as torchvision
// computes it in eval mode, from torchvision's own state-dict names. A network takes one
// normalised image_size x image_size RGB image, channels last (kernels/conv2d.h), and returns
// num_classes logits. The folder format (formats/vision_files.h) is in docs/FORMATS.md.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/conv_layers.h"
#include "models/torch_weights.h"
#include "tensor/mapped_file.h"

namespace lumen {

struct VisionConfig {
  std::string architecture;  // resnet18|34|50|101|152, mobilenet_v2, googlenet, vit
  int32_t num_classes = 0;
  int32_t image_size = 0;  // the square input, in pixels
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};  // per RGB channel, on pixels scaled to [0, 1]
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};
  std::vector<std::string> labels;  // empty, or one per class

  float width_mult = 1.0f;       // mobilenet_v2
  bool transform_input = false;  // googlenet: re-normalise ImageNet input to [-1, 1] as its port from TF expects
  int32_t patch_size = 0, hidden_dim = 0, num_layers = 0, num_heads = 0, mlp_dim = 0;  // vit
  float layer_norm_eps = 1e-6f;  // vit
};

// Fails with a message naming the first field out of range or inconsistent.
void validate(const VisionConfig& c);

class ImageClassifier {
 public:
  virtual ~ImageClassifier() = default;
  // image: image_size x image_size x 3, normalised. Not thread safe: ctx holds the scratch.
  virtual std::vector<float> logits(const FeatureMap& image, VisionContext& ctx) const = 0;
};

// One per family (models/resnet.cpp, mobilenet_v2.cpp, googlenet.cpp, vit.cpp); each reads its
// tensors from `w` and fails naming the first that is missing or mis-shaped.
std::unique_ptr<ImageClassifier> make_resnet(const VisionConfig& c, const TorchWeights& w);
std::unique_ptr<ImageClassifier> make_mobilenet_v2(const VisionConfig& c, const TorchWeights& w);
std::unique_ptr<ImageClassifier> make_googlenet(const VisionConfig& c, const TorchWeights& w);
std::unique_ptr<ImageClassifier> make_vit(const VisionConfig& c, const TorchWeights& w);

struct VisionModel {
  VisionConfig config;
  std::unique_ptr<ImageClassifier> net;
  std::vector<std::shared_ptr<const MappedFile>> files;
};

}  // namespace lumen
