#include "kernels/qmatmul.h"

#include <algorithm>
#include <array>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/gemm_kernel.h"
#include "kernels/packed_kernel.h"
#include "kernels/packed_layout.h"
#include "kernels/qgemm_kernel.h"
#include "tensor/quants/quantize.h"

namespace lumen {
namespace {

using quants::BlockQ8_0;

// The quantized activations of the current call. Per calling thread, grown to the largest call
// seen and then reused, so the token loop allocates nothing.
struct Scratch {
  std::vector<uint8_t> xq;
  std::vector<ActScale> xs;  // row-major weights
  std::vector<PackedAct> xa;  // packed weights, Q8_0 activations
  std::vector<PackedActK> xk; // packed weights, Q8_K activations
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// The kernel of the path in use for weights of type t: the AVX-512 kernel where the CPU has
// one (VNNI), else the AVX2 one (an AVX-512 CPU without VNNI still has those), else the scalar
// twin.
template <class Kernel>
Kernel kernel_for(Kernel (*avx512)(DType), Kernel (*avx2)(DType), Kernel (*scalar)(DType), DType t) {
  Kernel k = nullptr;
  switch (kernel_isa()) {
    case Isa::Avx512:
      k = avx512(t);
      if (k) break;
      [[fallthrough]];
    case Isa::Avx2: k = avx2(t); break;
    case Isa::Scalar: break;
  }
  return k ? k : scalar(t);
}

// The o of weights stored as unsigned quants u with value (u - o) d; 0 for the other types.
// Packed Q8_0 stores its quants sign-flipped, as u = q + 128.
int quant_offset(DType t, Layout layout) {
  if (layout == Layout::Interleaved16 && t == DType::Q8_0) return 128;
  return t == DType::Q4_0 ? 8 : t == DType::Q5_0 ? 16 : 0;
}

PackedAct packed_act(const BlockQ8_0& q, int offset) {
  int sum = 0;
  for (int8_t v : q.qs) sum += v;
  return {f16_to_f32(q.d), -offset * sum};
}

// The sums of a Q8_K super-block's 8 sub-blocks of 32 (each |sum| <= 32 * 127: 16 bits), paired.
PackedActK packed_act_k(const quants::BlockQ8_K& q) {
  PackedActK a{q.d, {}};
  for (int p = 0; p < 4; ++p) {
    const int lo = q.bsums[4 * p] + q.bsums[4 * p + 1], hi = q.bsums[4 * p + 2] + q.bsums[4 * p + 3];
    a.sum_pairs[p] = int32_t(uint32_t(uint16_t(lo)) | uint32_t(uint16_t(hi)) << 16);
  }
  return a;
}

// What the kernels need of a Q8_0 activation block besides its quants (qgemm_kernel.h).
ActScale act_scale(const BlockQ8_0& q, int offset) {
  ActScale a{f16_to_f32(q.d), 0, {}};
  int sum = 0;
  for (int i = 0; i < 8; ++i) {
    const int sum4 = q.qs[4 * i] + q.qs[4 * i + 1] + q.qs[4 * i + 2] + q.qs[4 * i + 3];
    a.offset4[i] = -offset * sum4;
    sum += sum4;
  }
  a.s = a.d * float(sum);
  return a;
}

}  // namespace

DType activation_type(DType t) {
  switch (t) {
    case DType::Q8_0:
    case DType::Q4_0:
    case DType::Q4_1:
    case DType::Q5_0:
    case DType::Q5_1: return DType::Q8_0;
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K: return DType::Q8_K;
    default: return DType::F32;
  }
}

namespace {

// Quantizes n_tokens rows of x (cols values each) to `act` into the calling thread's scratch,
// with the per-block terms the kernels of weights of type `type` in `layout` read.
Scratch& quantize_activations(DType type, Layout layout, const float* x, int64_t cols, int n_tokens,
                              ThreadPool& pool) {
  const DType act = activation_type(type);
  const size_t xq_stride = row_bytes(act, cols);  // fails unless cols is whole blocks
  const int64_t blocks = cols / dtype_info(type).block_elems;
  Scratch& s = scratch();
  if (s.xq.size() < size_t(n_tokens) * xq_stride) s.xq.resize(size_t(n_tokens) * xq_stride);
  const bool packed = layout == Layout::Interleaved16;
  const size_t act_blocks = size_t(n_tokens) * size_t(blocks);
  if (!packed && act == DType::Q8_0 && s.xs.size() < act_blocks) s.xs.resize(act_blocks);
  if (packed && act == DType::Q8_0 && s.xa.size() < act_blocks) s.xa.resize(act_blocks);
  if (packed && act == DType::Q8_K && s.xk.size() < act_blocks) s.xk.resize(act_blocks);

  // Activations round as ggml's quantize_row_q8_0/q8_K round them: the project's quantizer, or
  // on a SIMD path its bit-identical AVX2 form.
  const bool simd = kernel_isa() != Isa::Scalar;
  const QuantizeQ8_0 fast_q8_0 = simd ? quantize_q8_0_avx2() : nullptr;
  const QuantizeQ8_K fast_q8_k = simd ? quantize_q8_k_avx2() : nullptr;
  const int offset = quant_offset(type, layout);
  auto quantize_tokens = [&](int64_t t_begin, int64_t t_end) {
    for (int64_t t = t_begin; t < t_end; ++t) {
      uint8_t* xq = s.xq.data() + t * xq_stride;
      if (act == DType::Q8_0 && fast_q8_0)
        fast_q8_0(x + t * cols, reinterpret_cast<BlockQ8_0*>(xq), cols);
      else if (act == DType::Q8_K && fast_q8_k)
        fast_q8_k(x + t * cols, reinterpret_cast<quants::BlockQ8_K*>(xq), cols);
      else
        quantize_row(act, x + t * cols, xq, cols);
      // What the kernel needs of each block besides its quants (none for row-major K-quants).
      const auto* q8_0 = reinterpret_cast<const BlockQ8_0*>(xq);
      const auto* q8_k = reinterpret_cast<const quants::BlockQ8_K*>(xq);
      for (int64_t b = 0; b < blocks; ++b) {
        if (act == DType::Q8_0 && packed) s.xa[t * blocks + b] = packed_act(q8_0[b], offset);
        if (act == DType::Q8_0 && !packed) s.xs[t * blocks + b] = act_scale(q8_0[b], offset);
        if (act == DType::Q8_K && packed) s.xk[t * blocks + b] = packed_act_k(q8_k[b]);
      }
    }
  };
  // One token is quantized by the caller alone: a parallel section would cost more than it saves.
  if (n_tokens == 1) {
    quantize_tokens(0, 1);
  } else {
    pool.run([&](int i, int nth) {
      const auto [begin, end] = split_range(n_tokens, i, nth);
      quantize_tokens(begin, end);
    });
  }
  return s;
}

}  // namespace

bool can_share_activations(std::span<const MatmulOutput> outs) {
  if (outs.size() > kMaxSharedOutputs) return false;
  for (const MatmulOutput& o : outs) {
    const Tensor& w = *o.w;
    const Tensor& first = *outs.front().w;
    if (w.layout != Layout::Interleaved16 || activation_type(w.type) != activation_type(first.type) ||
        quant_offset(w.type, w.layout) != quant_offset(first.type, first.layout) || w.row_length() != first.row_length())
      return false;
  }
  return !outs.empty();
}

void qmatmul_packed(std::span<const MatmulOutput> outs, const float* x, int n_tokens, ThreadPool& pool) {
  if (n_tokens == 0) return;
  const Tensor& first = *outs.front().w;
  const int64_t cols = first.row_length();
  const Scratch& s = quantize_activations(first.type, first.layout, x, cols, n_tokens, pool);

  // The matrices' groups in a row, as one range of bytes that the threads split evenly: a
  // thread takes the groups that start inside its share (whole groups: outputs stay bit-identical
  // for every thread count), so small matrices (k, v) cost no pass of the pool of their own.
  struct Part {
    PackedArgs args;
    PackedGroups kernel;
    int64_t groups;
    size_t first_byte;
  };
  std::array<Part, kMaxSharedOutputs> parts;  // on the stack: this runs for every token
  size_t n_parts = 0;
  size_t total = 0;
  for (const MatmulOutput& o : outs) {
    const Tensor& w = *o.w;
    const int64_t blocks = cols / dtype_info(w.type).block_elems;
    const PackedArgs args{static_cast<const uint8_t*>(w.data), packed_group_bytes(w), blocks, w.rows(),
                          s.xq.data(), s.xa.data(), s.xk.data(), o.y, n_tokens};
    const PackedGroups kernel = kernel_for(&packed_groups_avx512, &packed_groups_avx2, &packed_groups_scalar, w.type);
    parts[n_parts] = {args, kernel, w.rows() / kPackRows, total};
    total += size_t(parts[n_parts++].groups) * args.group_stride;
  }
  pool.run([&](int i, int nth) {
    const size_t lo = total * size_t(i) / size_t(nth), hi = total * size_t(i + 1) / size_t(nth);
    for (const Part& p : std::span(parts).first(n_parts)) {
      // The first group starting at or after byte b of the whole range.
      auto group_at = [&](size_t b) {
        if (b <= p.first_byte) return int64_t(0);
        return std::min(p.groups, int64_t((b - p.first_byte + p.args.group_stride - 1) / p.args.group_stride));
      };
      const int64_t begin = group_at(lo), end = group_at(hi);
      if (begin < end) p.kernel(p.args, begin, end);
    }
  });
}

void qmatmul(const Tensor& w, const float* x, float* y, int n_tokens, ThreadPool& pool) {
  if (w.layout == Layout::Interleaved16) {
    const MatmulOutput out{&w, y};
    return qmatmul_packed({&out, 1}, x, n_tokens, pool);
  }
  const int64_t cols = w.row_length(), rows = w.rows();
  if (rows == 0 || n_tokens == 0) return;
  const Scratch& s = quantize_activations(w.type, w.layout, x, cols, n_tokens, pool);
  const QGemmArgs a{static_cast<const uint8_t*>(w.data), row_bytes(w.type, cols), cols / dtype_info(w.type).block_elems,
                    rows, s.xq.data(), row_bytes(activation_type(w.type), cols), s.xs.data(), y, n_tokens};
  // As for the float types: threads take contiguous runs of whole row tiles.
  const QGemmRows kernel = kernel_for(&qgemm_rows_avx512, &qgemm_rows_avx2, &qgemm_rows_scalar, w.type);
  const int64_t tiles = (rows + kGemmRowTile - 1) / kGemmRowTile;
  pool.run([&](int i, int nth) {
    const auto [begin, end] = split_range(tiles, i, nth);
    kernel(a, begin * kGemmRowTile, std::min(end * kGemmRowTile, rows));
  });
}

}  // namespace lumen
