"""Random-weight Hugging Face model folders and independent PyTorch forward passes for the
decoder-only families lumen imports (LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM,
MixtralForCausalLM, GPT2LMHeadModel, BloomForCausalLM).

No `transformers` library is at hand, so each family's forward is written here in plain torch,
in float64, from the published model definitions: Hugging Face's tensor names and layouts
(nn.Linear [out, in]; GPT-2's Conv1D [in, out] and fused c_attn; BLOOM's per-head fused
query_key_value), rotate_half RoPE, softmax attention with explicit causal / sliding-window /
ALiBi masks. PyTorch's own F.layer_norm, F.gelu(approximate='tanh'), F.silu and softmax do the
arithmetic they fit.
"""
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

EOS_OR_BOS = (1, 2)  # lumen's generation stops at either (llama2.c tokenizer ids)


# --- safetensors writer ---

_DTYPES = {torch.float32: ("F32", np.float32), torch.float16: ("F16", np.float16)}


def write_safetensors(path, tensors, metadata=None):
    """tensors: {name: torch tensor}; written in name order, header padded to 8 bytes."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        code, np_type = _DTYPES[t.dtype]
        raw = t.numpy().astype(np_type).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def write_model(directory, config, state_dict):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    write_safetensors(os.path.join(directory, "model.safetensors"), state_dict, {"format": "pt"})


# --- random models ---

class _Gen:
    def __init__(self, seed, std):
        self.g = torch.Generator().manual_seed(seed)
        self.std = std

    def w(self, *shape, std=None):
        return torch.randn(*shape, generator=self.g) * (std or self.std)

    def norm(self, n):
        return 1.0 + 0.1 * torch.randn(n, generator=self.g)

    def bias(self, n):
        return 0.1 * torch.randn(n, generator=self.g)


def llama_like(arch, seed, dim, heads, kv_heads, hidden, layers, vocab, ctx, std=0.1, tie=False, bias=False,
               window=None, experts=0, top_k=2):
    """A Llama / Mistral / Mixtral / Qwen2 config + state dict."""
    g = _Gen(seed, std)
    hd = dim // heads
    cfg = {"architectures": [arch], "hidden_size": dim, "intermediate_size": hidden, "num_hidden_layers": layers,
           "num_attention_heads": heads, "num_key_value_heads": kv_heads, "vocab_size": vocab,
           "max_position_embeddings": ctx, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu",
           "tie_word_embeddings": tie, "torch_dtype": "float32", "bos_token_id": 1, "eos_token_id": 2}
    if arch in ("MistralForCausalLM", "MixtralForCausalLM"):
        cfg["sliding_window"] = window
    if arch == "Qwen2ForCausalLM":
        cfg["use_sliding_window"] = False
    if experts:
        cfg["num_local_experts"] = experts
        cfg["num_experts_per_tok"] = top_k
    sd = {"model.embed_tokens.weight": g.w(vocab, dim, std=0.5), "model.norm.weight": g.norm(dim)}
    if not tie:
        sd["lm_head.weight"] = g.w(vocab, dim, std=0.3)
    for i in range(layers):
        p = f"model.layers.{i}."
        sd[p + "input_layernorm.weight"] = g.norm(dim)
        sd[p + "post_attention_layernorm.weight"] = g.norm(dim)
        sd[p + "self_attn.q_proj.weight"] = g.w(heads * hd, dim)
        sd[p + "self_attn.k_proj.weight"] = g.w(kv_heads * hd, dim)
        sd[p + "self_attn.v_proj.weight"] = g.w(kv_heads * hd, dim)
        sd[p + "self_attn.o_proj.weight"] = g.w(dim, heads * hd)
        if bias:
            sd[p + "self_attn.q_proj.bias"] = g.bias(heads * hd)
            sd[p + "self_attn.k_proj.bias"] = g.bias(kv_heads * hd)
            sd[p + "self_attn.v_proj.bias"] = g.bias(kv_heads * hd)
        if experts:
            sd[p + "block_sparse_moe.gate.weight"] = g.w(experts, dim, std=0.3)
            for e in range(experts):
                q = p + f"block_sparse_moe.experts.{e}."
                sd[q + "w1.weight"] = g.w(hidden, dim)
                sd[q + "w2.weight"] = g.w(dim, hidden)
                sd[q + "w3.weight"] = g.w(hidden, dim)
        else:
            sd[p + "mlp.gate_proj.weight"] = g.w(hidden, dim)
            sd[p + "mlp.up_proj.weight"] = g.w(hidden, dim)
            sd[p + "mlp.down_proj.weight"] = g.w(dim, hidden)
    return cfg, sd


def gpt2(seed, dim, heads, layers, vocab, ctx, std=0.1):
    g = _Gen(seed, std)
    cfg = {"architectures": ["GPT2LMHeadModel"], "n_embd": dim, "n_head": heads, "n_layer": layers,
           "vocab_size": vocab, "n_positions": ctx, "n_ctx": ctx, "n_inner": None, "layer_norm_epsilon": 1e-5,
           "activation_function": "gelu_new", "bos_token_id": 1, "eos_token_id": 2}
    sd = {"transformer.wte.weight": g.w(vocab, dim, std=0.5), "transformer.wpe.weight": g.w(ctx, dim, std=0.2),
          "transformer.ln_f.weight": g.norm(dim), "transformer.ln_f.bias": g.bias(dim)}
    for i in range(layers):
        p = f"transformer.h.{i}."
        sd[p + "ln_1.weight"], sd[p + "ln_1.bias"] = g.norm(dim), g.bias(dim)
        sd[p + "ln_2.weight"], sd[p + "ln_2.bias"] = g.norm(dim), g.bias(dim)
        sd[p + "attn.c_attn.weight"], sd[p + "attn.c_attn.bias"] = g.w(dim, 3 * dim), g.bias(3 * dim)  # Conv1D [in, out]
        sd[p + "attn.c_proj.weight"], sd[p + "attn.c_proj.bias"] = g.w(dim, dim), g.bias(dim)
        sd[p + "mlp.c_fc.weight"], sd[p + "mlp.c_fc.bias"] = g.w(dim, 4 * dim), g.bias(4 * dim)
        sd[p + "mlp.c_proj.weight"], sd[p + "mlp.c_proj.bias"] = g.w(4 * dim, dim), g.bias(dim)
    return cfg, sd


def bloom(seed, dim, heads, layers, vocab, std=0.1):
    g = _Gen(seed, std)
    cfg = {"architectures": ["BloomForCausalLM"], "hidden_size": dim, "n_head": heads, "n_layer": layers,
           "vocab_size": vocab, "layer_norm_epsilon": 1e-5, "apply_residual_connection_post_layernorm": False,
           "seq_length": 256, "bos_token_id": 1, "eos_token_id": 2}
    sd = {"transformer.word_embeddings.weight": g.w(vocab, dim, std=0.5),
          "transformer.word_embeddings_layernorm.weight": g.norm(dim),
          "transformer.word_embeddings_layernorm.bias": g.bias(dim),
          "transformer.ln_f.weight": g.norm(dim), "transformer.ln_f.bias": g.bias(dim)}
    for i in range(layers):
        p = f"transformer.h.{i}."
        sd[p + "input_layernorm.weight"], sd[p + "input_layernorm.bias"] = g.norm(dim), g.bias(dim)
        sd[p + "post_attention_layernorm.weight"], sd[p + "post_attention_layernorm.bias"] = g.norm(dim), g.bias(dim)
        sd[p + "self_attention.query_key_value.weight"] = g.w(3 * dim, dim)
        sd[p + "self_attention.query_key_value.bias"] = g.bias(3 * dim)
        sd[p + "self_attention.dense.weight"], sd[p + "self_attention.dense.bias"] = g.w(dim, dim), g.bias(dim)
        sd[p + "mlp.dense_h_to_4h.weight"], sd[p + "mlp.dense_h_to_4h.bias"] = g.w(4 * dim, dim), g.bias(4 * dim)
        sd[p + "mlp.dense_4h_to_h.weight"], sd[p + "mlp.dense_4h_to_h.bias"] = g.w(dim, 4 * dim), g.bias(dim)
    return cfg, sd


def half(model):
    """The same model stored in float16 (the reference then computes from the rounded weights)."""
    cfg, sd = model
    cfg = dict(cfg, torch_dtype="float16")
    return cfg, {k: v.half() for k, v in sd.items()}


# --- references (float64) ---

def _d(t):
    return t.to(torch.float64)


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * _d(w)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope_hf(x, positions, base):
    """Hugging Face's RoPE: x (tokens, heads, d), dimension i pairs with i + d/2."""
    d = x.shape[-1]
    inv_freq = 1.0 / (base ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    angles = torch.outer(positions.to(torch.float64), inv_freq)
    emb = torch.cat((angles, angles), dim=-1)[:, None, :]
    return x * emb.cos() + rotate_half(x) * emb.sin()


def causal_mask(n, window=None):
    """(n, n) additive mask: query i sees key j iff j <= i and (no window or i - j < window)."""
    i = torch.arange(n)[:, None]
    j = torch.arange(n)[None, :]
    allowed = j <= i
    if window:
        allowed &= (i - j) < window
    return torch.zeros(n, n, dtype=torch.float64).masked_fill(~allowed, float("-inf"))


def attention(q, k, v, mask, bias=None):
    """q (n, h, d), k/v (n, kv_h, d) -> (n, h*d); GQA by repeating KV heads."""
    n, h, d = q.shape
    group = h // k.shape[1]
    k = k.repeat_interleave(group, dim=1)
    v = v.repeat_interleave(group, dim=1)
    scores = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(d) + mask
    if bias is not None:
        scores = scores + bias
    return torch.einsum("hqk,khd->qhd", torch.softmax(scores, dim=-1), v).reshape(n, h * d)


@torch.no_grad()
def forward_llama_like(cfg, sd, tokens):
    n = len(tokens)
    dim, heads, kv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd, eps = dim // heads, cfg["rms_norm_eps"]
    W = {k: _d(v) for k, v in sd.items()}
    x = W["model.embed_tokens.weight"][torch.tensor(tokens)]
    pos = torch.arange(n)
    mask = causal_mask(n, cfg.get("sliding_window"))
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms_norm(x, W[p + "input_layernorm.weight"], eps)

        def proj(name, count):
            y = h @ W[p + f"self_attn.{name}.weight"].T
            if p + f"self_attn.{name}.bias" in W:
                y = y + W[p + f"self_attn.{name}.bias"]
            return y.view(n, count, hd)
        q, k, v = proj("q_proj", heads), proj("k_proj", kv), proj("v_proj", kv)
        q, k = rope_hf(q, pos, cfg["rope_theta"]), rope_hf(k, pos, cfg["rope_theta"])
        x = x + attention(q, k, v, mask) @ W[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        if cfg.get("num_local_experts"):
            probs = torch.softmax(h @ W[p + "block_sparse_moe.gate.weight"].T, dim=-1)
            top_w, top_e = torch.topk(probs, cfg["num_experts_per_tok"], dim=-1)
            top_w = top_w / top_w.sum(-1, keepdim=True)
            out = torch.zeros_like(h)
            for r in range(n):
                for w_, e in zip(top_w[r], top_e[r]):
                    q_ = p + f"block_sparse_moe.experts.{int(e)}."
                    y = F.silu(h[r] @ W[q_ + "w1.weight"].T) * (h[r] @ W[q_ + "w3.weight"].T)
                    out[r] += w_ * (y @ W[q_ + "w2.weight"].T)
            x = x + out
        else:
            y = F.silu(h @ W[p + "mlp.gate_proj.weight"].T) * (h @ W[p + "mlp.up_proj.weight"].T)
            x = x + y @ W[p + "mlp.down_proj.weight"].T
    head = W["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else W["lm_head.weight"]
    return rms_norm(x, W["model.norm.weight"], eps) @ head.T


@torch.no_grad()
def forward_gpt2(cfg, sd, tokens):
    n = len(tokens)
    dim, heads, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    hd = dim // heads
    W = {k: _d(v) for k, v in sd.items()}
    T = "transformer."
    x = W[T + "wte.weight"][torch.tensor(tokens)] + W[T + "wpe.weight"][torch.arange(n)]
    mask = causal_mask(n)
    for i in range(cfg["n_layer"]):
        p = f"{T}h.{i}."
        h = F.layer_norm(x, (dim,), W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
        qkv = h @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]  # Conv1D: x @ W + b
        q, k, v = (t.reshape(n, heads, hd) for t in qkv.split(dim, dim=-1))
        x = x + attention(q, k, v, mask) @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
        h = F.layer_norm(x, (dim,), W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
        h = F.gelu(h @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"], approximate="tanh")
        x = x + h @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
    x = F.layer_norm(x, (dim,), W[T + "ln_f.weight"], W[T + "ln_f.bias"], eps)
    return x @ W[T + "wte.weight"].T


def alibi_slopes(heads):
    """BLOOM's build_alibi_tensor slopes (non-power-of-two head counts interleave a second series)."""
    closest = 2 ** math.floor(math.log2(heads))
    base = 2.0 ** (-(2.0 ** -(math.log2(closest) - 3)))
    slopes = [base ** p for p in range(1, closest + 1)]
    if closest != heads:
        extra_base = 2.0 ** (-(2.0 ** -(math.log2(2 * closest) - 3)))
        remaining = min(closest, heads - closest)
        slopes += [extra_base ** p for p in range(1, 2 * remaining, 2)]
    return torch.tensor(slopes, dtype=torch.float64)


@torch.no_grad()
def forward_bloom(cfg, sd, tokens):
    n = len(tokens)
    dim, heads, eps = cfg["hidden_size"], cfg["n_head"], cfg["layer_norm_epsilon"]
    hd = dim // heads
    W = {k: _d(v) for k, v in sd.items()}
    T = "transformer."
    x = W[T + "word_embeddings.weight"][torch.tensor(tokens)]
    x = F.layer_norm(x, (dim,), W[T + "word_embeddings_layernorm.weight"], W[T + "word_embeddings_layernorm.bias"], eps)
    mask = causal_mask(n)
    # BLOOM adds slope * (key position) to every score; softmax makes that the same as relative.
    alibi = alibi_slopes(heads)[:, None, None] * torch.arange(n, dtype=torch.float64)[None, None, :]
    for i in range(cfg["n_layer"]):
        p = f"{T}h.{i}."
        h = F.layer_norm(x, (dim,), W[p + "input_layernorm.weight"], W[p + "input_layernorm.bias"], eps)
        fused = h @ W[p + "self_attention.query_key_value.weight"].T + W[p + "self_attention.query_key_value.bias"]
        fused = fused.view(n, heads, 3, hd)  # per head: [q, k, v]
        q, k, v = fused[:, :, 0], fused[:, :, 1], fused[:, :, 2]
        x = x + attention(q, k, v, mask, alibi) @ W[p + "self_attention.dense.weight"].T + W[p + "self_attention.dense.bias"]
        h = F.layer_norm(x, (dim,), W[p + "post_attention_layernorm.weight"], W[p + "post_attention_layernorm.bias"], eps)
        h = F.gelu(h @ W[p + "mlp.dense_h_to_4h.weight"].T + W[p + "mlp.dense_h_to_4h.bias"], approximate="tanh")
        x = x + h @ W[p + "mlp.dense_4h_to_h.weight"].T + W[p + "mlp.dense_4h_to_h.bias"]
    x = F.layer_norm(x, (dim,), W[T + "ln_f.weight"], W[T + "ln_f.bias"], eps)
    return x @ W[T + "word_embeddings.weight"].T


def forward(cfg, sd, tokens):
    arch = cfg["architectures"][0]
    if arch == "GPT2LMHeadModel":
        return forward_gpt2(cfg, sd, tokens)
    if arch == "BloomForCausalLM":
        return forward_bloom(cfg, sd, tokens)
    return forward_llama_like(cfg, sd, tokens)


def greedy(cfg, sd, tokens, count):
    """Greedy continuation, recomputing the whole sequence each step; stops at BOS/EOS as lumen does."""
    tokens = list(tokens)
    out = []
    for _ in range(count):
        nxt = int(forward(cfg, sd, tokens)[-1].argmax())
        if nxt in EOS_OR_BOS:
            break
        out.append(nxt)
        tokens.append(nxt)
    return out
