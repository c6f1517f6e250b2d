"""An independent LLaMA forward pass in PyTorch, reading llama2.c checkpoints.

Written from Meta's reference formulation (RoPE as a complex rotation of adjacent pairs,
torch's own softmax attention with a causal mask), not from lumen's code, so that agreement
means something. Used by the oracle tests.
"""
import struct

import numpy as np
import torch
import torch.nn.functional as F


def load_llama2c(path):
    with open(path, "rb") as f:
        raw = f.read()
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = struct.unpack("<7i", raw[:28])
    shared = vocab > 0
    vocab = abs(vocab)
    data = np.frombuffer(raw, dtype=np.float32, offset=28)
    head = dim // heads
    kv_dim = head * kv_heads
    at = 0

    def take(*shape):
        nonlocal at
        n = int(np.prod(shape))
        t = torch.from_numpy(data[at:at + n].copy()).reshape(shape)
        at += n
        return t

    w = {"tok": take(vocab, dim), "rms_att": take(layers, dim), "wq": take(layers, dim, dim),
         "wk": take(layers, kv_dim, dim), "wv": take(layers, kv_dim, dim), "wo": take(layers, dim, dim),
         "rms_ffn": take(layers, dim), "w1": take(layers, hidden, dim), "w2": take(layers, dim, hidden),
         "w3": take(layers, hidden, dim), "rms_final": take(dim)}
    take(seq_len, head)  # legacy RoPE tables
    w["cls"] = w["tok"] if shared else take(vocab, dim)
    cfg = dict(dim=dim, hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads, vocab=vocab, seq_len=seq_len)
    return cfg, w


def rms_norm(x, weight, eps=1e-5):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def rotate(x, positions, base=10000.0):
    """x: (tokens, heads, head_dim); adjacent pairs (2i, 2i+1) rotate by pos * base^(-2i/d)."""
    d = x.shape[-1]
    freqs = 1.0 / (base ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    angles = torch.outer(positions.to(torch.float64), freqs)
    rot = torch.polar(torch.ones_like(angles), angles)[:, None, :]
    xc = torch.view_as_complex(x.to(torch.float64).reshape(*x.shape[:-1], d // 2, 2))
    return torch.view_as_real(xc * rot).reshape(x.shape).to(x.dtype)


@torch.no_grad()
def forward(cfg, w, tokens, dtype=torch.float64):
    """Logits of every position, (tokens, vocab), computed in `dtype`."""
    n = len(tokens)
    heads, kv_heads = cfg["heads"], cfg["kv_heads"]
    head = cfg["dim"] // heads
    x = w["tok"][torch.tensor(tokens)].to(dtype)
    pos = torch.arange(n)
    mask = torch.full((n, n), float("-inf"), dtype=dtype).triu(1)
    for l in range(cfg["layers"]):
        h = rms_norm(x, w["rms_att"][l].to(dtype))
        q = (h @ w["wq"][l].to(dtype).T).view(n, heads, head)
        k = (h @ w["wk"][l].to(dtype).T).view(n, kv_heads, head)
        v = (h @ w["wv"][l].to(dtype).T).view(n, kv_heads, head)
        q, k = rotate(q, pos), rotate(k, pos)
        group = heads // kv_heads
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        scores = torch.einsum("qhd,khd->hqk", q, k) / (head ** 0.5) + mask
        att = torch.einsum("hqk,khd->qhd", torch.softmax(scores, dim=-1), v).reshape(n, cfg["dim"])
        x = x + att @ w["wo"][l].to(dtype).T
        h = rms_norm(x, w["rms_ffn"][l].to(dtype))
        x = x + (F.silu(h @ w["w1"][l].to(dtype).T) * (h @ w["w3"][l].to(dtype).T)) @ w["w2"][l].to(dtype).T
    return rms_norm(x, w["rms_final"].to(dtype)) @ w["cls"].to(dtype).T
