"""Random-weight encoder models and their PyTorch references, for test_encoders_torch.py.

BERT: a Hugging Face folder (config.json, model.safetensors with transformers' names, a tiny
WordPiece tokenizer.json). The reference runs the embeddings in torch and each encoder layer as
PyTorch's own nn.TransformerEncoderLayer(norm_first=False, activation='gelu') with BERT's
weights copied in, texts batched with padding and a key padding mask.

Encoder-decoder: a random nn.Transformer (post-norm, ReLU, dropout 0) with source/target
embeddings and a generator, exported in lumen's folder format (docs/FORMATS.md). The reference
is nn.Transformer's own encoder and decoder in a greedy loop that recomputes the whole target
each step under the causal mask.

Both references run in float64.
"""
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from hf_families import write_safetensors

# --- BERT ---

BERT_WORDS = ["the", "quick", "brown", "fox", "jump", "##s", "##ed", "##ing", "over", "lazy", "dog", "hello",
              "world", "a", "cat", "sat", "on", "mat", "un", "##believ", "##able", "story", "of", "time", "and",
              "sun", "rain", "!", ",", ".", "?", "is", "was", "it"]
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def bert_tokenizer_json():
    """A WordPiece tokenizer.json in the layout the `tokenizers` library saves."""
    vocab = {t: i for i, t in enumerate(BERT_SPECIALS + BERT_WORDS)}
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": True} for i, t in enumerate(BERT_SPECIALS)]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}},
                                      {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                           "pair": [], "special_tokens": {}},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab},
    }


def bert(seed, dim, heads, inter, layers, max_pos, types=2, eps=1e-12, prefix=""):
    """A BertModel config + state dict (names under `prefix`, e.g. 'bert.' for BertForMaskedLM)."""
    g = torch.Generator().manual_seed(seed)

    def w(*shape, std=0.1):
        return torch.randn(*shape, generator=g) * std

    vocab = len(BERT_SPECIALS) + len(BERT_WORDS)
    cfg = {"architectures": ["BertForMaskedLM" if prefix else "BertModel"], "hidden_size": dim,
           "num_hidden_layers": layers, "num_attention_heads": heads, "intermediate_size": inter,
           "vocab_size": vocab, "max_position_embeddings": max_pos, "type_vocab_size": types,
           "layer_norm_eps": eps, "hidden_act": "gelu", "position_embedding_type": "absolute",
           "model_type": "bert"}
    sd = {"embeddings.word_embeddings.weight": w(vocab, dim, std=0.5),
          "embeddings.position_embeddings.weight": w(max_pos, dim, std=0.3),
          "embeddings.token_type_embeddings.weight": w(types, dim, std=0.3),
          "embeddings.LayerNorm.weight": 1 + w(dim), "embeddings.LayerNorm.bias": w(dim)}
    for i in range(layers):
        p = f"encoder.layer.{i}."
        for name, out, inp in (("attention.self.query", dim, dim), ("attention.self.key", dim, dim),
                               ("attention.self.value", dim, dim), ("attention.output.dense", dim, dim),
                               ("intermediate.dense", inter, dim), ("output.dense", dim, inter)):
            sd[p + name + ".weight"] = w(out, inp, std=0.15)
            sd[p + name + ".bias"] = w(out)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            sd[p + name + ".weight"] = 1 + w(dim)
            sd[p + name + ".bias"] = w(dim)
    return cfg, {prefix + k: v for k, v in sd.items()}


def write_bert(directory, cfg, sd):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(directory, "tokenizer.json"), "w") as f:
        json.dump(bert_tokenizer_json(), f)
    write_safetensors(os.path.join(directory, "model.safetensors"), sd, {"format": "pt"})


def bert_reference(cfg, sd, sequences, pooling, normalize):
    """Pooled embeddings of token-id lists, batched with [PAD] padding and a key padding mask."""
    sd = {k.removeprefix("bert."): v.double() for k, v in sd.items()}
    dim, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
    n, longest = len(sequences), max(len(s) for s in sequences)
    ids = torch.zeros(n, longest, dtype=torch.long)
    pad = torch.ones(n, longest, dtype=torch.bool)  # True: a padded position, masked out
    for i, s in enumerate(sequences):
        ids[i, :len(s)] = torch.tensor(s)
        pad[i, :len(s)] = False
    x = (sd["embeddings.word_embeddings.weight"][ids] + sd["embeddings.position_embeddings.weight"][:longest]
         + sd["embeddings.token_type_embeddings.weight"][0])
    x = F.layer_norm(x, (dim,), sd["embeddings.LayerNorm.weight"], sd["embeddings.LayerNorm.bias"], eps)
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        layer = nn.TransformerEncoderLayer(dim, cfg["num_attention_heads"], cfg["intermediate_size"], dropout=0.0,
                                           activation="gelu", layer_norm_eps=eps, batch_first=True,
                                           norm_first=False).double().eval()
        with torch.no_grad():
            att = layer.self_attn
            att.in_proj_weight.copy_(torch.cat([sd[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")]))
            att.in_proj_bias.copy_(torch.cat([sd[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")]))
            att.out_proj.weight.copy_(sd[p + "attention.output.dense.weight"])
            att.out_proj.bias.copy_(sd[p + "attention.output.dense.bias"])
            layer.norm1.weight.copy_(sd[p + "attention.output.LayerNorm.weight"])
            layer.norm1.bias.copy_(sd[p + "attention.output.LayerNorm.bias"])
            layer.linear1.weight.copy_(sd[p + "intermediate.dense.weight"])
            layer.linear1.bias.copy_(sd[p + "intermediate.dense.bias"])
            layer.linear2.weight.copy_(sd[p + "output.dense.weight"])
            layer.linear2.bias.copy_(sd[p + "output.dense.bias"])
            layer.norm2.weight.copy_(sd[p + "output.LayerNorm.weight"])
            layer.norm2.bias.copy_(sd[p + "output.LayerNorm.bias"])
        x = layer(x, src_key_padding_mask=pad).detach()  # grad enabled: PyTorch's plain (non-fused) path
    valid = (~pad).unsqueeze(-1).double()
    out = x[:, 0] if pooling == "cls" else (x * valid).sum(1) / valid.sum(1)
    return F.normalize(out, dim=-1) if normalize else out


# --- encoder-decoder ---

SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]  # ids 0..3: pad, bos, eos, unk
PAD, BOS, EOS, UNK = range(4)


class Seq2Seq(nn.Module):
    """nn.Transformer with embeddings scaled by sqrt(d_model), sinusoidal positions and a generator."""

    def __init__(self, src_vocab, tgt_vocab, d_model, nhead, enc_layers, dec_layers, ffn, max_len):
        super().__init__()
        self.d_model = d_model
        self.transformer = nn.Transformer(d_model, nhead, enc_layers, dec_layers, ffn, dropout=0.0,
                                          activation="relu", batch_first=True, norm_first=False)
        self.src_embed = nn.Embedding(src_vocab, d_model)
        self.tgt_embed = nn.Embedding(tgt_vocab, d_model)
        self.generator = nn.Linear(d_model, tgt_vocab)
        # The paper's encoding (3.5), as the Annotated Transformer computes it.
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def embed(self, table, ids):
        return table(ids) * math.sqrt(self.d_model) + self.pe[:ids.shape[1]]

    def encode(self, src):
        """The memory of a batch of source ids."""
        return self.transformer.encoder(self.embed(self.src_embed, src))

    def next_logits(self, memory, tgt):
        """The logits of the token after the target ids `tgt` (BOS first), the whole target
        recomputed under the causal mask."""
        mask = nn.Transformer.generate_square_subsequent_mask(len(tgt)).to(memory.dtype)
        y = self.transformer.decoder(self.embed(self.tgt_embed, torch.tensor([tgt])), memory, tgt_mask=mask)
        return self.generator(y[0, -1])

    def greedy(self, src, max_tokens):
        """Generated ids (EOS included when reached) and the logits of every step."""
        memory = self.encode(src)
        tgt, out, logits = [BOS], [], []
        for _ in range(max_tokens):
            step = self.next_logits(memory, tgt)
            logits.append(step)
            token = int(step.argmax())
            out.append(token)
            tgt.append(token)
            if token == EOS:
                break
        return out, torch.stack(logits)


def seq2seq(seed, src_vocab, tgt_vocab, d_model, nhead, enc_layers, dec_layers, ffn, max_len):
    torch.manual_seed(seed)
    m = Seq2Seq(src_vocab, tgt_vocab, d_model, nhead, enc_layers, dec_layers, ffn, max_len)
    with torch.no_grad():
        for name, p in m.named_parameters():  # LayerNorms away from their identity initialisation
            if "norm" in name:
                p.add_(0.1 * torch.randn_like(p))
        # Default inits give flat logits and embeddings that drown the positions, so greedy repeats
        # one token; a sharper generator and smaller tables make the ids depend on source and position.
        m.generator.weight.mul_(6.0)
        for table in (m.src_embed, m.tgt_embed):  # std d^-1/2: after the sqrt(d) scale, as large as the positions
            table.weight.mul_(d_model ** -0.5)
    return m.eval()


def write_seq2seq(directory, m, src_words, tgt_words, max_len):
    os.makedirs(directory, exist_ok=True)
    t = m.transformer
    cfg = {"architectures": ["TransformerSeq2Seq"], "d_model": m.d_model, "nhead": t.nhead,
           "num_encoder_layers": len(t.encoder.layers), "num_decoder_layers": len(t.decoder.layers),
           "dim_feedforward": t.encoder.layers[0].linear1.out_features, "src_vocab_size": len(src_words),
           "tgt_vocab_size": len(tgt_words), "max_len": max_len, "layer_norm_eps": 1e-5, "activation": "relu",
           "pad_id": PAD, "bos_id": BOS, "eos_id": EOS, "unk_id": UNK}
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    for name, words in (("src_vocab.txt", src_words), ("tgt_vocab.txt", tgt_words)):
        with open(os.path.join(directory, name), "w") as f:
            f.write("\n".join(words) + "\n")
    sd = {k: v.detach().float() for k, v in t.state_dict().items()}
    sd.update({"src_embed.weight": m.src_embed.weight.detach(), "tgt_embed.weight": m.tgt_embed.weight.detach(),
               "generator.weight": m.generator.weight.detach(), "generator.bias": m.generator.bias.detach()})
    write_safetensors(os.path.join(directory, "model.safetensors"), sd, {"format": "pt"})
