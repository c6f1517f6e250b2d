#!/usr/bin/env bash
# Writes the random-weight llama2.c models the golden tests use (shapes and seeds from
# tests/data/goldens/README.md) into $1, unless a file with the expected sha256 is already there.
set -euo pipefail
out=${1:?usage: make_test_models.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
make_one() {
  local name=$1 sha=$2; shift 2
  if [ -f "$out/$name" ] && echo "$sha  $out/$name" | sha256sum -c --quiet 2>/dev/null; then return; fi
  /usr/bin/python3 "$here/make_random_llama2c.py" "$out/$name" "$@" > /dev/null
  echo "$sha  $out/$name" | sha256sum -c --quiet
}
make_one rand-mha.bin 658f7834c9cf8d3a3aaebd658f9a0cc086d6df37ee5d6f2981e3da61c4e81b47 \
  --dim 288 --hidden 768 --layers 6 --heads 6 --kv-heads 6 --vocab 32000 --seq-len 256 --seed 1 --std 0.08
make_one rand-gqa.bin f86498a0316995eb9699910af3256ad7cec4c8a5a64d6c038ea2d717eb90492d \
  --dim 256 --hidden 688 --layers 4 --heads 8 --kv-heads 2 --vocab 32000 --seq-len 256 --seed 2 --std 0.08 --unshared
