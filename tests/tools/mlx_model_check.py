#!/usr/bin/env python3
"""Quantize a Hugging Face checkpoint with mlx_lm (4-bit g32, down_proj 6-bit, lm_head 8-bit g64:
a mixed recipe) and write mlx's own dequantization of every quantized module next to it, for
tests/tools/mlx_model_check.c. Run by hand (pip install mlx-lm; checked with 0.32.2):
    python3 tests/tools/mlx_model_check.py ../shared/fixtures/models/dev/llama /tmp/llama_mlx
    cc -O2 -march=native -std=c11 -I. -o /tmp/check tests/tools/mlx_model_check.c \
       -lutf8proc -lzstd -lcjson -lpthread -lm && /tmp/check /tmp/llama_mlx
(ref.safetensors is saved with metadata: llm.h rejects mlx's "__metadata__": null.)
"""
from pathlib import Path
import mlx.core as mx
import mlx_lm.utils as u
import sys
src, out = Path(sys.argv[1]), Path(sys.argv[2])
model, config = u.load_model(src)
def pred(path, m):
    if path.endswith("down_proj"):
        return {"group_size": 32, "bits": 6}
    if path == "lm_head":
        return {"group_size": 64, "bits": 8}
    return True
model, qconfig = u.quantize_model(model, config, 32, 4, quant_predicate=pred)
out.mkdir(exist_ok=True)
u.save_model(out, model)
u.save_config(qconfig, out / "config.json")
# reference: every quantized module dequantized by mlx, as f32
w = dict(mx.load(str(out / "model.safetensors")))
ref = {}
q = qconfig["quantization"]
for k in w:
    if k.endswith(".scales"):
        base = k[:-7]
        p = q.get(base, q)
        p = p if isinstance(p, dict) else q
        d = mx.dequantize(w[base + ".weight"], w[base + ".scales"], w.get(base + ".biases"), group_size=p.get("group_size", 64), bits=p.get("bits", 4), mode=p.get("mode", "affine"))
        ref[base] = d.astype(mx.float32)
mx.save_safetensors(str(out / "ref.safetensors"), ref, metadata={"format": "mlx"})
print(f"{out}: {len(ref)} quantized modules")
