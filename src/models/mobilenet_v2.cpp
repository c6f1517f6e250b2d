// MobileNetV2 (Sandler et al. 2018, torchvision's mobilenet_v2): depthwise-separable
// convolutions in inverted residual blocks —
//   x -> 1x1 expand (ReLU6) -> 3x3 depthwise (ReLU6) -> 1x1 linear projection (+ x when the
//   block keeps stride 1 and width)
// — between a 3x3 stride-2 stem and a 1x1 convolution to 1280 channels (ReLU6 throughout), then
// global average pooling and the classifier `classifier.1` (classifier.0 is dropout). Widths
// scale with width_mult, rounded as torchvision rounds them.
#include <algorithm>

#include "kernels/ops.h"
#include "models/vision.h"

namespace lumen {
namespace {

constexpr float kBatchNormEps = 1e-5f;

// torchvision's _make_divisible: the nearest multiple of 8 (at least 8), one step more where
// rounding down would lose over 10 %.
int32_t make_divisible(double v) {
  int32_t rounded = std::max(8, int32_t(v + 4.0) / 8 * 8);
  if (rounded < 0.9 * v) rounded += 8;
  return rounded;
}

// The paper's table 2: expansion t, output channels c, repeats n, first stride s.
struct StageSpec {
  int32_t expand, channels, repeats, stride;
};
constexpr StageSpec kStages[] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
                                 {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};

struct InvertedResidual {
  std::vector<ConvLayer> convs;  // [expand,] depthwise, project
  bool residual;

  FeatureMap operator()(const FeatureMap& x, VisionContext& ctx) const {
    FeatureMap y = convs[0](x, ctx);
    for (size_t i = 1; i < convs.size(); ++i) y = convs[i](y, ctx);
    if (residual) add_into(y.data.data(), x.data.data(), int64_t(y.data.size()));
    return y;
  }
};

class MobileNetV2 : public ImageClassifier {
 public:
  MobileNetV2(const VisionConfig& c, const TorchWeights& w) {
    auto conv_bn = [&](const std::string& conv, const std::string& bn, const ConvSpec& spec, Activation act) {
      return ConvLayer::with_batch_norm(w, conv, bn, spec, kBatchNormEps, act);
    };
    int32_t in = make_divisible(32.0 * c.width_mult);
    layers_.push_back({{conv_bn("features.0.0", "features.0.1", {3, in, 3, 2, 1}, Activation::Relu6)}, false});
    int32_t index = 1;
    for (const StageSpec& stage : kStages) {
      const int32_t out = make_divisible(stage.channels * double(c.width_mult));
      for (int32_t i = 0; i < stage.repeats; ++i, ++index) {
        const int32_t stride = i == 0 ? stage.stride : 1, hidden = in * stage.expand;
        const std::string p = "features." + std::to_string(index) + ".conv.";
        // Module indices inside `conv`: the expansion, where there is one, comes first.
        int32_t m = 0;
        auto next = [&] { return p + std::to_string(m++); };
        InvertedResidual block{{}, stride == 1 && in == out};
        if (stage.expand != 1) {
          const std::string expand = next();
          block.convs.push_back(conv_bn(expand + ".0", expand + ".1", {in, hidden, 1}, Activation::Relu6));
        }
        const std::string depthwise = next();
        block.convs.push_back(
            conv_bn(depthwise + ".0", depthwise + ".1", {hidden, hidden, 3, stride, 1, hidden}, Activation::Relu6));
        const std::string project = next(), project_bn = next();
        block.convs.push_back(conv_bn(project, project_bn, {hidden, out, 1}, Activation::None));
        layers_.push_back(std::move(block));
        in = out;
      }
    }
    const int32_t last = make_divisible(1280.0 * std::max(1.0f, c.width_mult));
    const std::string p = "features." + std::to_string(index);
    layers_.push_back({{conv_bn(p + ".0", p + ".1", {in, last, 1}, Activation::Relu6)}, false});
    classifier_ = make_classifier(w, "classifier.1", last, c.num_classes);
  }

  std::vector<float> logits(const FeatureMap& image, VisionContext& ctx) const override {
    FeatureMap x = layers_[0](image, ctx);
    for (size_t i = 1; i < layers_.size(); ++i) x = layers_[i](x, ctx);
    return classify(classifier_, global_average(x), ctx.pool);
  }

 private:
  std::vector<InvertedResidual> layers_;  // the stem and the last 1x1 are one-convolution "blocks"
  Linear classifier_;
};

}  // namespace

std::unique_ptr<ImageClassifier> make_mobilenet_v2(const VisionConfig& c, const TorchWeights& w) {
  return std::make_unique<MobileNetV2>(c, w);
}

}  // namespace lumen
