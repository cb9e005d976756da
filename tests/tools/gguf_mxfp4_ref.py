#!/usr/bin/env python3
"""Print the expectation of test_gguf_mxfp4 (tests/test_mlx_quant.c): gguf-py's numpy
dequantization of MXFP4 blocks (GGUF type 39) filled by the test's LCG.

    pip install gguf numpy        (checked with gguf 0.19.0)
    python3 tests/tools/gguf_mxfp4_ref.py
CI never runs this script."""
import numpy as np
from gguf import GGMLQuantizationType, quants

MASK = (1 << 64) - 1
N_BLOCKS = 16


def blocks():
    """17-byte blocks: LCG bytes (the top byte of each step); the exponents of blocks 0..3
    are set to 0, 1, 255 and 127 (the subnormal, largest and unit scales)."""
    s, out = 5, bytearray()
    for _ in range(N_BLOCKS * 17):
        s = (s * 6364136223846793005 + 1442695040888963407) & MASK
        out.append(s >> 56)
    for b, e in enumerate((0, 1, 255, 127)):
        out[b * 17] = e
    return np.frombuffer(bytes(out), np.uint8)


def fnv(data):
    h = 0xCBF29CE484222325
    for b in bytes(data):
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


if __name__ == "__main__":
    d = quants.dequantize(blocks(), GGMLQuantizationType.MXFP4).astype(np.float32)
    print(f"fnv 0x{fnv(d.tobytes()):016x}u, d[0..1] = {d[:2].tolist()}, d[64..65] = {d[64:66].tolist()}, "
          f"d[96..97] = {d[96:98].tolist()}")
