// Compiles what follows, up to kernels/target_end.h, for AVX2 + FMA + F16C whatever the build
// flags, under GCC and clang alike. Included (deliberately without an include guard) by each
// AVX2 kernel file around its code; those functions run only where the CPU reports AVX2
// (kernels/cpu_features.h).
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#endif
