#pragma once
// The layers the CNN families are built from, over channels-last feature maps: a convolution
// with its batch norm folded in and an activation after it, pooling, and the classifier head.
//
// Batch norm in inference form is an affine map per output channel,
//     bn(y) = (y - running_mean) / sqrt(running_var + eps) * gamma + beta = y * s + (beta - running_mean * s),
// so it is folded into the convolution once at load: weights of channel o scaled by s[o], the
// bias set to beta[o] - running_mean[o] * s[o] (plus s[o] times the convolution's own bias). The
// forward never sees a batch norm; the fold is computed in double and rounded once to float.
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/pool2d.h"
#include "models/encoder_layers.h"
#include "models/torch_weights.h"
#include "runtime/thread_pool.h"

namespace lumen {

// One image's activations: h x w pixels of c channels.
struct FeatureMap {
  int32_t h = 0, w = 0, c = 0;
  std::vector<float> data;

  FeatureMap() = default;
  FeatureMap(int32_t h, int32_t w, int32_t c) : h(h), w(w), c(c), data(size_t(h) * w * c) {}
  int64_t pixels() const { return int64_t(h) * w; }
};

// What a forward pass needs besides the weights: the threads and the convolutions' scratch.
struct VisionContext {
  ThreadPool& pool;
  std::vector<float> scratch;
};

enum class Activation { None, Relu, Relu6 };

// A convolution's hyper-parameters as PyTorch's nn.Conv2d takes them (square kernels).
struct ConvSpec {
  int32_t in = 0, out = 0, kernel = 1, stride = 1, pad = 0, groups = 1;
};

class ConvLayer {
 public:
  // `conv`.weight [out, in/groups, k, k] without bias, then nn.BatchNorm2d `bn`.{weight, bias,
  // running_mean, running_var} folded in.
  static ConvLayer with_batch_norm(const TorchWeights& w, const std::string& conv, const std::string& bn,
                                   const ConvSpec& spec, float bn_eps, Activation act);
  // `conv`.weight and `conv`.bias, no batch norm (ViT's patch embedding).
  static ConvLayer with_bias(const TorchWeights& w, const std::string& conv, const ConvSpec& spec, Activation act);

  FeatureMap operator()(const FeatureMap& x, VisionContext& ctx) const;
  int32_t out_channels() const { return spec_.out; }

 private:
  ConvLayer(const ConvSpec& spec, std::vector<float> weights, std::vector<float> bias, Activation act);
  ConvSpec spec_;
  std::vector<float> weights_;  // lumen's [out][kh][kw][in/groups]
  std::vector<float> bias_;
  Activation act_;
};

void apply(Activation act, FeatureMap& x);

// PyTorch's nn.MaxPool2d(kernel, stride, pad, ceil_mode).
FeatureMap max_pool(const FeatureMap& x, int32_t kernel, int32_t stride, int32_t pad, bool ceil_mode);

// nn.AdaptiveAvgPool2d((1, 1)) and flatten: one value per channel.
std::vector<float> global_average(const FeatureMap& x);

// The final nn.Linear `name` {weight [classes, features], bias [classes]} applied to one vector.
Linear make_classifier(const TorchWeights& w, const std::string& name, int32_t features, int32_t classes);
std::vector<float> classify(const Linear& head, const std::vector<float>& features, ThreadPool& pool);

}  // namespace lumen
