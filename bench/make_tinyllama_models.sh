#!/usr/bin/env bash
# Writes random-weight models of the TinyLlama-1.1B shape (dim 2048, hidden 5632, 22 layers,
# 32 heads, 4 KV heads, vocab 32000, separate output matrix) as GGUF in F16, Q8_0, Q4_0 and
# Q4_K_M, for the speed comparisons in docs/PERF.md. Usage: make_tinyllama_models.sh OUT_DIR
# (needs ~9 GB of disk while it runs; the F32 intermediate is removed at the end).
set -euo pipefail
out=${1:?usage: make_tinyllama_models.sh OUT_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
lumen=${LUMEN:-$root/build/lumen}
mkdir -p "$out"
/usr/bin/python3 "$root/tests/tools/make_random_llama2c.py" "$out/tinyllama-f32.bin" --dim 2048 --hidden 5632 \
  --layers 22 --heads 32 --kv-heads 4 --vocab 32000 --seq-len 2048 --seed 7 --std 0.02 --unshared
"$lumen" convert -m "$out/tinyllama-f32.bin" -z "$root/models/tokenizer.bin" -o "$out/tinyllama-f32.gguf"
rm "$out/tinyllama-f32.bin"
for type in F16 Q8_0 Q4_0 Q4_K_M; do
  "$lumen" quantize "$out/tinyllama-f32.gguf" "$out/tinyllama-$type.gguf" "$type"
done
rm "$out/tinyllama-f32.gguf"
ls -la "$out"
