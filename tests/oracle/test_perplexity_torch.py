"""`lumen perplexity` against the same measurement made with the PyTorch reference forward.

The windowing is llama-perplexity's, computed here independently in float64: the text's tokens
(BOS first) are cut into windows of C, each window's first token is replaced by BOS, and
positions C/2 .. C-2 are scored. Tolerance: 1e-3 relative on the perplexity (lumen's default
f16 KV cache rounds a little). Also: a KL-divergence run against its own base file must report
100% agreement and a KL within half a storage step of 0 (the file keeps log-probabilities in
steps of at most 16/65535 nats).
"""
import math
import os
import re
import subprocess
import sys

import numpy as np
import torch

import llama_reference
import oracle_args

CONTEXT = 128


def main():
    a = oracle_args.parse(__doc__)
    model = os.path.join(a.source, "models", "stories260K.bin")
    tok = os.path.join(a.source, "models", "tok512.bin")
    corpus = os.path.join(a.source, "tests", "data", "corpus", "stories.txt")
    ids = subprocess.run([a.lumen, "tokenize", "-m", model, "-z", tok, "--ids", "-f", corpus],
                         check=True, capture_output=True, text=True).stdout
    tokens = [int(t) for t in ids.strip().strip("[]").split(",")]
    assert tokens[0] == 1  # BOS
    cfg, w = llama_reference.load_llama2c(model)
    nll = []
    for start in range(0, len(tokens) - CONTEXT + 1, CONTEXT):
        window = [1] + tokens[start + 1:start + CONTEXT]
        logp = torch.log_softmax(llama_reference.forward(cfg, w, window), dim=-1)
        for i in range(CONTEXT // 2, CONTEXT - 1):
            nll.append(-logp[i, window[i + 1]].item())
    ref = math.exp(sum(nll) / len(nll))

    base = os.path.join(a.work, "base.kl")
    common = [a.lumen, "perplexity", "-m", model, "-z", tok, "-f", corpus, "-c", str(CONTEXT),
              "--kl-divergence-base", base]
    out = subprocess.run(common, check=True, capture_output=True, text=True).stdout
    ours = float(re.search(r"perplexity: ([0-9.]+)", out).group(1))
    scored = int(re.search(r"over (\d+) scored", out).group(1))
    kl_out = subprocess.run(common + ["--kl-divergence"], check=True, capture_output=True, text=True).stdout
    kl = float(re.search(r"KL divergence: ([0-9.e-]+)", kl_out).group(1))
    top1 = float(re.search(r"top-1 agreement: ([0-9.]+)%", kl_out).group(1))

    checks = [("perplexity", abs(ours - ref) / ref <= 1e-3, f"lumen {ours:.4f} vs reference {ref:.4f}"),
              ("scored positions", scored == len(nll), f"{scored} vs {len(nll)}"),
              ("self KL", abs(kl) <= 8 / 65535 and top1 == 100.0, f"KL {kl}, top-1 {top1}%")]
    for name, ok, detail in checks:
        print(f"{'ok' if ok else 'FAIL'}: {name}: {detail}")
    failed = sum(not ok for _, ok, _ in checks)
    print(f"{len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
