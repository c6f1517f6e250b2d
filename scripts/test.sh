#!/usr/bin/env bash
# Builds lumen and runs the whole test suite through CTest.
#   scripts/test.sh             Release build in build/
#   scripts/test.sh --sanitize  AddressSanitizer + UndefinedBehaviorSanitizer build in build-asan/
#   scripts/test.sh --clang     Release build with Debian's clang (14) in build-clang/
set -euo pipefail
cd "$(dirname "$0")/.."
build=build
flags=(-DCMAKE_BUILD_TYPE=Release)
extra_packages=()
case "${1:-}" in
  "") ;;
  --sanitize)
    build=build-asan
    flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DLUMEN_SANITIZE=ON -DLUMEN_BUILD_BENCH=OFF)
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    ;;
  --clang)
    build=build-clang
    flags=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++)
    extra_packages=(clang)
    ;;
  *) echo "usage: $0 [--sanitize | --clang]" >&2; exit 2 ;;
esac
bash scripts/install-deps.sh "${extra_packages[@]}"
# The server tests drive lumen with the official openai client and playwright-core (npm).
[ -d tests/server/node_modules ] || npm ci --prefix tests/server --no-audit --no-fund
cmake -S . -B "$build" "${flags[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" -j"$(nproc)" --output-on-failure
