#!/usr/bin/env python3
"""Check a GGUF file written by `llm convert --to-gguf` with llama.cpp's own reader (gguf-py).

usage: gguf_py_check.py OUT.gguf SOURCE_DIR

Independently of the C converter: maps every source safetensors tensor to its llama.cpp
name (llama: Wq/Wk rows permuted; gemma: norms + 1; experts stacked), then checks that the
GGUF holds exactly those tensors with the shapes llama.cpp expects, that their values equal
the source (f32 exactly, f16/bf16 as rounded, block types byte for byte where gguf-py can
quantize them, else within the format's error), and that the metadata keys llama.cpp needs
are there. Exit status 0 when all is well, 1 with the problems listed otherwise.
"""
import json, os, re, struct, sys

import numpy as np
import gguf
from gguf.quants import dequantize, quantize

LAYER = {
    "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "self_attn.qkv_proj": "attn_qkv",
    "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
    "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
    "mlp.gate_up_proj": "ffn_up", "mlp.gate": "ffn_gate_inp", "block_sparse_moe.gate": "ffn_gate_inp",
}
GEMMA2 = {"post_attention_layernorm": "post_attention_norm", "pre_feedforward_layernorm": "ffn_norm",
          "post_feedforward_layernorm": "post_ffw_norm"}
EXPERTS = {"gate_proj": "ffn_gate_exps", "up_proj": "ffn_up_exps", "down_proj": "ffn_down_exps",
           "w1": "ffn_gate_exps", "w3": "ffn_up_exps", "w2": "ffn_down_exps"}
DTYPES = {"F32": np.float32, "F16": np.float16}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            f.seek(base + info["data_offsets"][0])
            raw = f.read(info["data_offsets"][1] - info["data_offsets"][0])
            if info["dtype"] == "BF16":
                a = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
            else:
                a = np.frombuffer(raw, DTYPES[info["dtype"]]).astype(np.float32)
            out[name] = a.reshape(info["shape"])
        return out


def permute(w, n_head):
    """convert_hf_to_gguf.py's LlamaModel.permute"""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def expected(src, arch, hp):
    out, experts = {}, {}
    for name, a in src.items():
        if name == "model.embed_tokens.weight":
            out["token_embd.weight"] = a
        elif name == "model.norm.weight":
            out["output_norm.weight"] = a
        elif name == "lm_head.weight":
            out["output.weight"] = a
        elif m := re.fullmatch(r"model\.layers\.(\d+)\.(?:mlp|block_sparse_moe)\.experts\.(\d+)\.(\w+)\.weight", name):
            experts.setdefault((int(m[1]), EXPERTS[m[3]]), {})[int(m[2])] = a
        elif m := re.fullmatch(r"model\.layers\.(\d+)\.(.+)\.(weight|bias)", name):
            table = {**LAYER, **GEMMA2} if arch in ("gemma2", "gemma3") else LAYER
            out[f"blk.{m[1]}.{table[m[2]]}.{m[3]}"] = a
        else:
            raise SystemExit(f"no llama.cpp name for {name}")
    for (il, gname), per in experts.items():
        out[f"blk.{il}.{gname}.weight"] = np.stack([per[e] for e in sorted(per)])
    for name in list(out):
        if arch == "llama" and re.search(r"\.attn_[qk]\.", name):
            out[name] = permute(out[name], hp["head_count"] if ".attn_q." in name else hp["head_count_kv"])
        if arch.startswith("gemma") and name.endswith("norm.weight"):
            out[name] = (out[name] + np.float32(1)).astype(np.float32)
    return out


def check_values(name, t, want, problems):
    qt = t.tensor_type
    got = dequantize(t.data, qt).reshape(want.shape).astype(np.float32)
    if qt == gguf.GGMLQuantizationType.F32:
        ok = np.array_equal(got, want)
    elif qt in (gguf.GGMLQuantizationType.F16, gguf.GGMLQuantizationType.BF16):
        ok = np.array_equal(got, dequantize(quantize(want, qt), qt).reshape(want.shape))
    else:
        try:   # byte for byte with gguf-py's port of ggml's reference quantizer
            ok = np.array_equal(np.asarray(t.data).reshape(-1), quantize(want, qt).reshape(-1))
        except NotImplementedError:
            ok = np.abs(got - want).max() <= 0.25 * max(np.abs(want).max(), 1e-6)
    if not ok:
        problems.append(f"{name} ({qt.name}): values differ from the source (max |diff| {np.abs(got - want).max():.3g})")


def main():
    path, src_dir = sys.argv[1], sys.argv[2]
    r = gguf.GGUFReader(path)
    kv = {f.name: f for f in r.fields.values()}

    def val(key):
        f = kv[key]
        return f.contents() if hasattr(f, "contents") else f.parts[f.data[0]].tolist()

    problems = []
    arch = val("general.architecture")
    for key in ["context_length", "embedding_length", "block_count", "feed_forward_length", "attention.head_count",
                "attention.head_count_kv", "attention.layer_norm_rms_epsilon", "rope.freq_base"]:
        if f"{arch}.{key}" not in kv:
            problems.append(f"metadata {arch}.{key} missing")
    if "tokenizer.ggml.model" in kv:
        model = val("tokenizer.ggml.model")
        n = len(kv["tokenizer.ggml.tokens"].data)
        need = ["tokenizer.ggml.token_type"] + (["tokenizer.ggml.merges", "tokenizer.ggml.pre"] if model == "gpt2" else ["tokenizer.ggml.scores"])
        for key in need:
            if key not in kv:
                problems.append(f"metadata {key} missing")
            elif key in ("tokenizer.ggml.token_type", "tokenizer.ggml.scores") and len(kv[key].data) != n:
                problems.append(f"{key} has {len(kv[key].data)} entries for {n} tokens")
    hp = {k: val(f"{arch}.attention.{k}") for k in ("head_count", "head_count_kv")}
    src = {}
    for f in sorted(os.listdir(src_dir)):
        if f.startswith("model") and f.endswith(".safetensors"):
            src.update(read_safetensors(os.path.join(src_dir, f)))
    want = expected(src, arch, hp)
    got = {t.name: t for t in r.tensors}
    for name in sorted(set(want) | set(got)):
        if name.startswith("rope_"):
            continue
        if name not in got or name not in want:
            problems.append(f"{name}: {'missing in the GGUF' if name not in got else 'not in the source'}")
            continue
        t = got[name]
        shape = tuple(int(x) for x in reversed(t.shape.tolist()))
        if shape != want[name].shape:
            problems.append(f"{name}: shape {shape}, expected {want[name].shape}")
            continue
        if want[name].ndim == 1 and t.tensor_type != gguf.GGMLQuantizationType.F32:
            problems.append(f"{name}: a vector in {t.tensor_type.name}, llama.cpp keeps them in F32")
        check_values(name, t, want[name], problems)
    for p in problems:
        print(f"gguf_py_check: {path}: {p}")
    print(f"gguf_py_check: {path}: {arch}, {len(got)} tensors, {len(kv)} keys: {'ok' if not problems else 'FAILED'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
