"""Peak resident memory of `lumen run` on quantized models stays within file + KV cache + 64 MiB.

Issue 3's memory bound: weights are read from the mmap'd file with no second copy (a repacked
copy must release the file's pages as it goes), so a decoding process needs the file's pages,
its KV cache and little else. The model is a random llama of 160M parameters (dim 1024, hidden
2816, 8 layers, 8/4 heads, vocab 32000, separate classifier, context 2048), written by
tests/tools/make_random_llama2c.py, converted and quantized to Q8_0 (~170 MB) and Q4_0
(~100 MB) by lumen itself: large enough that a second copy of the weights, or of the f32
embedding table (131 MB), would not fit in the 64 MiB of slack.

The KV cache is computed here from the shape (2 x layers x context x kv_dim x 2 bytes, f16,
the full context that `lumen run` allocates by default), not taken from lumen. Peak RSS is the
child's ru_maxrss from wait4, so only the `lumen run` process is measured, page-cache pages of
the mapped file included (they count in RSS once touched).

The F32 llama2.c file is generated once and kept in the work directory (it is deterministic);
the GGUF files are rebuilt on every run, so they always come from the lumen under test.
"""
import os
import re
import subprocess
import sys

import oracle_args

DIM, HIDDEN, LAYERS, HEADS, KV_HEADS, VOCAB, CONTEXT = 1024, 2816, 8, 8, 4, 32000, 2048
SLACK = 64 << 20
GENERATE = 32
TYPES = ["Q8_0", "Q4_0"]


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True)


def random_model(a):
    """The F32 llama2.c checkpoint, generated unless a complete one is already there."""
    path = os.path.join(a.work, "rss-f32.bin")
    kv_dim = DIM // HEADS * KV_HEADS
    params = VOCAB * DIM * 2 + LAYERS * (2 * DIM * DIM + 2 * kv_dim * DIM + 3 * HIDDEN * DIM + 2 * DIM) + DIM
    freq_cis = 2 * CONTEXT * (DIM // HEADS // 2)
    expected_bytes = 7 * 4 + 4 * (params + freq_cis)
    if not (os.path.exists(path) and os.path.getsize(path) == expected_bytes):
        run([sys.executable, os.path.join(a.source, "tests", "tools", "make_random_llama2c.py"), path,
             "--dim", str(DIM), "--hidden", str(HIDDEN), "--layers", str(LAYERS), "--heads", str(HEADS),
             "--kv-heads", str(KV_HEADS), "--vocab", str(VOCAB), "--seq-len", str(CONTEXT), "--seed", "3",
             "--std", "0.02", "--unshared"])
    return path


def peak_rss(cmd, log):
    """Runs cmd; returns its peak resident set in bytes (Linux reports ru_maxrss in KiB)."""
    with open(log, "w") as out:
        child = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        with open(log) as f:
            raise RuntimeError(f"{' '.join(cmd)} exited with {child.returncode}:\n{f.read()}")
    return usage.ru_maxrss * 1024


def main():
    a = oracle_args.parse(__doc__)
    tokenizer = os.path.join(a.source, "models", "tokenizer.bin")
    f32 = os.path.join(a.work, "rss-f32.gguf")
    run([a.lumen, "convert", "-m", random_model(a), "-z", tokenizer, "-o", f32])

    kv_bytes = 2 * LAYERS * CONTEXT * (DIM // HEADS * KV_HEADS) * 2
    checks = []
    print(f"KV cache (f16, {CONTEXT} positions): {kv_bytes / 2**20:.1f} MiB; slack {SLACK >> 20} MiB")
    for qtype in TYPES:
        model = os.path.join(a.work, f"rss-{qtype}.gguf")
        run([a.lumen, "quantize", f32, model, qtype])
        context = int(re.search(r"context (\d+)", run([a.lumen, "inspect", model]).stdout).group(1))
        checks.append((f"{qtype} context", context == CONTEXT, f"lumen inspect says {context}, expected {CONTEXT}"))
        file_bytes = os.path.getsize(model)
        peak = peak_rss([a.lumen, "run", "-m", model, "-n", str(GENERATE), "-p", "Once upon a time", "--temp", "0"],
                        os.path.join(a.work, f"rss-{qtype}.log"))
        bound = file_bytes + kv_bytes + SLACK
        checks.append((f"{qtype} peak RSS", peak <= bound,
                       f"file {file_bytes / 2**20:.1f} MiB + KV {kv_bytes / 2**20:.1f} MiB + slack = bound "
                       f"{bound / 2**20:.1f} MiB; peak {peak / 2**20:.1f} MiB "
                       f"({(peak - file_bytes - kv_bytes) / 2**20:+.1f} MiB over file + KV)"))
        os.remove(model)
    os.remove(f32)

    for name, ok, detail in checks:
        print(f"{'ok' if ok else 'FAIL'}: {name}: {detail}")
    failed = sum(not ok for _, ok, _ in checks)
    print(f"{len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
