#!/usr/bin/env python3
"""Print the expectations embedded in tests/test_mlx_quant.c, computed with mlx itself.

Run by hand (CI has neither Python nor mlx):
    pip install "mlx[cpu]" numpy      # checked with mlx 0.32.4
    python3 tests/tools/mlx_quant_ref.py > /tmp/expect.txt
then paste the tables over the ones in the test.

The test matrices come from a 64-bit LCG that the C test implements identically
(test_matrix / fill_words there), so only 64-bit FNV-1a hashes of mlx's outputs need to be
stored: of the packed weights, of the scales+biases bytes, and of the dequantized matrix
as f32 bytes.
"""
import struct

import mlx.core as mx
import numpy as np

ROWS, COLS = 7, 256
LCG_A, LCG_C, MASK = 6364136223846793005, 1442695040888963407, (1 << 64) - 1


class Lcg:
    def __init__(self, seed):
        self.s = seed & MASK

    def next(self):
        self.s = (self.s * LCG_A + LCG_C) & MASK
        return self.s


def test_matrix(seed):
    """[ROWS, COLS] f32: row 0 zeros, row 1 a constant, row 2 tiny values, then random rows
    of varied amplitude (powers of two) and offset, some all-positive or all-negative."""
    g = Lcg(seed)
    w = np.zeros((ROWS, COLS), np.float32)
    for r in range(ROWS):
        amp = np.float32(2.0 ** ((r % 7) - 3))
        off = np.float32([0.0, 0.0, 1.5, -1.25][r % 4]) * amp
        for c in range(COLS):
            u = g.next() >> 40                                   # 24 random bits
            v = np.float32((u - (1 << 23)) * 2.0 ** -23) * amp  # exact in f32
            w[r, c] = np.float32(v + off)
    w[0, :] = 0
    w[1, :] = np.float32(-0.3)
    w[2, :] *= np.float32(2.0 ** -28)
    return w


def fnv(data):
    h = 0xcbf29ce484222325
    for b in bytes(data):
        h = ((h ^ b) * 0x100000001b3) & MASK
    return h


def raw(a):
    """The bytes of an mlx array (bf16 through its uint16 view)."""
    if a.dtype == mx.bfloat16:
        a = a.view(mx.uint16)
    return np.array(a).tobytes()


def affine():
    print("/* bits, group, dtype, fnv(weights), fnv(scales||biases), fnv(dequantized f32) */")
    dtypes = [("LLM_DTYPE_F32", mx.float32), ("LLM_DTYPE_F16", mx.float16), ("LLM_DTYPE_BF16", mx.bfloat16)]
    for bits in (2, 3, 4, 5, 6, 8):
        for gs in (32, 64, 128):
            for name, dt in dtypes:
                w = mx.array(test_matrix(1000 + bits * 10 + gs)).astype(dt)
                q, s, b = mx.quantize(w, group_size=gs, bits=bits)
                d = mx.dequantize(q, s, b, group_size=gs, bits=bits).astype(mx.float32)
                print(f"    {{ {bits}, {gs:3d}, {name + ',':15s} 0x{fnv(raw(q)):016x}u, "
                      f"0x{fnv(raw(s) + raw(b)):016x}u, 0x{fnv(raw(d)):016x}u }},")
    # a few explicit values, to read when a hash differs
    w = mx.array(test_matrix(1000 + 4 * 10 + 64))
    q, s, b = mx.quantize(w, group_size=64, bits=4)
    bits = lambda a, r: f"0x{int(np.array(a).view(np.uint32)[r, 0]):08x}"
    print(f"/* 4-bit g64 f32: w[3][0] = {bits(q, 3)}, scale[3][0] = {bits(s, 3)}, bias[3][0] = {bits(b, 3)}, "
          f"scale[1][0] = {bits(s, 1)}, bias[1][0] = {bits(b, 1)} (f32 bits) */")

def fill_words(seed, n, no_fp8_nan):
    g = Lcg(seed)
    out = []
    for _ in range(n):
        x = g.next() >> 32
        if no_fp8_nan:   # e4m3 has NaN at 0x7f/0xff: flip those bytes to 0x7e/0xfe
            for k in range(4):
                if (x >> (8 * k)) & 0x7f == 0x7f:
                    x ^= 1 << (8 * k)
        out.append(x)
    return np.array(out, np.uint32).reshape(ROWS, -1)


def fill_scales(seed, n, e4m3):
    g = Lcg(seed)
    out = []
    for _ in range(n):
        x = g.next() >> 56
        out.append(((x & 0x7f) if (x & 0x7f) != 0x7f else 0x7e) if e4m3 else 100 + x % 50)
    return np.array(out, np.uint8).reshape(ROWS, -1)


def fp_modes():
    print("/* mode, fnv(dequantized f32) of LCG words and scales */")
    for name, mode, bits, gs in (("mxfp4", "mxfp4", 4, 32), ("nvfp4", "nvfp4", 4, 16), ("mxfp8", "mxfp8", 8, 32)):
        w = fill_words(7, ROWS * COLS * bits // 32, bits == 8)
        s = fill_scales(8, ROWS * COLS // gs, gs == 16)
        d = mx.dequantize(mx.array(w), mx.array(s), group_size=gs, bits=bits, mode=mode, dtype=mx.float32)
        dn = np.array(d)
        print(f"    /* {name} */ 0x{fnv(dn.tobytes()):016x}u,   /* d[0][0..3] = {dn[0, :4].tolist()} */")


def edge_rows():
    """The awkward inputs of test_fp_quantize_edges (same order as the C table there)."""
    nan, inf, big = float("nan"), float("inf"), float(np.finfo(np.float32).max)
    rows = [
        [6, .25, -.25, .75, -.75, 1.25, -1.25, 1.75, 2.5, 3.5, 5, -5, 0, -0.0, .2, -.3,
         5.9, 4.99, 2.49, 1.74, .74, .26, -.26, 3, -6, 1, -1, 1.5, -1.5, 2, 4, -4],   # fp4 ties at scale 1
        [0.0] * 8 + [-0.0] * 8 + [0.0] * 16,                                          # zero groups
        [big, -3e38, 1, -1, 1e30, 2e38, 0, 5e37] * 4,                                 # huge
        [1e-45, -1e-45, 3e-45, 1e-40, -2e-39, 1.1754942e-38, 0, 5e-44] * 4,           # subnormal
        [1, 2, nan, 3] + [0.5] * 28,                                                  # NaN
        [1, inf, 2, -3] + [0.5] * 28,                                                 # inf
        [448, 464, 460, -456, 240, 248, 232, 0.001953125, 0.0029296875, -0.0009765625,
         17, 19, 0.015625, 448, 1, 2] * 2,                                            # fp8 ties, saturation
        [1e3, 1e-3, -1e3, 1e-4, 0.4, 100, 7, 8] * 4,                                  # wide range
    ]
    return np.array(rows, np.float32)


def hexbytes(a, per_line=32):
    b = np.array(a).view(np.uint8).reshape(-1)
    lines = [", ".join(f"0x{x:02x}" for x in b[i:i + per_line]) for i in range(0, len(b), per_line)]
    return ",\n        ".join(lines)


def fp_quantize():
    print("/* mode, dtype, fnv(weights), fnv(scales): mx.quantize(test_matrix(2000 + 10 * mode + dtype), mode) */")
    dtypes = [("LLM_DTYPE_F32", mx.float32), ("LLM_DTYPE_F16", mx.float16), ("LLM_DTYPE_BF16", mx.bfloat16)]
    for m, name in enumerate(("mxfp4", "nvfp4", "mxfp8")):
        for d, (dname, dt) in enumerate(dtypes):
            w = mx.array(test_matrix(2000 + 10 * m + d)).astype(dt)
            q, s = mx.quantize(w, mode=name)
            print(f"    {{ LLM_MLX_{name.upper()}, {dname + ',':15s} 0x{fnv(raw(q)):016x}u, 0x{fnv(raw(s)):016x}u }},")
    w = mx.array(edge_rows())
    for name in ("mxfp4", "nvfp4", "mxfp8"):
        q, s = mx.quantize(w, mode=name)
        print(f"static const uint8_t edge_{name}_w[] = {{\n        {hexbytes(q)} }};")
        print(f"static const uint8_t edge_{name}_s[] = {{ {hexbytes(s, 64)} }};")


if __name__ == "__main__":
    print(f"/* generated by tests/tools/mlx_quant_ref.py with mlx {mx.__version__} */")
    affine()
    fp_modes()
    fp_quantize()
