#include "models/conv_layers.h"

#include <cmath>

#include "kernels/ops.h"
#include "util/error.h"

namespace lumen {
namespace {

std::vector<int64_t> torch_conv_shape(const ConvSpec& s) {
  return {s.out, s.in / s.groups, s.kernel, s.kernel};
}

void check_spec(const ConvSpec& s) {
  if (s.in <= 0 || s.out <= 0 || s.groups <= 0 || s.in % s.groups || s.out % s.groups)
    fail("convolution of ", s.in, " -> ", s.out, " channels in ", s.groups, " groups is not possible");
}

}  // namespace

ConvLayer::ConvLayer(const ConvSpec& spec, std::vector<float> weights, std::vector<float> bias, Activation act)
    : spec_(spec), weights_(std::move(weights)), bias_(std::move(bias)), act_(act) {}

ConvLayer ConvLayer::with_batch_norm(const TorchWeights& w, const std::string& conv, const std::string& bn,
                                     const ConvSpec& spec, float bn_eps, Activation act) {
  check_spec(spec);
  std::vector<float> weights = w.floats(conv + ".weight", torch_conv_shape(spec));
  const std::vector<int64_t> per_channel{spec.out};
  const std::vector<float> gamma = w.floats(bn + ".weight", per_channel), beta = w.floats(bn + ".bias", per_channel);
  const std::vector<float> mean = w.floats(bn + ".running_mean", per_channel);
  const std::vector<float> var = w.floats(bn + ".running_var", per_channel);
  const size_t per_out = weights.size() / size_t(spec.out);
  std::vector<float> bias(size_t(spec.out));
  for (size_t o = 0; o < bias.size(); ++o) {
    if (!(var[o] + bn_eps > 0.0f)) fail("tensor '", bn, ".running_var' has the non-positive variance ", var[o]);
    const double scale = double(gamma[o]) / std::sqrt(double(var[o]) + double(bn_eps));
    for (size_t i = o * per_out; i < (o + 1) * per_out; ++i) weights[i] = float(double(weights[i]) * scale);
    bias[o] = float(double(beta[o]) - double(mean[o]) * scale);
  }
  return ConvLayer(spec, conv_weights_from_oihw(weights.data(), spec.out, spec.in / spec.groups, spec.kernel, spec.kernel),
                   std::move(bias), act);
}

ConvLayer ConvLayer::with_bias(const TorchWeights& w, const std::string& conv, const ConvSpec& spec, Activation act) {
  check_spec(spec);
  const std::vector<float> weights = w.floats(conv + ".weight", torch_conv_shape(spec));
  return ConvLayer(spec, conv_weights_from_oihw(weights.data(), spec.out, spec.in / spec.groups, spec.kernel, spec.kernel),
                   w.floats(conv + ".bias", {spec.out}), act);
}

FeatureMap ConvLayer::operator()(const FeatureMap& x, VisionContext& ctx) const {
  if (x.c != spec_.in) fail("a convolution of ", spec_.in, " input channels was given ", x.c);
  Conv2dShape s;
  s.in_h = x.h;
  s.in_w = x.w;
  s.in_channels = spec_.in;
  s.out_channels = spec_.out;
  s.kernel_h = s.kernel_w = spec_.kernel;
  s.stride_h = s.stride_w = spec_.stride;
  s.pad_h = s.pad_w = spec_.pad;
  s.groups = spec_.groups;
  validate(s);
  FeatureMap y(s.out_h(), s.out_w(), s.out_channels);
  conv2d(s, x.data.data(), weights_.data(), bias_.data(), y.data.data(), ctx.scratch, ctx.pool);
  apply(act_, y);
  return y;
}

void apply(Activation act, FeatureMap& x) {
  switch (act) {
    case Activation::None: return;
    case Activation::Relu: return relu(x.data.data(), int64_t(x.data.size()));
    case Activation::Relu6: return relu6(x.data.data(), int64_t(x.data.size()));
  }
}

FeatureMap max_pool(const FeatureMap& x, int32_t kernel, int32_t stride, int32_t pad, bool ceil_mode) {
  Pool2dShape s;
  s.in_h = x.h;
  s.in_w = x.w;
  s.channels = x.c;
  s.kernel_h = s.kernel_w = kernel;
  s.stride_h = s.stride_w = stride;
  s.pad_h = s.pad_w = pad;
  s.ceil_mode = ceil_mode;
  validate(s);
  FeatureMap y(s.out_h(), s.out_w(), x.c);
  max_pool2d(s, x.data.data(), y.data.data());
  return y;
}

std::vector<float> global_average(const FeatureMap& x) {
  std::vector<float> y(size_t(x.c));
  adaptive_avg_pool2d(x.h, x.w, x.c, 1, 1, x.data.data(), y.data());
  return y;
}

Linear make_classifier(const TorchWeights& w, const std::string& name, int32_t features, int32_t classes) {
  return Linear{w.tensor(name + ".weight", {classes, features}), w.floats(name + ".bias", {classes})};
}

std::vector<float> classify(const Linear& head, const std::vector<float>& features, ThreadPool& pool) {
  if (int64_t(features.size()) != head.in())
    fail("the classifier takes ", head.in(), " features but was given ", features.size());
  std::vector<float> logits(size_t(head.out()));
  head.apply(features.data(), logits.data(), 1, pool);
  return logits;
}

}  // namespace lumen
