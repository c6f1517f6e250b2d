// GoogLeNet (Szegedy et al. 2014, torchvision's googlenet in eval mode): a convolutional stem,
// then nine inception blocks, each running four branches side by side on the same input and
// concatenating their channels —
//   1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 | 3x3 max pool (stride 1) -> 1x1
// (torchvision's third branch is 3x3 where the paper has 5x5; its weights say so) — with
// ceil-mode max pools between the stages, global average pooling and the classifier `fc`. Every
// convolution is torchvision's BasicConv2d: no bias, batch norm (eps 1e-3), ReLU. The auxiliary
// classifiers only train, so they are neither read nor run.
#include <array>

#include "kernels/channels.h"
#include "models/vision.h"

namespace lumen {
namespace {

constexpr float kBatchNormEps = 1e-3f;

// torchvision's Inception(in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj).
struct InceptionSpec {
  const char* name;
  int32_t in, ch1x1, ch3x3_reduce, ch3x3, ch5x5_reduce, ch5x5, pool_proj;
  int32_t pool_before;  // the kernel of the stride-2 ceil-mode max pool before the block (0: none)
};
constexpr InceptionSpec kInceptions[] = {
    {"inception3a", 192, 64, 96, 128, 16, 32, 32, 0},     {"inception3b", 256, 128, 128, 192, 32, 96, 64, 0},
    {"inception4a", 480, 192, 96, 208, 16, 48, 64, 3},     {"inception4b", 512, 160, 112, 224, 24, 64, 64, 0},
    {"inception4c", 512, 128, 128, 256, 24, 64, 64, 0},    {"inception4d", 512, 112, 144, 288, 32, 64, 64, 0},
    {"inception4e", 528, 256, 160, 320, 32, 128, 128, 0},  {"inception5a", 832, 256, 160, 320, 32, 128, 128, 2},
    {"inception5b", 832, 384, 192, 384, 48, 128, 128, 0},
};

ConvLayer basic_conv(const TorchWeights& w, const std::string& name, const ConvSpec& spec) {
  return ConvLayer::with_batch_norm(w, name + ".conv", name + ".bn", spec, kBatchNormEps, Activation::Relu);
}

class Inception {
 public:
  Inception(const TorchWeights& w, const InceptionSpec& s)
      : pool_before_(s.pool_before),
        branch1_(basic_conv(w, std::string(s.name) + ".branch1", {s.in, s.ch1x1, 1})),
        branch2_{basic_conv(w, std::string(s.name) + ".branch2.0", {s.in, s.ch3x3_reduce, 1}),
                 basic_conv(w, std::string(s.name) + ".branch2.1", {s.ch3x3_reduce, s.ch3x3, 3, 1, 1})},
        branch3_{basic_conv(w, std::string(s.name) + ".branch3.0", {s.in, s.ch5x5_reduce, 1}),
                 basic_conv(w, std::string(s.name) + ".branch3.1", {s.ch5x5_reduce, s.ch5x5, 3, 1, 1})},
        branch4_(basic_conv(w, std::string(s.name) + ".branch4.1", {s.in, s.pool_proj, 1})) {}

  int32_t pool_before() const { return pool_before_; }

  FeatureMap operator()(const FeatureMap& x, VisionContext& ctx) const {
    const FeatureMap b1 = branch1_(x, ctx);
    const FeatureMap b2 = branch2_[1](branch2_[0](x, ctx), ctx);
    const FeatureMap b3 = branch3_[1](branch3_[0](x, ctx), ctx);
    const FeatureMap b4 = branch4_(max_pool(x, 3, 1, 1, true), ctx);
    FeatureMap y(x.h, x.w, b1.c + b2.c + b3.c + b4.c);
    const ChannelPart parts[] = {{b1.data.data(), b1.c}, {b2.data.data(), b2.c}, {b3.data.data(), b3.c},
                                 {b4.data.data(), b4.c}};
    concat_channels(parts, x.pixels(), y.data.data());
    return y;
  }

 private:
  int32_t pool_before_;
  ConvLayer branch1_;
  std::array<ConvLayer, 2> branch2_, branch3_;
  ConvLayer branch4_;
};

class GoogLeNet : public ImageClassifier {
 public:
  GoogLeNet(const VisionConfig& c, const TorchWeights& w)
      : transform_input_(c.transform_input),
        conv1_(basic_conv(w, "conv1", {3, 64, 7, 2, 3})),
        conv2_(basic_conv(w, "conv2", {64, 64, 1})),
        conv3_(basic_conv(w, "conv3", {64, 192, 3, 1, 1})) {
    for (const InceptionSpec& s : kInceptions) inceptions_.emplace_back(w, s);
    fc_ = make_classifier(w, "fc", 1024, c.num_classes);
  }

  std::vector<float> logits(const FeatureMap& image, VisionContext& ctx) const override {
    FeatureMap x = conv1_(transform_input_ ? to_unit_range(image) : image, ctx);
    x = max_pool(x, 3, 2, 0, true);
    x = max_pool(conv3_(conv2_(x, ctx), ctx), 3, 2, 0, true);
    for (const Inception& block : inceptions_) {
      if (block.pool_before()) x = max_pool(x, block.pool_before(), 2, 0, true);
      x = block(x, ctx);
    }
    return classify(fc_, global_average(x), ctx.pool);
  }

 private:
  // torchvision's transform_input: the weights ported from TensorFlow expect pixels scaled to
  // [-1, 1], so an ImageNet-normalised input is mapped back: x * std / 0.5 + (mean - 0.5) / 0.5
  // with ImageNet's mean and std whatever the config's normalisation.
  static FeatureMap to_unit_range(const FeatureMap& image) {
    static constexpr float kMean[3] = {0.485f, 0.456f, 0.406f}, kStd[3] = {0.229f, 0.224f, 0.225f};
    FeatureMap x = image;
    for (size_t i = 0; i < x.data.size(); ++i) {
      const size_t ch = i % 3;
      x.data[i] = x.data[i] * (kStd[ch] / 0.5f) + (kMean[ch] - 0.5f) / 0.5f;
    }
    return x;
  }

  bool transform_input_;
  ConvLayer conv1_, conv2_, conv3_;
  std::vector<Inception> inceptions_;
  Linear fc_;
};

}  // namespace

std::unique_ptr<ImageClassifier> make_googlenet(const VisionConfig& c, const TorchWeights& w) {
  return std::make_unique<GoogLeNet>(c, w);
}

}  // namespace lumen
