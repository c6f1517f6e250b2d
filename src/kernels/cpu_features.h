#pragma once
// Which SIMD instruction set the compute kernels use. The choice is made at run time from what
// the CPU reports, so one portable binary still runs the AVX2 or AVX-512 kernels where the
// hardware has them. LUMEN_ISA=scalar|avx2|avx512 (read once, at first use) or set_kernel_isa()
// force a path, so tests and benchmarks can hold every path against the scalar reference.
#include <string_view>

namespace lumen {

enum class Isa { Scalar, Avx2, Avx512 };

std::string_view isa_name(Isa isa);

// True if this CPU (and this build) can run the kernels of `isa`. The AVX2 and AVX-512 kernels
// exist in x86-64 builds only: elsewhere (32-bit x86 included) only Scalar is supported.
bool isa_supported(Isa isa);

// Whether the CPU has AVX-512 VNNI (vpdpbusd, with AVX512VL on ymm registers): the quantized
// kernels of the AVX-512 path need it for their integer dot products; without it they fall back
// to the AVX2 ones.
bool cpu_has_avx512_vnni();

// The best path this CPU supports.
Isa best_isa();

// The path the kernels use now: LUMEN_ISA if set, else best_isa().
Isa kernel_isa();

// Forces a path (tests, benchmarks); fails if this CPU cannot run it. Not thread safe with
// respect to kernels running at the same time.
void set_kernel_isa(Isa isa);

}  // namespace lumen
