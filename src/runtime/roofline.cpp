#include "runtime/roofline.h"

#if defined(__x86_64__)
#include "kernels/x86_intrinsics.h"
#endif

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cpu_features.h"

namespace lumen {
namespace {

// Independent accumulators: enough to cover the FMA latency x throughput of current cores.
constexpr int kChains = 12;
constexpr int64_t kIterations = 1 << 21;

template <typename Body>
double busy_throughput(ThreadPool& pool, double ops_per_iteration, Body body) {
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<float> sink(pool.size());
    const auto t0 = std::chrono::steady_clock::now();
    pool.run([&](int i, int) { sink[i] = body(); });
    const double s = seconds_since(t0);
    best = std::max(best, ops_per_iteration * double(kIterations) * pool.size() / s / 1e9);
    if (std::find(sink.begin(), sink.end(), 12345.0f) != sink.end()) best += 1e-12;  // keep the work
  }
  return best;
}

// x86-64 only, like the kernels whose ceilings they measure; elsewhere the kernels are scalar.
#if defined(__x86_64__)
__attribute__((target("avx512f"))) float fma_loop_avx512() {
  __m512 acc[kChains];
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-3f);
  for (auto& r : acc) r = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < kIterations; ++i)
    for (auto& r : acc) r = _mm512_fmadd_ps(r, a, b);
  __m512 sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm512_add_ps(sum, acc[c]);
  return _mm512_reduce_add_ps(sum);
}

__attribute__((target("avx2,fma"))) float fma_loop_avx2() {
  __m256 acc[kChains];
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-3f);
  for (auto& r : acc) r = _mm256_set1_ps(1.0f);
  for (int64_t i = 0; i < kIterations; ++i)
    for (auto& r : acc) r = _mm256_fmadd_ps(r, a, b);
  __m256 sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm256_add_ps(sum, acc[c]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  return lanes[0] + lanes[7];
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) float dot_loop_vnni() {
  __m512i acc[kChains];
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
  for (auto& r : acc) r = _mm512_setzero_si512();
  for (int64_t i = 0; i < kIterations; ++i)
    for (auto& r : acc) r = _mm512_dpbusd_epi32(r, a, b);
  __m512i sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm512_add_epi32(sum, acc[c]);
  return float(_mm512_reduce_add_epi32(sum));
}

// AVX2 has no int8 dot instruction: u8 x s8 pairs → i16 sums (maddubs), then → i32 (madd).
__attribute__((target("avx2"))) float dot_loop_avx2() {
  __m256i acc[kChains];
  const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-2), ones = _mm256_set1_epi16(1);
  for (auto& r : acc) r = _mm256_setzero_si256();
  for (int64_t i = 0; i < kIterations; ++i)
    for (auto& r : acc) r = _mm256_add_epi32(r, _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), ones));
  __m256i sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm256_add_epi32(sum, acc[c]);
  return float(_mm256_extract_epi32(sum, 0));
}
#endif

}  // namespace

double measure_peak_f32_gflops(ThreadPool& pool) {
#if defined(__x86_64__)
  switch (kernel_isa()) {
    case Isa::Avx512: return busy_throughput(pool, 2.0 * 16 * kChains, fma_loop_avx512);
    case Isa::Avx2: return busy_throughput(pool, 2.0 * 8 * kChains, fma_loop_avx2);
    case Isa::Scalar: break;
  }
#endif
  return busy_throughput(pool, 2.0 * kChains, [] {
    float acc[kChains] = {};
    for (int64_t i = 0; i < kIterations; ++i)
      for (float& r : acc) r = r * 0.999f + 1e-3f;
    return acc[0];
  });
}

double measure_peak_int8_gops(ThreadPool& pool) {
#if defined(__x86_64__)
  if (kernel_isa() == Isa::Avx512 && cpu_has_avx512_vnni()) return busy_throughput(pool, 2.0 * 64 * kChains, dot_loop_vnni);
  if (kernel_isa() != Isa::Scalar) return busy_throughput(pool, 2.0 * 32 * kChains, dot_loop_avx2);
#endif
  return measure_peak_f32_gflops(pool);  // scalar: integer dots run no faster than float ones
}

}  // namespace lumen
