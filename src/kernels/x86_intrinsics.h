#pragma once
// <immintrin.h> for code compiled under a target pragma (x86-64 only). GCC 12 warns about the
// deliberately undefined registers inside its own intrinsics once they are inlined into
// target-pragma functions (GCC bug 105593); the warnings point into the compiler's header, so
// they are silenced for that header only.
#if !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif
