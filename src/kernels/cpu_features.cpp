#include "kernels/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <string>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "util/error.h"

namespace lumen {
namespace {

// The SIMD kernels are compiled for x86-64 only (gemm_avx2.cpp, gemm_avx512.cpp, ...: elsewhere
// they are stubs), so every other target, 32-bit x86 included, reports no SIMD path even where
// the CPU has one.
#if defined(__x86_64__)
// F16C straight from CPUID (leaf 1, ECX bit 29): clang (14 and 16 at least) does not accept
// "f16c" in __builtin_cpu_supports. The bit alone is enough here because it is only consulted
// together with AVX2, which __builtin_cpu_supports reports only when the OS saves the ymm
// registers.
bool cpu_has_f16c() {
  static const bool has = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C) != 0;
  }();
  return has;
}
#endif

bool cpu_has_avx2() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
#else
  return false;
#endif
}

bool cpu_has_avx512() {
#if defined(__x86_64__)
  return cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
}

}  // namespace

bool cpu_has_avx512_vnni() {
#if defined(__x86_64__)
  return cpu_has_avx512() && __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

namespace {

Isa parse_isa(std::string_view s) {
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
    if (s == isa_name(isa)) return isa;
  fail("LUMEN_ISA=", std::string(s), " is not one of scalar, avx2, avx512");
}

// Resolved on first use: the environment is read once, as the header promises.
Isa initial_isa() {
  const char* env = std::getenv("LUMEN_ISA");
  if (!env || !*env) return best_isa();
  const Isa isa = parse_isa(env);
  if (!isa_supported(isa)) fail("LUMEN_ISA=", env, " is not supported by this CPU");
  return isa;
}

std::atomic<Isa>& current() {
  static std::atomic<Isa> isa{initial_isa()};
  return isa;
}

}  // namespace

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::Avx2: return cpu_has_avx2();
    case Isa::Avx512: return cpu_has_avx512();
  }
  return false;
}

Isa best_isa() {
  if (isa_supported(Isa::Avx512)) return Isa::Avx512;
  if (isa_supported(Isa::Avx2)) return Isa::Avx2;
  return Isa::Scalar;
}

Isa kernel_isa() { return current().load(std::memory_order_relaxed); }

void set_kernel_isa(Isa isa) {
  if (!isa_supported(isa)) fail("kernel path ", isa_name(isa), " is not supported by this CPU");
  current().store(isa, std::memory_order_relaxed);
}

}  // namespace lumen
