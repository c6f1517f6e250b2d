"""Hugging Face model folders of every decoder-only family lumen knows, against PyTorch.

For each family a random-weight model of a small but non-trivial shape is written in Hugging
Face layout (config.json with the real field names, model.safetensors) and run by lumen
straight from the folder (`lumen run -m DIR`), with the llama2.c tokenizer tok512.bin (-z):
  * logits of every prompt position (--logits-out, f32 KV cache) agree with the float64
    reference of hf_families.py within 1e-4 relative max error (max|a-b| / max|b|);
  * the greedy continuation of 32 tokens (--temp 0 --tokens-out) is the reference's;
  * `lumen convert -m DIR -o OUT.gguf` then `lumen run -m OUT.gguf` gives the same logits.
Shapes: >= 2 layers, GQA with odd group sizes, MQA for Qwen2, a sliding window shorter than the
prompt for Mistral, 5 experts (top 2) for Mixtral, 5 ALiBi heads (not a power of two) for BLOOM,
and one prompt longer than lumen's 64-token forward batch.
"""
import os
import sys

import numpy as np

import hf_families as hf
import oracle_args
from oracle_checks import Checks, rel_err, run

TOLERANCE = 1e-4
VOCAB = 512  # tok512.bin
GREEDY_TOKENS = 32

FAMILIES = {
    "llama": lambda: hf.llama_like("LlamaForCausalLM", 21, dim=72, heads=9, kv_heads=3, hidden=136, layers=2,
                                   vocab=VOCAB, ctx=256),
    "qwen2": lambda: hf.llama_like("Qwen2ForCausalLM", 22, dim=80, heads=5, kv_heads=1, hidden=144, layers=2,
                                   vocab=VOCAB, ctx=256, bias=True, tie=True),
    "mistral": lambda: hf.llama_like("MistralForCausalLM", 23, dim=96, heads=6, kv_heads=2, hidden=160, layers=3,
                                     vocab=VOCAB, ctx=256, window=7),
    "gpt2": lambda: hf.gpt2(24, dim=60, heads=5, layers=2, vocab=VOCAB, ctx=256),
    "mixtral": lambda: hf.llama_like("MixtralForCausalLM", 25, dim=64, heads=4, kv_heads=2, hidden=96, layers=2,
                                     vocab=VOCAB, ctx=256, experts=5, top_k=2),
    "bloom": lambda: hf.bloom(26, dim=60, heads=5, layers=2, vocab=VOCAB),
    # half-precision safetensors (F16 Conv1D weights are transposed at load in their own type)
    "gpt2-f16": lambda: hf.half(hf.gpt2(27, dim=60, heads=5, layers=2, vocab=VOCAB, ctx=256)),
    "qwen2-f16": lambda: hf.half(hf.llama_like("Qwen2ForCausalLM", 28, dim=80, heads=5, kv_heads=1, hidden=144,
                                               layers=2, vocab=VOCAB, ctx=256, bias=True)),
}
# What the converted GGUF must hold, by llama.cpp's names: (general.architecture, tensors).
GGUF_NAMES = {
    "llama": ("llama", ["token_embd.weight", "output.weight", "blk.1.attn_q.weight", "blk.1.ffn_gate.weight"]),
    "qwen2": ("qwen2", ["blk.0.attn_q.bias", "blk.0.attn_k.bias", "blk.0.attn_v.bias", "output_norm.weight"]),
    "mistral": ("llama", ["blk.2.attn_k.weight", "blk.2.ffn_down.weight"]),
    "gpt2": ("gpt2", ["position_embd.weight", "blk.0.attn_qkv.weight", "blk.0.attn_qkv.bias", "blk.1.ffn_up.bias",
                      "output_norm.bias", "output.weight"]),
    "mixtral": ("llama", ["blk.0.ffn_gate_inp.weight", "blk.0.ffn_gate_exps.weight", "blk.1.ffn_up_exps.weight",
                          "blk.1.ffn_down_exps.weight"]),
    "bloom": ("bloom", ["token_embd_norm.weight", "token_embd_norm.bias", "blk.1.attn_qkv.weight",
                        "blk.1.attn_output.bias", "output.weight"]),
}
PROMPTS = ["Once upon a time, a little girl named Lily found a big red ball in the park.",
           # > 64 tokens: lumen splits the prompt into several forward batches
           " ".join(f"Tom saw {i} cats and" for i in range(14))]




def main():
    a = oracle_args.parse(__doc__)
    tok = os.path.join(a.source, "models", "tok512.bin")
    only = os.environ.get("LUMEN_FAMILIES")
    check = Checks()

    for name, make in FAMILIES.items():
        if only and name not in only.split(","):
            continue
        cfg, sd = make()
        model = os.path.join(a.work, f"hf-{name}")
        hf.write_model(model, cfg, sd)
        gguf = os.path.join(a.work, f"hf-{name}.gguf")
        run([a.lumen, "convert", "-m", model, "-z", tok, "-o", gguf])
        f32 = ["--cache-type-k", "f32", "--cache-type-v", "f32"]
        listing = run([a.lumen, "inspect", gguf])
        arch, names = GGUF_NAMES[name.split("-")[0]]
        missing = [t for t in names if f"\n{t} " not in listing]
        check(name, f"architecture: {arch}\n" in listing and not missing,
              f"GGUF architecture '{arch}' and llama.cpp tensor names" + (f" (missing {missing})" if missing else ""))
        for i, prompt in enumerate(PROMPTS):
            ids = run([a.lumen, "tokenize", "-m", model, "-z", tok, "--ids", "-p", prompt])
            tokens = [int(t) for t in ids.strip().strip("[]").split(",")]
            ref = hf.forward(cfg, sd, tokens).numpy()
            out = os.path.join(a.work, f"fam-{name}-{i}.npy")
            run([a.lumen, "run", "-m", model, "-z", tok, "-p", prompt, "-n", "0", "--logits-out", out, *f32])
            ours = np.load(out)
            err = rel_err(ours, ref) if ours.shape == ref.shape else float("inf")
            check(name, err <= TOLERANCE, f"prompt {i}: {len(tokens)} positions, logits relative max error {err:.2e}")

            out_g = os.path.join(a.work, f"fam-{name}-{i}-gguf.npy")
            run([a.lumen, "run", "-m", gguf, "-p", prompt, "-n", "0", "--logits-out", out_g, *f32])
            ours_g = np.load(out_g)
            err_g = rel_err(ours_g, ours) if ours_g.shape == ours.shape else float("inf")
            check(name, err_g <= 1e-5, f"prompt {i}: converted GGUF logits vs folder, relative max error {err_g:.2e}")

            if i == 0:
                ids_out = os.path.join(a.work, f"fam-{name}-greedy.txt")
                run([a.lumen, "run", "-m", model, "-z", tok, "-p", prompt, "-n", str(GREEDY_TOKENS), "--temp", "0",
                     "--tokens-out", ids_out, *f32])
                with open(ids_out) as f:
                    got = [int(t) for t in f.read().split()]
                want = hf.greedy(cfg, sd, tokens, GREEDY_TOKENS)
                check(name, got == want, f"greedy {len(want)} tokens identical" if got == want
                      else f"greedy differs: lumen {got} reference {want}")
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
