#!/usr/bin/env python3
"""Generate the expectations embedded in tests/test_quants.c from gguf-py's numpy reference.

    pip install gguf numpy          (made with gguf 0.19.0, numpy 2.4)
    pip download ggml-python==0.0.45 --no-deps && tar xzf ggml_python-0.0.45.tar.gz
    GGML_SRC=ggml_python-0.0.45/vendor/ggml/src python3 tests/tools/gen_quant_expect.py
        # rewrites the GENERATED region of tests/test_quants.c

gguf-py has no k-quant quantizer, so the q2_K..q8_K expectations come from ggml's own
quantize_row_q*_K_ref: GGML_SRC points at a ggml source tree (the copy vendored
in the ggml-python sdist), whose ggml-quants.c is compiled (without FMA contraction) into a
small library called through ctypes. The inputs follow the rule written in
tests/test_quants.c (an LCG, block fields set to finite scales); this file implements the
same rule. CI never runs this script."""
import ctypes
import math
import os
import re
import subprocess
import tempfile

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants

MASK64 = (1 << 64) - 1


class Lcg:
    def __init__(self, seed):
        self.state = seed

    def __call__(self):
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) & MASK64
        return self.state >> 32


def f16_normal(r):
    s = r() & 0x8000
    e = 1 + r() % 22
    m = r() & 0x3FF
    return s | e << 10 | m


def make_blocks(r, n_blocks, block_bytes, f16_at, f32_at):
    out = bytearray()
    for b in range(n_blocks):
        blk = bytearray(0xFF if b == 0 else r() & 0xFF for _ in range(block_bytes))
        for f, at in enumerate(f16_at):
            if b == 0:
                h = 0x8000 | f16_normal(r)
            elif b == 1:
                h = (0x8000 if f else 0) | (r() & 0x3FF) | 1
            else:
                h = f16_normal(r)
            blk[at:at + 2] = h.to_bytes(2, "little")
        if f32_at >= 0:
            s = 0x80000000 if b == 0 else r() & 0x80000000
            e = 110 + r() % 30
            m = r() & 0x7FFFFF
            blk[f32_at:f32_at + 4] = (s | e << 23 | m).to_bytes(4, "little")
        out += blk
    return bytes(out)


def make_floats(r, n_blocks, e_big, e_tiny):
    x = []
    for b in range(n_blocks):
        e = r() % 17 - 8
        if b == 2:
            e = e_big
        if b == 3:
            e = e_tiny
        blk = [math.ldexp((r() >> 8) - (1 << 23), e - 23) for _ in range(32)]
        if b == 0:
            blk = [0.0] * 32
        if b == 1:
            blk[5] = -math.ldexp(1.0, e)
            blk[20] = math.ldexp(1.0, e)
        if b == 4:
            blk = [math.ldexp(j - 16, e - 4) for j in range(32)]
        x += blk
    return np.array(x, dtype=np.float32)   # every value is exact in f32


def fnv1a(data):
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & MASK64
    return h


def dequantize(raw, qtype):
    a = np.frombuffer(raw, dtype=np.uint8).reshape(1, -1)
    if qtype == T.Q8_K:   # gguf-py has no Q8_K class; ggml: y = d * q
        blocks = a.reshape(-1, 292)
        d = blocks[:, :4].copy().view(np.float32)
        q = blocks[:, 4:260].copy().view(np.int8).astype(np.float32)
        return (d * q).reshape(-1)
    return quants.dequantize(a, qtype).reshape(-1).astype(np.float32)


# name, ggml type, block elems, block bytes, f16 field offsets, f32 field offset, blocks
DEQUANT = [
    ("F16", T.F16, 1, 2, [], -1, 64),
    ("BF16", T.BF16, 1, 2, [], -1, 64),
    ("Q4_0", T.Q4_0, 32, 18, [0], -1, 6),
    ("Q4_1", T.Q4_1, 32, 20, [0, 2], -1, 6),
    ("Q5_0", T.Q5_0, 32, 22, [0], -1, 6),
    ("Q5_1", T.Q5_1, 32, 24, [0, 2], -1, 6),
    ("Q8_0", T.Q8_0, 32, 34, [0], -1, 6),
    ("Q2_K", T.Q2_K, 256, 84, [80, 82], -1, 3),
    ("Q3_K", T.Q3_K, 256, 110, [108], -1, 3),
    ("Q4_K", T.Q4_K, 256, 144, [0, 2], -1, 3),
    ("Q5_K", T.Q5_K, 256, 176, [0, 2], -1, 3),
    ("Q6_K", T.Q6_K, 256, 210, [208], -1, 3),
    ("Q8_K", T.Q8_K, 256, 292, [], 0, 3),
]
QUANT = [("F16", T.F16), ("BF16", T.BF16), ("Q8_0", T.Q8_0), ("Q4_0", T.Q4_0), ("Q4_1", T.Q4_1),
         ("Q5_0", T.Q5_0), ("Q5_1", T.Q5_1)]


def f16_rule_blocks(r, name, n):
    """F16/BF16 'blocks' are single values: f16 of any finite exponent; bf16 raw bits."""
    vals = []
    for _ in range(n):
        if name == "F16":
            s = r() & 0x8000
            e = r() % 31
            vals.append(s | e << 10 | (r() & 0x3FF))
        else:
            vals.append(r() & 0xFFFF)
    return b"".join(v.to_bytes(2, "little") for v in vals)


def gen_dequant():
    lines = ["static const dequant_case dequant_cases[] = {"]
    for k, (name, qtype, elems, nbytes, f16_at, f32_at, nb) in enumerate(DEQUANT):
        seed = 1000 + 17 * k
        r = Lcg(seed)
        raw = f16_rule_blocks(r, name, nb) if elems == 1 else make_blocks(r, nb, nbytes, f16_at, f32_at)
        y = dequantize(raw, qtype)
        n = nb * elems
        assert y.shape == (n,), (name, y.shape)
        bits = y.view(np.uint32)
        idx = [k8 * n // 8 + (k8 * 37) % (n // 8) for k8 in range(8)]
        f16s = (f16_at + [0, 0])[:2]
        lines.append(f"    {{ LLM_DTYPE_{name}, {seed}, {nb}, {{ {f16s[0]}, {f16s[1]} }}, {len(f16_at)}, {f32_at}, "
                     f"0x{fnv1a(y.tobytes()):016x}ull,")
        lines.append(f"      {{ {', '.join(map(str, idx))} }},")
        lines.append(f"      {{ {', '.join(f'0x{int(bits[i]):08x}' for i in idx)} }} }},")
    lines.append("};")
    return lines


def gen_quant():
    lines = ["static const quant_case quant_cases[] = {"]
    for k, (name, qtype) in enumerate(QUANT):
        seed = 5000 + 31 * k
        nb = 16
        x = make_floats(Lcg(seed), nb, 24, -30)
        with np.errstate(over="ignore"):   # block 2 overflows the f16 scale on purpose
            q = quants.quantize(x.reshape(1, -1), qtype)
        raw = np.ascontiguousarray(q).view(np.uint8).tobytes()
        hexs = raw.hex()
        lines.append(f"    {{ LLM_DTYPE_{name}, {seed}, {nb},")
        chunks = [hexs[i:i + 96] for i in range(0, len(hexs), 96)]
        for i, c in enumerate(chunks):
            lines.append(f'      "{c}"' + (" }," if i == len(chunks) - 1 else ""))
    lines.append("};")
    return lines


GGML_STUBS = """
#include <stddef.h>
#include <stdlib.h>
void ggml_abort(const char *file, int line, const char *fmt, ...) { (void)file; (void)line; (void)fmt; abort(); }
size_t ggml_row_size(int type, long long ne) { (void)type; (void)ne; abort(); }
const char *ggml_type_name(int type) { (void)type; abort(); }
size_t ggml_type_size(int type) { (void)type; abort(); }
"""
QUANT_K = [("Q2_K", "quantize_row_q2_K_ref", 84), ("Q3_K", "quantize_row_q3_K_ref", 110),
           ("Q4_K", "quantize_row_q4_K_ref", 144), ("Q5_K", "quantize_row_q5_K_ref", 176),
           ("Q6_K", "quantize_row_q6_K_ref", 210), ("Q8_K", "quantize_row_q8_K_ref", 292)]


def ggml_library(src, tmp):
    stubs = os.path.join(tmp, "stubs.c")
    open(stubs, "w").write(GGML_STUBS)
    lib = os.path.join(tmp, "libggml_quants.so")
    subprocess.run(["cc", "-O2", "-ffp-contract=off", "-fPIC", "-shared", "-I" + os.path.join(src, "..", "include"),
                    "-I" + src, "-I" + os.path.join(src, "ggml-cpu"), os.path.join(src, "ggml-quants.c"), stubs,
                    "-lm", "-o", lib], check=True)
    return ctypes.CDLL(lib)


def gen_quant_k(src):
    """Many blocks, so every branch of the scale search is taken: expect a hash of the bytes."""
    lines = ["static const quant_k_case quant_k_cases[] = {"]
    with tempfile.TemporaryDirectory() as tmp:
        lib = ggml_library(src, tmp)
        for k, (name, fn, block_bytes) in enumerate(QUANT_K):
            seed = 7000 + 31 * k
            nb = 256   # blocks of 32 floats: 32 super-blocks
            x = make_floats(Lcg(seed), nb, 12, -12)   # ggml asserts |x / d| < 2^22
            out = ctypes.create_string_buffer(nb * 32 // 256 * block_bytes)
            getattr(lib, fn)(x.ctypes.data_as(ctypes.c_void_p), out, ctypes.c_int64(x.size))
            lines.append(f"    {{ LLM_DTYPE_{name}, {seed}, {nb}, 0x{fnv1a(out.raw):016x}ull }},")
    lines.append("};")
    return lines


def main():
    path = os.path.join(os.path.dirname(__file__), "..", "test_quants.c")
    src = open(path).read()
    src_dir = os.environ.get("GGML_SRC")
    if not src_dir:
        raise SystemExit("set GGML_SRC to ggml's src/ directory (see the top of this file)")
    body = "\n".join(gen_dequant() + gen_quant() + gen_quant_k(src_dir))
    begin = "/* BEGIN GENERATED by tests/tools/gen_quant_expect.py */\n"
    end = "/* END GENERATED */"
    src = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: begin + body + "\n" + end, src, flags=re.S)
    open(path, "w").write(src)


if __name__ == "__main__":
    main()
