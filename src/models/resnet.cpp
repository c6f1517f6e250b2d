// ResNet (He et al. 2015, torchvision's resnet18/34/50/101/152, "v1.5": a bottleneck strides in
// its 3x3 convolution). A 7x7 stride-2 stem and a 3x3 max pool, then four stages of residual
// blocks, each block adding its input (through a 1x1 strided convolution where the shape
// changes) to its output before the ReLU:
//   basic block (18, 34):    relu(bn(conv3x3(relu(bn(conv3x3(x))))) + shortcut(x))
//   bottleneck  (50+):       relu(bn(conv1x1(relu(bn(conv3x3(relu(bn(conv1x1(x)))))))) + shortcut(x))
// then global average pooling and the fully connected classifier `fc`.
#include <optional>

#include "kernels/ops.h"
#include "models/vision.h"
#include "util/error.h"

namespace lumen {
namespace {

constexpr float kBatchNormEps = 1e-5f;

struct ResNetShape {
  bool bottleneck;
  int32_t blocks[4];
};

ResNetShape resnet_shape(const std::string& architecture) {
  if (architecture == "resnet18") return {false, {2, 2, 2, 2}};
  if (architecture == "resnet34") return {false, {3, 4, 6, 3}};
  if (architecture == "resnet50") return {true, {3, 4, 6, 3}};
  if (architecture == "resnet101") return {true, {3, 4, 23, 3}};
  if (architecture == "resnet152") return {true, {3, 8, 36, 3}};
  fail("unknown ResNet '", architecture, "' (known: resnet18, resnet34, resnet50, resnet101, resnet152)");
}

struct ResidualBlock {
  std::vector<ConvLayer> path;           // the convolutions in order; the last has no activation
  std::optional<ConvLayer> downsample;   // the shortcut's projection, where the shape changes

  FeatureMap operator()(const FeatureMap& x, VisionContext& ctx) const {
    FeatureMap y = path[0](x, ctx);
    for (size_t i = 1; i < path.size(); ++i) y = path[i](y, ctx);
    const FeatureMap shortcut = downsample ? (*downsample)(x, ctx) : FeatureMap();
    const FeatureMap& identity = downsample ? shortcut : x;
    add_into(y.data.data(), identity.data.data(), int64_t(y.data.size()));
    relu(y.data.data(), int64_t(y.data.size()));
    return y;
  }
};

class ResNet : public ImageClassifier {
 public:
  ResNet(const VisionConfig& c, const TorchWeights& w)
      : stem_(ConvLayer::with_batch_norm(w, "conv1", "bn1", {3, 64, 7, 2, 3}, kBatchNormEps, Activation::Relu)) {
    const ResNetShape shape = resnet_shape(c.architecture);
    const int32_t expansion = shape.bottleneck ? 4 : 1;
    int32_t in = 64;
    for (int32_t stage = 0; stage < 4; ++stage) {
      const int32_t planes = 64 << stage;
      for (int32_t b = 0; b < shape.blocks[stage]; ++b) {
        const int32_t stride = stage > 0 && b == 0 ? 2 : 1, out = planes * expansion;
        const std::string p = "layer" + std::to_string(stage + 1) + "." + std::to_string(b) + ".";
        auto conv = [&](int32_t i, const ConvSpec& spec, Activation act) {
          const std::string n = std::to_string(i);
          return ConvLayer::with_batch_norm(w, p + "conv" + n, p + "bn" + n, spec, kBatchNormEps, act);
        };
        ResidualBlock block;
        if (shape.bottleneck) {
          block.path.push_back(conv(1, {in, planes, 1}, Activation::Relu));
          block.path.push_back(conv(2, {planes, planes, 3, stride, 1}, Activation::Relu));
          block.path.push_back(conv(3, {planes, out, 1}, Activation::None));
        } else {
          block.path.push_back(conv(1, {in, planes, 3, stride, 1}, Activation::Relu));
          block.path.push_back(conv(2, {planes, planes, 3, 1, 1}, Activation::None));
        }
        if (stride != 1 || in != out)
          block.downsample = ConvLayer::with_batch_norm(w, p + "downsample.0", p + "downsample.1", {in, out, 1, stride},
                                                        kBatchNormEps, Activation::None);
        blocks_.push_back(std::move(block));
        in = out;
      }
    }
    fc_ = make_classifier(w, "fc", in, c.num_classes);
  }

  std::vector<float> logits(const FeatureMap& image, VisionContext& ctx) const override {
    FeatureMap x = max_pool(stem_(image, ctx), 3, 2, 1, false);
    for (const ResidualBlock& block : blocks_) x = block(x, ctx);
    return classify(fc_, global_average(x), ctx.pool);
  }

 private:
  ConvLayer stem_;
  std::vector<ResidualBlock> blocks_;
  Linear fc_;
};

}  // namespace

std::unique_ptr<ImageClassifier> make_resnet(const VisionConfig& c, const TorchWeights& w) {
  return std::make_unique<ResNet>(c, w);
}

}  // namespace lumen
