#!/usr/bin/env python3
"""Perplexity of an MLX model directory under mlx_lm, on token ids given as a JSON array (from
`llm tokenize --json`), in the windows `llm perplexity` uses: consecutive windows of 512 tokens,
every token but a window's first scored. Prints the perplexity. Used by tests/bench/perplexity.sh.
    python tests/bench/mlx_perplexity.py model_dir ids.json"""
import json, math, sys
from pathlib import Path
import mlx.core as mx
import mlx.nn as nn
import mlx_lm.utils as u

model, _ = u.load_model(Path(sys.argv[1]))
ids, L = json.load(open(sys.argv[2])), 512
total, n = 0.0, 0
for at in range(0, len(ids) - 1, L):
    w = ids[at:at + L]
    if len(w) < 2:
        break
    logits = model(mx.array(w)[None])[0, :-1].astype(mx.float32)
    total += nn.losses.cross_entropy(logits, mx.array(w[1:]), reduction="sum").item()
    n += len(w) - 1
print(f"Perplexity: {math.exp(total / n):.4f} ({n} tokens, mlx_lm)")
