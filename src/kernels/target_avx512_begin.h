// Compiles what follows, up to kernels/target_end.h, for AVX-512 (F, BW, VL, VNNI) with AVX2,
// FMA and F16C whatever the build flags, under GCC and clang alike. Included (deliberately
// without an include guard) around the AVX-512 kernels, which run only where the CPU reports
// those features (kernels/cpu_features.h).
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")
#endif
