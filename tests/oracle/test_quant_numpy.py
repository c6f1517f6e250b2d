"""lumen's quantized formats against an independent numpy reading of the GGUF spec
(gguf_quants_reference.py).

A small F32 GGUF with odd row counts and awkward rows (all zero, constant, one outlier) is
written here and run through `lumen quantize` for each type. Then, per tensor:
  * Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_K, F16, BF16: lumen's bytes equal numpy's quantization;
  * every type: numpy's dequantization of lumen's bytes equals lumen's own (lumen quantize
    OUT BACK F32 widens them), bit for bit;
  * the round trip's relative RMS error on the Gaussian tensors stays under a per-type bound.
Q4_K, Q5_K and Q6_K quantize by an iterative search (see src/tensor/quants/quant_k.cpp) that
has no closed form to restate here; their bytes are compared with llama.cpp's own quantizer as
docs/QUANT.md records. A model-shaped file checks the Q4_K_M / Q5_K_M mix and the fallbacks.
"""
import os
import subprocess
import sys

import numpy as np

import gguf_quants_reference as ref
import oracle_args

# preset name -> (type of the test matrices, bound on relative RMS error for Gaussian data)
PRESETS = {
    "Q4_0": (ref.Q4_0, 0.12), "Q4_1": (ref.Q4_1, 0.12), "Q5_0": (ref.Q5_0, 0.06), "Q5_1": (ref.Q5_1, 0.06),
    "Q8_0": (ref.Q8_0, 0.01), "Q8_K": (ref.Q8_K, 0.01), "Q4_K_M": (ref.Q4_K, 0.10),
    "Q5_K_M": (ref.Q5_K, 0.05), "Q6_K": (ref.Q6_K, 0.03), "F16": (ref.F16, 1e-3), "BF16": (ref.BF16, 5e-3),
}
CLOSED_FORM = {ref.Q4_0, ref.Q4_1, ref.Q5_0, ref.Q5_1, ref.Q8_0, ref.Q8_K, ref.F16, ref.BF16}


def test_tensors(rng):
    """Row lengths that are multiples of 256, odd row counts, and rows that stress the edges."""
    special = rng.standard_normal((5, 256)).astype(np.float32)
    special[0] = 0                       # all zero: scale 0
    special[1] = 0.75                    # constant: min == max
    special[2, 17] = 40                  # one outlier sets the scale
    special[3] = -np.abs(special[3])     # all negative: the signed maximum
    special[4] *= 1e-3                   # tiny values
    return [("blk.0.test_a.weight", rng.standard_normal((7, 256)).astype(np.float32)),
            ("blk.0.test_b.weight", (rng.standard_normal((3, 512)) * 0.02).astype(np.float32)),
            ("blk.1.test_c.weight", rng.standard_normal((5, 768)).astype(np.float32)),
            ("blk.1.test_edges.weight", special),
            # 400K values: enough to meet the rare inputs where a fused a * b + c rounds otherwise
            # (a quantizer compiled with FMA contraction, as clang does by default, fails here on
            # Q8_K; the smaller tensors above all pass with it).
            ("blk.2.test_large.weight", rng.standard_normal((97, 4096)).astype(np.float32)),
            ("blk.1.attn_norm.weight", rng.standard_normal(256).astype(np.float32))]


def lumen_quantize(a, src, dst, preset, *extra):
    r = subprocess.run([a.lumen, "quantize", src, dst, preset, *extra], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"lumen quantize {preset} failed: {r.stderr}")
    return r.stderr


def check(ok, what, failures):
    print(f"{'ok' if ok else 'FAIL'}: {what}")
    if not ok:
        failures.append(what)


def check_types(a, source, failures):
    tensors = dict(test_tensors(np.random.default_rng(1)))
    for preset, (qtype, bound) in PRESETS.items():
        out = os.path.join(a.work, f"quant-{preset}.gguf")
        back = os.path.join(a.work, f"quant-{preset}-f32.gguf")
        lumen_quantize(a, source, out, preset)
        lumen_quantize(a, out, back, "F32")
        _, got = ref.read_gguf(out)
        _, widened = ref.read_gguf(back)
        for name, x in tensors.items():
            t, shape, raw = got[name]
            if x.ndim == 1:
                check(t == ref.F32 and raw == x.tobytes(), f"{preset} {name}: 1-D tensor kept as F32", failures)
                continue
            label = f"{preset} {name} ({ref.NAMES[t]}, {x.shape[0]} rows of {x.shape[1]})"
            check(t == qtype, f"{label}: type", failures)
            if qtype in CLOSED_FORM:
                check(raw == ref.quantize(qtype, x), f"{label}: bytes equal numpy's quantization", failures)
            ours = ref.dequantize(t, raw, x.size)
            theirs = np.frombuffer(widened[name][2], dtype=np.float32)
            check(np.array_equal(ours.view(np.uint32), theirs.view(np.uint32)),
                  f"{label}: numpy's dequantization equals lumen's bit for bit", failures)
            back = ours.reshape(x.shape)
            if name != "blk.1.test_edges.weight":
                err = np.sqrt(np.mean((back - x) ** 2) / np.mean(x.astype(np.float64) ** 2))
                check(err < bound, f"{label}: relative RMS error {err:.4f} < {bound}", failures)
                continue
            check(np.all(back[0] == 0), f"{label}: the all-zero row stays zero", failures)
            for row, value, what in ((1, x[1, 0], "the constant row"), (2, x[2, 17], "the outlier")):
                err = np.abs(back[row] - x[row]).max() / abs(value)  # relative to the row's scale
                check(err < bound, f"{label}: {what} within {err:.4f}", failures)


def use_more_bits(i, n):
    """llama.cpp's choice of layers that get more bits in the _M mixes."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def check_mix(a, failures):
    """An 8-layer model-shaped file: which tensor gets which type under Q4_K_M / Q5_K_M / Q4_0."""
    rng = np.random.default_rng(2)
    n_layers = 8
    tensors = [("token_embd.weight", rng.standard_normal((16, 256)).astype(np.float32)),
               ("output.weight", rng.standard_normal((16, 256)).astype(np.float32)),
               ("output_norm.weight", np.ones(256, np.float32))]
    for i in range(n_layers):
        for part, shape in (("attn_q", (8, 256)), ("attn_v", (8, 256)), ("ffn_down", (8, 96)),
                            ("ffn_up", (3, 256))):
            tensors.append((f"blk.{i}.{part}.weight", rng.standard_normal(shape).astype(np.float32)))
    source = os.path.join(a.work, "quant-mix-f32.gguf")
    ref.write_gguf(source, tensors, [("general.architecture", "llama")])
    for preset, base, more, fallback_of in (("Q4_K_M", ref.Q4_K, ref.Q6_K, {ref.Q4_K: ref.Q5_0, ref.Q6_K: ref.Q8_0}),
                                            ("Q5_K_M", ref.Q5_K, ref.Q6_K, {ref.Q5_K: ref.Q5_1, ref.Q6_K: ref.Q8_0}),
                                            ("Q4_0", ref.Q4_0, ref.Q4_0, {})):
        out = os.path.join(a.work, f"quant-mix-{preset}.gguf")
        notices = lumen_quantize(a, source, out, preset)
        meta, got = ref.read_gguf(out)
        expected = {"token_embd.weight": base, "output.weight": ref.Q6_K, "output_norm.weight": ref.F32}
        for i in range(n_layers):
            bumped = more if use_more_bits(i, n_layers) else base
            expected[f"blk.{i}.attn_q.weight"] = base
            expected[f"blk.{i}.attn_v.weight"] = bumped
            expected[f"blk.{i}.ffn_down.weight"] = fallback_of.get(bumped, bumped)  # rows of 96
            expected[f"blk.{i}.ffn_up.weight"] = base
        wrong = {n: (ref.NAMES[got[n][0]], ref.NAMES[t]) for n, t in expected.items() if got[n][0] != t}
        check(not wrong, f"{preset}: tensor types as llama.cpp picks them {wrong or ''}", failures)
        n_fallbacks = sum(1 for n, t in expected.items() if n.endswith("ffn_down.weight") and t != (
            more if use_more_bits(int(n.split('.')[1]), n_layers) else base))
        check(notices.count("lumen: notice:") == n_fallbacks,
              f"{preset}: one notice per fallback ({n_fallbacks})", failures)
        ftype = {"Q4_K_M": 15, "Q5_K_M": 17, "Q4_0": 2}[preset]
        check(meta.get("general.file_type") == ftype and meta.get("general.architecture") == "llama",
              f"{preset}: general.file_type {ftype}, metadata carried over", failures)


def check_errors(a, source, failures):
    r = subprocess.run([a.lumen, "quantize", source, os.path.join(a.work, "x.gguf"), "Q4_X"],
                       capture_output=True, text=True)
    check(r.returncode != 0 and "unknown quantization type 'Q4_X'" in r.stderr and "Q4_K_M" in r.stderr,
          "unknown type name: clear error listing the valid names", failures)
    q = os.path.join(a.work, "quant-Q4_0.gguf")
    r = subprocess.run([a.lumen, "quantize", q, os.path.join(a.work, "x.gguf"), "Q8_0"], capture_output=True, text=True)
    check(r.returncode != 0 and "--allow-requantize" in r.stderr, "requantizing needs --allow-requantize", failures)


def main():
    a = oracle_args.parse(__doc__)
    source = os.path.join(a.work, "quant-f32.gguf")
    ref.write_gguf(source, test_tensors(np.random.default_rng(1)), [("general.name", "quant oracle")])
    failures = []
    check_types(a, source, failures)
    check_mix(a, failures)
    check_errors(a, source, failures)
    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
