#include "models/decoder.h"

#include <algorithm>
#include <atomic>

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "tensor/tensor_checks.h"
#include "util/error.h"

namespace lumen {
namespace {

// An optional tensor widened, or an empty vector when it is absent.
std::vector<float> widen_optional(const Tensor& t) { return t.present() ? widen(t) : std::vector<float>{}; }

// fn(r) for every row r of [0, n), rows being independent: split between the pool's threads, or
// on the calling thread for a single row (a decode step), where waking the pool would cost more
// than the row itself. forward() has checked everything such a row could fail on, as an
// exception cannot leave a worker thread.
template <typename Fn>
void for_each_row(ThreadPool& pool, int32_t n, const Fn& fn) {
  if (n == 1) {
    fn(0);
    return;
  }
  pool.run([&](int i, int nth) {
    const auto [begin, end] = split_range(n, i, nth);
    for (int64_t r = begin; r < end; ++r) fn(int32_t(r));
  });
}

}  // namespace

Decoder::Decoder(const LoadedModel& model, int32_t max_positions, int32_t max_batch_tokens, ThreadPool& pool)
    : config_(model.config),
      weights_(model.weights),
      pool_(pool),
      max_batch_(max_batch_tokens),
      rope_(model.config.rotary_dims(), max_positions, model.config.rope_freq_base) {
  const ModelConfig& c = config_;
  if (max_positions < 1 || max_positions > c.context_length)
    fail("context of ", max_positions, " tokens is outside the model's 1..", c.context_length);
  if (max_batch_tokens < 1) fail("a forward batch must hold at least one token");
  for (const LayerWeights& l : weights_.layers) {
    attn_norm_.push_back(widen(l.attn_norm));
    ffn_norm_.push_back(widen(l.ffn_norm));
    attn_norm_b_.push_back(widen_optional(l.attn_norm_b));
    ffn_norm_b_.push_back(widen_optional(l.ffn_norm_b));
    bq_.push_back(widen_optional(l.bq));
    bk_.push_back(widen_optional(l.bk));
    bv_.push_back(widen_optional(l.bv));
    bo_.push_back(widen_optional(l.bo));
    b_up_.push_back(widen_optional(l.b_up));
    b_down_.push_back(widen_optional(l.b_down));
  }
  output_norm_ = widen(weights_.output_norm);
  output_norm_b_ = widen_optional(weights_.output_norm_b);
  embd_norm_ = widen_optional(weights_.embd_norm);
  embd_norm_b_ = widen_optional(weights_.embd_norm_b);
  if (c.position == PositionKind::ALiBi) {
    alibi_.resize(c.n_heads);
    alibi_slopes(alibi_.data(), c.n_heads);
  }
  const size_t B = size_t(max_batch_tokens);
  row_pos_.resize(B);
  row_seq_.resize(B);
  for (auto* buf : {&x_, &xb_, &q_, &att_}) buf->resize(B * c.dim);
  for (auto* buf : {&k_, &v_}) buf->resize(B * c.kv_dim());
  for (auto* buf : {&hb_, &hb2_}) buf->resize(B * c.hidden_dim);
  if (c.ffn == FfnKind::MoE) {
    const size_t picks = B * size_t(c.n_experts_used);
    router_.resize(B * c.n_experts);
    moe_weight_.resize(picks);
    moe_choice_.resize(picks);
    moe_rows_.resize(B);
    moe_row_weight_.resize(B);
    for (auto* buf : {&moe_x_, &moe_y_, &moe_out_}) buf->resize(B * c.dim);
  }
  // Queries per group: about 32, enough that widening a chunk of keys is a small share of their
  // products (more gain little), in runs short enough that a prompt chunk still splits into many
  // items, and few enough that a thread's scores (queries x max_positions) stay within 4 MiB
  // unless one row's heads alone need more.
  constexpr int32_t kGroupQueries = 32, kMaxRunRows = 16;
  constexpr int64_t kScoreFloats = int64_t(1) << 20;
  const int32_t heads_per_kv = c.n_heads / c.n_kv_heads;
  const int64_t rows_in_budget = kScoreFloats / (int64_t(heads_per_kv) * max_positions);
  run_rows_ = int32_t(std::clamp<int64_t>(std::min<int64_t>(kGroupQueries / heads_per_kv, rows_in_budget), 1,
                                          std::min(kMaxRunRows, max_batch_tokens)));
  scratch_floats_ = attention_scratch_floats(run_rows_ * heads_per_kv, max_positions, c.head_dim());
  attention_scratch_.resize(size_t(pool.size()) * scratch_floats_);
  queries_.resize(size_t(pool.size()) * run_rows_ * heads_per_kv);
  run_start_.resize(B + 1);
}

void Decoder::forward(std::span<const SequenceStep> batch, KvStore& kv) {
  const ModelConfig& c = config_;
  const int32_t dim = c.dim, kv_dim = c.kv_dim(), hid = c.hidden_dim, bs = kv.block_size();

  // Lay the batch out as rows, checking every sequence before any work is done.
  int32_t n = 0;
  for (const SequenceStep& s : batch) {
    const int64_t end = int64_t(s.pos) + int64_t(s.tokens.size());
    if (s.tokens.empty()) fail("a sequence in the batch has no tokens");
    if (s.pos < 0 || end > max_positions())
      fail("positions ", s.pos, "..", end - 1, " do not fit the context of ", max_positions(), " tokens");
    if (int64_t(s.blocks.size()) * bs < end) fail("block table too short for position ", end - 1);
    if (n + int64_t(s.tokens.size()) > max_batch_) fail("batch of more than ", max_batch_, " tokens");
    for (size_t i = 0; i < s.tokens.size(); ++i) {
      const int32_t t = s.tokens[i];
      if (t < 0 || t >= c.vocab_size) fail("token id ", t, " is outside the vocabulary (", c.vocab_size, ")");
      dequantize_row(weights_.token_embd.type, weights_.token_embd.row(t), &x_[size_t(n) * dim], dim);
      if (weights_.pos_embd.present()) {  // learned absolute position (GPT-2)
        const Tensor& pe = weights_.pos_embd;
        dequantize_row(pe.type, pe.row(s.pos + int32_t(i)), &xb_[size_t(n) * dim], dim);
        add_into(&x_[size_t(n) * dim], &xb_[size_t(n) * dim], dim);
      }
      if (!embd_norm_.empty())  // BLOOM's word_embeddings_layernorm
        layernorm(&x_[size_t(n) * dim], &x_[size_t(n) * dim], embd_norm_.data(),
                  embd_norm_b_.empty() ? nullptr : embd_norm_b_.data(), dim, c.rms_eps);
      row_pos_[n] = s.pos + int32_t(i);
      row_seq_[n] = &s;
      ++n;
    }
  }

  for (int32_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& w = weights_.layers[l];
    norm_rows(n, attn_norm_[l], attn_norm_b_[l]);
    const MatmulOutput qkv[] = {{&w.wq, q_.data()}, {&w.wk, k_.data()}, {&w.wv, v_.data()}};
    matmul(qkv, xb_.data(), n, pool_);
    if (!bq_[l].empty()) add_bias(q_.data(), bq_[l].data(), n, dim);
    if (!bk_[l].empty()) add_bias(k_.data(), bk_[l].data(), n, kv_dim);
    if (!bv_[l].empty()) add_bias(v_.data(), bv_[l].data(), n, kv_dim);
    for_each_row(pool_, n, [&](int32_t r) {  // rows write distinct cache slots
      const int32_t pos = row_pos_[r];
      if (c.position == PositionKind::Rope) {
        rope_.apply(&q_[size_t(r) * dim], c.n_heads, c.head_dim(), pos, c.rope_style);
        rope_.apply(&k_[size_t(r) * kv_dim], c.n_kv_heads, c.head_dim(), pos, c.rope_style);
      }
      const int32_t block = row_seq_[r]->blocks[pos / bs], slot = pos % bs;
      kv.store_key(l, block, slot, &k_[size_t(r) * kv_dim]);
      kv.store_value(l, block, slot, &v_[size_t(r) * kv_dim]);
    });
    attention(l, n, kv);
    matmul(w.wo, att_.data(), xb_.data(), n, pool_);
    if (!bo_[l].empty()) add_bias(xb_.data(), bo_[l].data(), n, dim);
    add_into(x_.data(), xb_.data(), int64_t(n) * dim);

    norm_rows(n, ffn_norm_[l], ffn_norm_b_[l]);
    switch (c.ffn) {
      case FfnKind::SwiGLU: {
        const MatmulOutput gate_up[] = {{&w.w_gate, hb_.data()}, {&w.w_up, hb2_.data()}};
        matmul(gate_up, xb_.data(), n, pool_);
        swiglu(hb_.data(), hb2_.data(), int64_t(n) * hid);
        matmul(w.w_down, hb_.data(), xb_.data(), n, pool_);
        break;
      }
      case FfnKind::GeluMLP:
        matmul(w.w_up, xb_.data(), hb_.data(), n, pool_);
        if (!b_up_[l].empty()) add_bias(hb_.data(), b_up_[l].data(), n, hid);
        gelu_tanh(hb_.data(), int64_t(n) * hid);
        matmul(w.w_down, hb_.data(), xb_.data(), n, pool_);
        if (!b_down_[l].empty()) add_bias(xb_.data(), b_down_[l].data(), n, dim);
        break;
      case FfnKind::MoE:
        mixture_of_experts(w, n);
        break;
    }
    add_into(x_.data(), xb_.data(), int64_t(n) * dim);
  }
  classifier(batch);
}

// Final norm and classifier, only for the rows whose logits were asked for; they are gathered
// into consecutive rows of xb_ so one matrix product serves every sequence of the batch.
void Decoder::classifier(std::span<const SequenceStep> batch) {
  const int32_t dim = config_.dim, vocab = config_.vocab_size;
  int32_t row = 0, wanted = 0;
  for (const SequenceStep& s : batch) {
    const int32_t n = int32_t(s.tokens.size());
    if (s.logits) {
      for (int32_t i = s.all_logits ? 0 : n - 1; i < n; ++i, ++wanted)
        norm(&xb_[size_t(wanted) * dim], &x_[size_t(row + i) * dim], output_norm_, output_norm_b_);
    }
    row += n;
  }
  if (wanted == 0) return;
  if (batch.size() == 1) {  // one sequence: its rows are the caller's buffer as they are
    matmul(weights_.output, xb_.data(), batch[0].logits, wanted, pool_);
    return;
  }
  // Grown to the rows asked for rather than sized for max_batch_ rows up front: the engine asks
  // for one row per sequence, and max_batch_ x vocab floats are megabytes it would never touch.
  if (logits_.size() < size_t(wanted) * vocab) logits_.resize(size_t(wanted) * vocab);
  matmul(weights_.output, xb_.data(), logits_.data(), wanted, pool_);
  int32_t at = 0;
  for (const SequenceStep& s : batch) {
    if (!s.logits) continue;
    const int32_t rows = s.all_logits ? int32_t(s.tokens.size()) : 1;
    std::copy_n(&logits_[size_t(at) * vocab], size_t(rows) * vocab, s.logits);
    at += rows;
  }
}

void Decoder::norm(float* out, const float* x, const std::vector<float>& w, const std::vector<float>& b) const {
  if (config_.norm == NormKind::RMSNorm)
    rmsnorm(out, x, w.data(), config_.dim, config_.rms_eps);
  else
    layernorm(out, x, w.data(), b.empty() ? nullptr : b.data(), config_.dim, config_.rms_eps);
}

void Decoder::norm_rows(int32_t n, const std::vector<float>& w, const std::vector<float>& b) {
  const size_t dim = size_t(config_.dim);
  for_each_row(pool_, n, [&](int32_t r) { norm(&xb_[r * dim], &x_[r * dim], w, b); });
}

// Mixtral's sparse FFN: softmax over the router's logits, the top n_experts_used experts,
// their probabilities renormalised to sum to one, and the weighted sum of those experts'
// SwiGLU outputs. Rows are gathered per expert so each expert's weights are read once.
void Decoder::mixture_of_experts(const LayerWeights& w, int32_t n) {
  const ModelConfig& c = config_;
  const int32_t dim = c.dim, E = c.n_experts, K = c.n_experts_used;
  matmul(w.router, xb_.data(), router_.data(), n, pool_);
  for (int32_t r = 0; r < n; ++r) {
    float* p = &router_[size_t(r) * E];
    softmax(p, E);
    float sum = 0.0f;
    for (int32_t k = 0; k < K; ++k) {  // top-K by selection; ties go to the lower index
      int32_t best = -1;
      for (int32_t e = 0; e < E; ++e) {
        bool taken = false;
        for (int32_t j = 0; j < k; ++j) taken |= moe_choice_[size_t(r) * K + j] == e;
        if (!taken && (best < 0 || p[e] > p[best])) best = e;
      }
      moe_choice_[size_t(r) * K + k] = best;
      moe_weight_[size_t(r) * K + k] = p[best];
      sum += p[best];
    }
    for (int32_t k = 0; k < K; ++k) moe_weight_[size_t(r) * K + k] /= sum;
  }
  std::fill_n(moe_out_.begin(), size_t(n) * dim, 0.0f);
  for (int32_t e = 0; e < E; ++e) {
    int32_t m = 0;
    for (int32_t r = 0; r < n; ++r)
      for (int32_t k = 0; k < K; ++k)
        if (moe_choice_[size_t(r) * K + k] == e) {
          std::copy_n(&xb_[size_t(r) * dim], dim, &moe_x_[size_t(m) * dim]);
          moe_rows_[m] = r;
          moe_row_weight_[m] = moe_weight_[size_t(r) * K + k];
          ++m;
        }
    if (m == 0) continue;
    const MatmulOutput gate_up[] = {{&w.expert_gate[e], hb_.data()}, {&w.expert_up[e], hb2_.data()}};
    matmul(gate_up, moe_x_.data(), m, pool_);
    swiglu(hb_.data(), hb2_.data(), int64_t(m) * c.hidden_dim);
    matmul(w.expert_down[e], hb_.data(), moe_y_.data(), m, pool_);
    for (int32_t i = 0; i < m; ++i) {
      float* out = &moe_out_[size_t(moe_rows_[i]) * dim];
      const float* y = &moe_y_[size_t(i) * dim];
      for (int32_t d = 0; d < dim; ++d) out[d] += moe_row_weight_[i] * y[d];
    }
  }
  std::copy_n(moe_out_.begin(), size_t(n) * dim, xb_.begin());
}

// Work items: one run of rows x one KV head, taken by the threads in turn since they differ in
// length (prefill against decode rows, early against late positions). A decode step gives
// n_kv_heads items. The kernel follows what a row is, not how the batch was cut: a generated
// token of an MHA model (one query per KV head) takes the one-query kernel, every other query
// the grouped one, so a run holds rows of one kind.
void Decoder::attention(int32_t layer, int32_t n, const KvStore& kv) {
  const ModelConfig& c = config_;
  const int32_t head_dim = c.head_dim(), heads_per_kv = c.n_heads / c.n_kv_heads;
  const auto alone = [&](int32_t r) { return heads_per_kv == 1 && row_pos_[r] >= row_seq_[r]->first_generated; };
  int32_t runs = 0;
  for (int32_t r = 0; r < n; ++r)
    if (r == 0 || row_seq_[r] != row_seq_[r - 1] || r - run_start_[runs - 1] == run_rows_ || alone(r) ||
        alone(r - 1))
      run_start_[runs++] = r;
  run_start_[runs] = n;
  const int64_t items = int64_t(runs) * c.n_kv_heads;
  std::atomic<int64_t> next_item{0};
  pool_.run([&](int i, int) {
    float* scratch = &attention_scratch_[size_t(i) * scratch_floats_];
    AttentionQuery* queries = &queries_[size_t(i) * run_rows_ * heads_per_kv];
    for (int64_t item; (item = next_item.fetch_add(1, std::memory_order_relaxed)) < items;) {
      const int32_t run = int32_t(item / c.n_kv_heads), kv_head = int32_t(item % c.n_kv_heads);
      const KvView keys{kv.keys(layer) + row_bytes(kv.types().keys, int64_t(kv_head) * head_dim), kv.types().keys,
                        int64_t(kv.key_row_bytes())};
      const KvView values{kv.values(layer) + row_bytes(kv.types().values, int64_t(kv_head) * head_dim),
                          kv.types().values, int64_t(kv.value_row_bytes())};
      const int32_t first_row = run_start_[run], end_row = run_start_[run + 1];
      const KvHead cached{keys, values, row_seq_[first_row]->blocks.data(), kv.block_size(), head_dim};
      int32_t count = 0;
      for (int32_t r = first_row; r < end_row; ++r)
        for (int32_t h = kv_head * heads_per_kv; h < (kv_head + 1) * heads_per_kv; ++h) {
          AttentionQuery& q = queries[count++];
          q = {&q_[size_t(r) * c.dim + size_t(h) * head_dim], &att_[size_t(r) * c.dim + size_t(h) * head_dim],
               row_pos_[r] + 1};
          if (c.sliding_window > 0) q.first_position = std::max(0, row_pos_[r] + 1 - c.sliding_window);
          if (!alibi_.empty()) q.alibi_slope = alibi_[h];
        }
      if (alone(first_row)) attend_one(cached, queries[0], scratch);
      else attend(cached, {queries, size_t(count)}, scratch);
    }
  });
}

namespace {

// The blocks a single sequence's cache needs: the whole context, or with a sliding window of W
// positions a ring of blocks_for(W + kMaxBatch) + 1. A forward of n <= kMaxBatch new positions
// from c reads positions c + 1 - W .. c + n - 1, which span at most that many blocks less one, so
// the block that position p shares with older ones (block p / 16 modulo the ring) holds only
// positions no row reads any more. (The serving engine gives such blocks back instead.)
int32_t cache_blocks(const ModelConfig& c, int32_t context, int32_t max_batch, int32_t block_size) {
  const int32_t whole = blocks_for(context, block_size);
  if (c.sliding_window <= 0) return whole;
  return std::min(whole, blocks_for(c.sliding_window + max_batch, block_size) + 1);
}

}  // namespace

SequenceRunner::SequenceRunner(const LoadedModel& model, int32_t context_length, ThreadPool& pool,
                               KvCacheTypes cache_types)
    : context_(context_length > 0 ? std::min(context_length, model.config.context_length)
                                  : model.config.context_length),
      decoder_(model, context_, kMaxBatch, pool),
      kv_(model.config.n_layers, cache_blocks(model.config, context_, kMaxBatch, kBlockSize), kBlockSize,
          model.config.n_kv_heads, model.config.head_dim(), cache_types),
      blocks_(blocks_for(context_, kBlockSize)) {
  for (size_t i = 0; i < blocks_.size(); ++i) blocks_[i] = int32_t(i % size_t(kv_.n_blocks()));
}

void SequenceRunner::decode(int32_t token, int32_t pos, float* logits) {
  SequenceStep step{std::span(&token, 1), pos, blocks_, logits, false, pos};
  decoder_.forward({&step, 1}, kv_);
}

void SequenceRunner::forward(std::span<const int32_t> tokens, int32_t pos, float* logits, bool all_logits) {
  forward_sequence(decoder_, kv_, blocks_, tokens, pos, logits, all_logits);
}

void forward_sequence(Decoder& decoder, KvStore& kv, std::span<const int32_t> blocks, std::span<const int32_t> tokens,
                      int32_t pos, float* logits, bool all_logits) {
  const int64_t n = int64_t(tokens.size());
  if (n == 0) fail("forward pass needs at least one token");
  const int32_t vocab = decoder.config().vocab_size, batch = decoder.max_batch_tokens();
  for (int64_t start = 0; start < n; start += batch) {
    const int32_t len = int32_t(std::min<int64_t>(batch, n - start));
    const bool last = start + len == n;
    SequenceStep step{tokens.subspan(start, len), pos + int32_t(start), blocks,
                      all_logits ? logits + start * vocab : (last ? logits : nullptr), all_logits};
    decoder.forward({&step, 1}, kv);
  }
}

}  // namespace lumen
