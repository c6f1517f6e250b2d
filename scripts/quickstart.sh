#!/usr/bin/env bash
# Quick start: install what is missing, build lumen (Release), and tell a story with the bundled
# stories260K model. Extra arguments go to `lumen run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target lumen
./build/lumen run "$@"
