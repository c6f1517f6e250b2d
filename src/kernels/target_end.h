// Ends the region a kernels/target_*_begin.h started.
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
