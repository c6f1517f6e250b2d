// The Vision Transformer (Dosovitskiy et al. 2020, torchvision's VisionTransformer): the image
// cut into patch_size x patch_size patches, each projected to hidden_dim by one strided
// convolution (conv_proj), a learned class token put before them and learned positions added;
// then num_layers pre-norm encoder layers in which every token sees every other —
//     x = x + out_proj(attention(ln_1(x)))        (nn.MultiheadAttention, num_heads heads)
//     x = x + mlp.3(gelu(mlp.0(ln_2(x))))          (exact, erf GELU)
// — the final LayerNorm `encoder.ln`, and the classifier `heads.head` on the class token's row.
// The attention, LayerNorm and GELU are BERT's and the encoder-decoder's (models/encoder_layers.h).
#include "kernels/ops.h"
#include "models/vision.h"

namespace lumen {
namespace {

struct VitLayer {
  LayerNormWeights ln_1;
  AttentionWeights attention;
  LayerNormWeights ln_2;
  Linear mlp_up, mlp_down;
};

class VisionTransformer : public ImageClassifier {
 public:
  VisionTransformer(const VisionConfig& c, const TorchWeights& w)
      : c_(c),
        tokens_((c.image_size / c.patch_size) * (c.image_size / c.patch_size) + 1),
        patch_embedding_(ConvLayer::with_bias(w, "conv_proj", {3, c.hidden_dim, c.patch_size, c.patch_size, 0},
                                              Activation::None)),
        class_token_(w.floats("class_token", {1, 1, c.hidden_dim})),
        positions_(w.floats("encoder.pos_embedding", {1, tokens_, c.hidden_dim})) {
    const int64_t d = c.hidden_dim, mlp = c.mlp_dim;
    auto norm = [&](const std::string& p) {
      return make_layernorm(w.tensor(p + ".weight", {d}), w.tensor(p + ".bias", {d}), d, c.layer_norm_eps);
    };
    auto linear = [&](const std::string& p, int64_t in, int64_t out) {
      return make_linear(w.tensor(p + ".weight", {out, in}), w.tensor(p + ".bias", {out}), in, out);
    };
    for (int32_t i = 0; i < c.num_layers; ++i) {
      const std::string p = "encoder.layers.encoder_layer_" + std::to_string(i) + ".";
      const std::string a = p + "self_attention.";
      layers_.push_back({norm(p + "ln_1"),
                         make_multihead_attention(w.tensor(a + "in_proj_weight", {3 * d, d}),
                                                  w.tensor(a + "in_proj_bias", {3 * d}),
                                                  w.tensor(a + "out_proj.weight", {d, d}),
                                                  w.tensor(a + "out_proj.bias", {d}), d),
                         norm(p + "ln_2"), linear(p + "mlp.0", d, mlp), linear(p + "mlp.3", mlp, d)});
    }
    final_norm_ = norm("encoder.ln");
    head_ = make_classifier(w, "heads.head", c.hidden_dim, c.num_classes);
  }

  std::vector<float> logits(const FeatureMap& image, VisionContext& ctx) const override {
    const int32_t n = tokens_, d = c_.hidden_dim;
    // The patch embeddings come out channels last, one row per patch in raster order: the
    // token rows after the class token.
    const FeatureMap patches = patch_embedding_(image, ctx);
    std::vector<float> x(size_t(n) * d);
    std::copy(class_token_.begin(), class_token_.end(), x.begin());
    std::copy(patches.data.begin(), patches.data.end(), x.begin() + d);
    add_into(x.data(), positions_.data(), int64_t(x.size()));

    const std::vector<KeySpan> spans(size_t(n), KeySpan{0, n});  // bidirectional over the whole image
    std::vector<float> h(x.size()), q(x.size()), k(x.size()), v(x.size()), att(x.size()), out(x.size());
    std::vector<float> hidden(size_t(n) * c_.mlp_dim);
    for (const VitLayer& l : layers_) {
      h = x;
      l.ln_1.apply(h.data(), n);
      l.attention.q.apply(h.data(), q.data(), n, ctx.pool);
      l.attention.k.apply(h.data(), k.data(), n, ctx.pool);
      l.attention.v.apply(h.data(), v.data(), n, ctx.pool);
      attend_rows({q.data(), d, k.data(), v.data(), d, att.data(), d, c_.num_heads, d / c_.num_heads}, spans,
                  ctx.scratch, ctx.pool);
      l.attention.o.apply(att.data(), out.data(), n, ctx.pool);
      add_into(x.data(), out.data(), int64_t(x.size()));
      h = x;
      l.ln_2.apply(h.data(), n);
      l.mlp_up.apply(h.data(), hidden.data(), n, ctx.pool);
      gelu_erf(hidden.data(), int64_t(hidden.size()));
      l.mlp_down.apply(hidden.data(), out.data(), n, ctx.pool);
      add_into(x.data(), out.data(), int64_t(x.size()));
    }
    // Only the class token's row reaches the head.
    std::vector<float> cls(x.begin(), x.begin() + d);
    final_norm_.apply(cls.data(), 1);
    return classify(head_, cls, ctx.pool);
  }

 private:
  VisionConfig c_;
  int32_t tokens_;  // patches + the class token
  ConvLayer patch_embedding_;
  std::vector<float> class_token_, positions_;
  std::vector<VitLayer> layers_;
  LayerNormWeights final_norm_;
  Linear head_;
};

}  // namespace

std::unique_ptr<ImageClassifier> make_vit(const VisionConfig& c, const TorchWeights& w) {
  return std::make_unique<VisionTransformer>(c, w);
}

}  // namespace lumen
