"""What each quantized type costs in quality, measured end to end on stories260K.gguf.

The F32 model writes its log-probabilities over tests/data/corpus/stories.txt
(`lumen perplexity --kl-divergence-base`, llama-perplexity's windows and file layout); each
`lumen quantize` preset of it then runs through the quantized kernels (activations quantized to
Q8_0 / Q8_K per token, as ggml does) and is compared: perplexity, KL divergence from the F32
model and top-1 agreement (llama-perplexity's "Mean KLD" and "Same top p"), plus how many tokens
of the greedy story from "Once upon a time" agree with F32's before the first difference.
stories260K's rows are 64 wide (172 for ffn_down): the 32-value types fit all but ffn_down,
which falls back to F16; the K-quants need 256-wide rows, so K presets fall back per tensor
(Q4_K -> Q5_0, Q6_K -> Q8_0, ...), and the "types used" column says what was actually written.

Bounds (measured values with margin; they catch a broken kernel, which costs orders of
magnitude more): KL per type below, Q8_0 top-1 agreement >= 97.5%. Q8_0's top-1 agreement
depends on tiny rounding differences (it ranges 98.0-98.8% over realizations of the activation
rounding, and llama.cpp measures 98.04% on the same files; docs/QUANT.md explains), so the bound
sits below that range, not at the issue's 99%. The table is printed and recorded in docs/QUANT.md.
"""
import collections
import os
import re
import subprocess
import sys

import oracle_args

# preset -> largest acceptable KL divergence (nats)
KL_BOUND = {"Q8_0": 0.002, "Q6_K": 0.01, "Q5_1": 0.03, "Q5_0": 0.03, "Q5_K_M": 0.03,
            "Q4_K_M": 0.04, "Q4_1": 0.15, "Q4_0": 0.15}
Q8_0_TOP1_MIN = 97.5
GREEDY_TOKENS = 100


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True)


def types_used(lumen, model):
    """'N TYPE, ...' over the 2-D tensors of `lumen inspect`'s tensor table."""
    out = run([lumen, "inspect", model]).stdout
    counts = collections.Counter()
    for line in out.splitlines():
        m = re.match(r"\S+\.weight\s+(\w+)\s+\[\d+, \d+\]", line)
        if m:
            counts[m.group(1)] += 1
    return ", ".join(f"{n} {t}" for t, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def greedy_tokens(lumen, model, path):
    run([lumen, "run", "-m", model, "--temp", "0", "-n", str(GREEDY_TOKENS), "-s", "1", "--tokens-out", path])
    with open(path) as f:
        return f.read().split()


def main():
    a = oracle_args.parse(__doc__)
    source = os.path.join(a.source, "models", "stories260K.gguf")
    corpus = os.path.join(a.source, "tests", "data", "corpus", "stories.txt")
    base = os.path.join(a.work, "quality_f32.kl")
    out = run([a.lumen, "perplexity", "-m", source, "-f", corpus, "--kl-divergence-base", base]).stdout
    ppl_f32 = float(re.search(r"perplexity: ([0-9.]+)", out).group(1))
    story_f32 = greedy_tokens(a.lumen, source, os.path.join(a.work, "quality_f32.tokens"))

    rows, failures = [], []
    for preset, kl_bound in KL_BOUND.items():
        model = os.path.join(a.work, f"stories260K-{preset}.gguf")
        run([a.lumen, "quantize", source, model, preset])
        out = run([a.lumen, "perplexity", "-m", model, "-f", corpus, "--kl-divergence-base", base,
                   "--kl-divergence"]).stdout
        ppl = float(re.search(r"perplexity: ([0-9.]+)", out).group(1))
        kl = float(re.search(r"KL divergence: ([0-9.e-]+)", out).group(1))
        top1 = float(re.search(r"top-1 agreement: ([0-9.]+)%", out).group(1))
        story = greedy_tokens(a.lumen, model, os.path.join(a.work, f"quality_{preset}.tokens"))
        same = next((i for i, (x, y) in enumerate(zip(story, story_f32)) if x != y), min(len(story), len(story_f32)))
        rows.append((preset, types_used(a.lumen, model), ppl, kl, top1, same))
        if not kl <= kl_bound:
            failures.append(f"{preset}: KL {kl} > {kl_bound}")
        if preset == "Q8_0" and not top1 >= Q8_0_TOP1_MIN:
            failures.append(f"Q8_0: top-1 agreement {top1}% < {Q8_0_TOP1_MIN}%")

    print(f"F32 perplexity {ppl_f32:.4f}; greedy story of {len(story_f32)} tokens\n")
    print("| preset | 2-D tensor types used | perplexity | KL divergence | top-1 agreement | greedy tokens = F32 |")
    print("| --- | --- | --- | --- | --- | --- |")
    for preset, used, ppl, kl, top1, same in rows:
        print(f"| {preset} | {used} | {ppl:.4f} | {kl:.6f} | {top1:.2f}% | {same} / {len(story_f32)} |")
    for f in failures:
        print("FAIL:", f)
    print(f"{len(rows) - len(failures)} checks passed, {len(failures)} failed" if failures else "ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
