"""An independent numpy reading of the GGUF block formats (the ggml layouts of the GGUF spec).

dequantize() covers every type lumen writes; quantize() covers the types whose reference
rounding is a closed formula (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_K, F16, BF16). All arithmetic
stays in float32, operation by operation, as the C reference does it, so results can be
compared bit for bit. Also a minimal GGUF v3 writer and reader for the test's files.
"""
import struct

import numpy as np

F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, Q8_K, BF16 = 0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 30
NAMES = {F32: "F32", F16: "F16", Q4_0: "Q4_0", Q4_1: "Q4_1", Q5_0: "Q5_0", Q5_1: "Q5_1", Q8_0: "Q8_0",
         Q4_K: "Q4_K", Q5_K: "Q5_K", Q6_K: "Q6_K", Q8_K: "Q8_K", BF16: "BF16"}
# (values per block, bytes per block)
BLOCK = {F32: (1, 4), F16: (1, 2), BF16: (1, 2), Q4_0: (32, 18), Q4_1: (32, 20), Q5_0: (32, 22),
         Q5_1: (32, 24), Q8_0: (32, 34), Q4_K: (256, 144), Q5_K: (256, 176), Q6_K: (256, 210),
         Q8_K: (256, 292)}

f32 = np.float32


def row_bytes(t, n):
    per, size = BLOCK[t]
    assert n % per == 0
    return n // per * size


# --- half and bfloat16 -------------------------------------------------------------------

def to_f16_bits(x):
    return np.asarray(x, dtype=f32).astype(np.float16).view(np.uint16)  # IEEE round to nearest even


def from_f16_bits(b):
    return np.asarray(b, dtype=np.uint16).view(np.float16).astype(f32)


def to_bf16_bits(x):
    u = np.asarray(x, dtype=f32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)  # nearest even (no NaNs here)


def from_bf16_bits(b):
    return (np.asarray(b, dtype=np.uint16).astype(np.uint32) << 16).view(f32)


# --- block field access ------------------------------------------------------------------

def blocks(raw, t):
    """The bytes as an (n_blocks, block_bytes) uint8 array."""
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, BLOCK[t][1])


def u16(b, at):
    return b[:, at:at + 2].copy().view(np.uint16)[:, 0]


def nibbles(qs):
    """Q4_0-style 16 bytes -> 32 levels: low nibbles are values 0..15, high nibbles 16..31."""
    return np.concatenate([qs & 0xF, qs >> 4], axis=1).astype(np.int32)


def fifth_bits(qh4):
    """4 bytes, little-endian u32: bit j is bit 4 of value j."""
    word = qh4.copy().view(np.uint32)[:, 0].astype(np.int64)
    return ((word[:, None] >> np.arange(32)) & 1).astype(np.int32)


def k4_scales_mins(sc):
    """Q4_K/Q5_K: 12 bytes -> (8 scales, 8 mins) of 6 bits. Sub-blocks 0-3: low 6 bits of
    bytes 0-3 (scale) and 4-7 (min). Sub-blocks 4-7: low/high nibble of bytes 8-11 hold the low
    4 bits of scale/min, and the top 2 bits of bytes 0-3 / 4-7 their high 2 bits."""
    sc = sc.astype(np.int32)
    scales = np.concatenate([sc[:, 0:4] & 63, (sc[:, 8:12] & 0xF) | ((sc[:, 0:4] >> 6) << 4)], axis=1)
    mins = np.concatenate([sc[:, 4:8] & 63, (sc[:, 8:12] >> 4) | ((sc[:, 4:8] >> 6) << 4)], axis=1)
    return scales, mins


def k_low_nibbles(qs):
    """Q4_K/Q5_K: 128 bytes -> 256 levels; each 64 values use 32 bytes, low nibbles first."""
    q = qs.reshape(-1, 4, 32)
    return np.concatenate([q & 0xF, q >> 4], axis=2).reshape(-1, 256).astype(np.int32)


# --- dequantize --------------------------------------------------------------------------

def dequantize(t, raw, n_values):
    if t == F32:
        return np.frombuffer(raw, dtype=f32).copy()
    if t == F16:
        return from_f16_bits(np.frombuffer(raw, dtype=np.uint16))
    if t == BF16:
        return from_bf16_bits(np.frombuffer(raw, dtype=np.uint16))
    b = blocks(raw, t)
    if t == Q4_0:
        y = (nibbles(b[:, 2:18]) - 8).astype(f32) * from_f16_bits(u16(b, 0))[:, None]
    elif t == Q4_1:
        y = nibbles(b[:, 4:20]).astype(f32) * from_f16_bits(u16(b, 0))[:, None] + from_f16_bits(u16(b, 2))[:, None]
    elif t == Q5_0:
        q = nibbles(b[:, 6:22]) | (fifth_bits(b[:, 2:6]) << 4)
        y = (q - 16).astype(f32) * from_f16_bits(u16(b, 0))[:, None]
    elif t == Q5_1:
        q = nibbles(b[:, 8:24]) | (fifth_bits(b[:, 4:8]) << 4)
        y = q.astype(f32) * from_f16_bits(u16(b, 0))[:, None] + from_f16_bits(u16(b, 2))[:, None]
    elif t == Q8_0:
        y = b[:, 2:34].view(np.int8).astype(f32) * from_f16_bits(u16(b, 0))[:, None]
    elif t in (Q4_K, Q5_K):
        d, dmin = from_f16_bits(u16(b, 0)), from_f16_bits(u16(b, 2))
        scales, mins = k4_scales_mins(b[:, 4:16])
        if t == Q4_K:
            q = k_low_nibbles(b[:, 16:144])
        else:  # qh[l] bit s is the fifth bit of value 32 s + l
            qh = b[:, 16:48].astype(np.int32)
            high = (qh[:, None, :] >> np.arange(8)[None, :, None]) & 1
            q = k_low_nibbles(b[:, 48:176]) + 16 * high.reshape(-1, 256)
        dl = (d[:, None] * scales.astype(f32))  # per sub-block of 32
        ml = (dmin[:, None] * mins.astype(f32))
        y = np.repeat(dl, 32, axis=1) * q.astype(f32) - np.repeat(ml, 32, axis=1)
    elif t == Q6_K:
        ql, qh = b[:, 0:128].astype(np.int32), b[:, 128:192].astype(np.int32)
        scales = b[:, 192:208].view(np.int8).astype(f32)
        d = from_f16_bits(u16(b, 208))
        q = np.empty((len(b), 256), dtype=np.int32)
        for half in range(2):  # 128 values per half: ql[64], qh[32]
            L, H = ql[:, 64 * half:64 * half + 64], qh[:, 32 * half:32 * half + 32]
            base = 128 * half
            q[:, base + 0:base + 32] = (L[:, 0:32] & 0xF) | ((H & 3) << 4)
            q[:, base + 32:base + 64] = (L[:, 32:64] & 0xF) | (((H >> 2) & 3) << 4)
            q[:, base + 64:base + 96] = (L[:, 0:32] >> 4) | (((H >> 4) & 3) << 4)
            q[:, base + 96:base + 128] = (L[:, 32:64] >> 4) | (((H >> 6) & 3) << 4)
        y = np.repeat(d[:, None] * scales, 16, axis=1) * (q - 32).astype(f32)
    elif t == Q8_K:
        d = b[:, 0:4].copy().view(f32)[:, 0]
        y = d[:, None] * b[:, 4:260].view(np.int8).astype(f32)
    else:
        raise ValueError(f"type {t}")
    y = y.astype(f32).reshape(-1)
    assert y.size == n_values
    return y


# --- quantize (closed-form reference rounding) -------------------------------------------

def signed_absmax(x):
    """Per row: the value of largest magnitude with its sign (first one on ties)."""
    return x[np.arange(len(x)), np.argmax(np.abs(x), axis=1)]


def reciprocal_or_zero(d):
    with np.errstate(divide="ignore"):
        return np.where(d != 0, f32(1) / d, f32(0)).astype(f32)


def truncate(v):
    """C's float -> integer conversion (toward zero)."""
    return np.trunc(v).astype(np.int32)


def round_half_away(v):
    """C's roundf; float64 makes |v| + 0.5 exact for these magnitudes."""
    v = v.astype(np.float64)
    return (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int32)


def pack_nibbles(q):
    return (q[:, :16] | (q[:, 16:] << 4)).astype(np.uint8)


def pack_fifth_bits(q):
    word = ((q >> 4) & 1).astype(np.uint64) << np.arange(32, dtype=np.uint64)
    return word.sum(axis=1).astype(np.uint32).view(np.uint8).reshape(-1, 4)


def f16_column(v):
    return to_f16_bits(v).view(np.uint8).reshape(-1, 2)


def quantize(t, x):
    x = np.asarray(x, dtype=f32)
    if t == F32:
        return x.tobytes()
    if t == F16:
        return to_f16_bits(x).tobytes()
    if t == BF16:
        return to_bf16_bits(x).tobytes()
    xb = x.reshape(-1, BLOCK[t][0])
    if t in (Q4_0, Q5_0):
        levels = 8 if t == Q4_0 else 16
        d = (signed_absmax(xb) / f32(-levels)).astype(f32)
        v = xb * reciprocal_or_zero(d)[:, None] + f32(levels + 0.5)
        q = np.minimum(2 * levels - 1, truncate(v))
        if t == Q4_0:
            parts = [f16_column(d), pack_nibbles(q & 0xF)]
        else:
            parts = [f16_column(d), pack_fifth_bits(q), pack_nibbles(q & 0xF)]
    elif t in (Q4_1, Q5_1):
        top = 15 if t == Q4_1 else 31
        lo, hi = xb.min(axis=1), xb.max(axis=1)
        d = ((hi - lo) / f32(top)).astype(f32)
        v = (xb - lo[:, None]) * reciprocal_or_zero(d)[:, None] + f32(0.5)
        q = np.minimum(top, truncate(v))
        parts = [f16_column(d), f16_column(lo)]
        parts += [pack_nibbles(q & 0xF)] if t == Q4_1 else [pack_fifth_bits(q), pack_nibbles(q & 0xF)]
    elif t == Q8_0:
        d = (np.abs(xb).max(axis=1) / f32(127)).astype(f32)
        q = round_half_away(xb * reciprocal_or_zero(d)[:, None])
        parts = [f16_column(d), q.astype(np.int8).view(np.uint8)]
    elif t == Q8_K:
        mx = signed_absmax(xb)
        zero = mx == 0
        with np.errstate(divide="ignore"):
            iscale = np.where(zero, f32(0), f32(-127) / np.where(zero, f32(1), mx)).astype(f32)
        q = np.minimum(127, np.rint(xb * iscale[:, None]).astype(np.int32))  # rint: ties to even
        q[zero] = 0
        d = np.where(zero, f32(0), reciprocal_or_zero(iscale)).astype(f32)
        bsums = q.reshape(-1, 16, 16).sum(axis=2).astype(np.int16)
        parts = [d.view(np.uint8).reshape(-1, 4), q.astype(np.int8).view(np.uint8), bsums.view(np.uint8)]
    else:
        raise ValueError(f"no closed-form quantizer for type {t}")
    return np.concatenate(parts, axis=1).tobytes()


# --- GGUF files ----------------------------------------------------------------------------

ALIGN = 32
_SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def _string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def write_gguf(path, tensors, metadata=()):
    """tensors: (name, float32 array of shape (rows, row_length) or (n,)); metadata: (key, str)."""
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata))
    for key, value in metadata:
        head += _string(key) + struct.pack("<I", 8) + _string(value)
    offset, data = 0, b""
    for name, a in tensors:
        dims = a.shape[::-1]  # ggml order: row length first
        head += _string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        head += struct.pack("<IQ", F32, offset)
        raw = np.asarray(a, dtype=f32).tobytes()
        raw += b"\0" * (-len(raw) % ALIGN)
        data += raw
        offset += len(raw)
    head += b"\0" * (-len(head) % ALIGN)
    with open(path, "wb") as f:
        f.write(head + data)


def read_gguf(path):
    """Returns (metadata {key: value}, tensors {name: (type, shape in ggml order, raw bytes)})."""
    buf = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return v[0]

    def string():
        nonlocal pos
        n = take("Q")
        s = buf[pos:pos + n].decode()
        pos += n
        return s

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("I"), take("Q")
            return [value(et) for _ in range(n)]
        return take(_SCALAR[t])

    assert buf[:4] == b"GGUF"
    pos = 4
    _, n_tensors, n_kv = take("I"), take("Q"), take("Q")
    meta = {}
    for _ in range(n_kv):
        key = string()
        meta[key] = value(take("I"))
    infos = []
    for _ in range(n_tensors):
        name = string()
        shape = [take("Q") for _ in range(take("I"))]
        infos.append((name, take("I"), shape, take("Q")))
    align = meta.get("general.alignment", ALIGN)
    start = (pos + align - 1) // align * align
    tensors = {}
    for name, t, shape, off in infos:
        size = row_bytes(t, shape[0]) * int(np.prod(shape[1:], dtype=np.int64))
        tensors[name] = (t, shape, buf[start + off:start + off + size])
    return meta, tensors
