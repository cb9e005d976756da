#!/usr/bin/env python3
"""FNV-1a 64 of a model as mlx_lm's convert would quantize it (the hashes in tests/test_convert.c).

usage: /tmp/mlxenv/bin/python mlx_convert_hash.py MODEL_DIR BITS GROUP_SIZE [RECIPE] [--mode M] [--dtype D]

Loads MODEL_DIR with mlx_lm, casts its float parameters to D (bfloat16, float16, float32) as
convert.py's --dtype does, quantizes it with quantize_model (RECIPE: mixed_2_6, mixed_3_4,
mixed_3_6 or mixed_4_6 through convert.py's mixed_quant_predicate_builder; M: affine (default),
mxfp4, nvfp4 or mxfp8, BITS and GROUP_SIZE 0 for the mode's defaults), and hashes every
tensor of tree_flatten(model.parameters()) in name order: name bytes, then data bytes.
Prints the tensor count, the hash and the per-module bits the config records.
"""
import sys

import mlx.core as mx
import numpy as np
from mlx.utils import tree_flatten, tree_map
from mlx_lm.convert import mixed_quant_predicate_builder
from pathlib import Path

from mlx_lm.utils import load_model, quantize_model


def fnv1a(h, data):
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    args = sys.argv[1:]
    opt = {}
    for k in ("--mode", "--dtype"):
        if k in args:
            i = args.index(k)
            opt[k] = args[i + 1]
            del args[i:i + 2]
    path, bits, gs = args[0], int(args[1]) or None, int(args[2]) or None
    recipe = args[3] if len(args) > 3 else None
    model, config = load_model(Path(path), lazy=True)
    if "--dtype" in opt:
        dt = getattr(mx, opt["--dtype"])
        model.update(tree_map(lambda v: v.astype(dt) if mx.issubdtype(v.dtype, mx.floating) else v, model.parameters()))
    pred = mixed_quant_predicate_builder(recipe, model, gs) if recipe else None
    model, qconfig = quantize_model(model, config, gs, bits, mode=opt.get("--mode", "affine"), quant_predicate=pred)
    h = 0xCBF29CE484222325
    flat = sorted(tree_flatten(model.parameters()), key=lambda kv: kv[0])
    for name, a in flat:
        mx.eval(a)
        raw = np.array(a.view(mx.uint16) if a.dtype == mx.bfloat16 else a).tobytes()
        h = fnv1a(fnv1a(h, name.encode()), raw)
    per = {k: v["bits"] for k, v in qconfig["quantization"].items() if isinstance(v, dict)}
    print(len(flat), f"0x{h:016x}", per, {k: v for k, v in qconfig["quantization"].items() if not isinstance(v, dict)})


if __name__ == "__main__":
    main()
