#include "kernels/qmatmul.h"

#include <algorithm>
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

void qmatmul(const Tensor& w, const float* x, float* y, int n_tokens, ThreadPool& pool) {
  const DType act = activation_type(w.type);
  const int64_t cols = w.row_length(), rows = w.rows();
  const size_t xq_stride = row_bytes(act, cols);  // fails unless cols is whole blocks
  const int64_t blocks = cols / dtype_info(w.type).block_elems;
  if (rows == 0 || n_tokens == 0) return;

  Scratch& s = scratch();
  if (s.xq.size() < size_t(n_tokens) * xq_stride) s.xq.resize(size_t(n_tokens) * xq_stride);
  const bool packed = w.layout == Layout::Interleaved16;
  const size_t act_blocks = size_t(n_tokens) * size_t(blocks);
  std::vector<ActScale>& xs = s.xs;
  std::vector<PackedAct>& xa = s.xa;
  std::vector<PackedActK>& xk = s.xk;
  if (!packed && act == DType::Q8_0 && xs.size() < act_blocks) xs.resize(act_blocks);
  if (packed && act == DType::Q8_0 && xa.size() < act_blocks) xa.resize(act_blocks);
  if (packed && act == DType::Q8_K && xk.size() < act_blocks) xk.resize(act_blocks);
  const QGemmArgs a{static_cast<const uint8_t*>(w.data), row_bytes(w.type, cols), blocks, rows, s.xq.data(),
                    xq_stride, s.xs.data(), y, n_tokens};

  // Activations round as ggml's quantize_row_q8_0/q8_K round them: the project's quantizer, or
  // on a SIMD path its bit-identical AVX2 form.
  const bool simd = kernel_isa() != Isa::Scalar;
  const QuantizeQ8_0 fast_q8_0 = simd ? quantize_q8_0_avx2() : nullptr;
  const QuantizeQ8_K fast_q8_k = simd ? quantize_q8_k_avx2() : nullptr;
  const int offset = quant_offset(w.type, w.layout);
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
        if (act == DType::Q8_0 && packed) xa[t * blocks + b] = packed_act(q8_0[b], offset);
        if (act == DType::Q8_0 && !packed) xs[t * blocks + b] = act_scale(q8_0[b], offset);
        if (act == DType::Q8_K && packed) xk[t * blocks + b] = packed_act_k(q8_k[b]);
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
  if (packed) {  // threads take contiguous runs of whole 16-row groups
    const PackedArgs pa{a.w, packed_group_bytes(w), blocks, rows, s.xq.data(), xa.data(), xk.data(), y, n_tokens};
    const PackedGroups kernel = kernel_for(&packed_groups_avx512, &packed_groups_avx2, &packed_groups_scalar, w.type);
    pool.run([&](int i, int nth) {
      const auto [begin, end] = split_range(rows / kPackRows, i, nth);
      kernel(pa, begin, end);
    });
    return;
  }
  // As for the float types: threads take contiguous runs of whole row tiles.
  const QGemmRows kernel = kernel_for(&qgemm_rows_avx512, &qgemm_rows_avx2, &qgemm_rows_scalar, w.type);
  const int64_t tiles = (rows + kGemmRowTile - 1) / kGemmRowTile;
  pool.run([&](int i, int nth) {
    const auto [begin, end] = split_range(tiles, i, nth);
    kernel(a, begin * kGemmRowTile, std::min(end * kGemmRowTile, rows));
  });
}

}  // namespace lumen
