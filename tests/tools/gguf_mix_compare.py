#!/usr/bin/env python3
"""Compare our GGUF re-typing (`llm quantize --to-gguf --gguf-type T`) with llama-quantize's.

usage: gguf_mix_compare.py [--llm build/llm] [--llama-quantize PATH] [--types Q4_K_M,...]
                           [--table] [--synthetic OUT.gguf] SOURCE.gguf...

For each SOURCE (an f16/f32 GGUF: a real one, or one our writer made from a fixture model:
`llm convert --hf-path DIR --to-gguf X.gguf --gguf-type f16`) and each llama-quantize file
type, both programs re-type the file; gguf-py reads the two outputs and we compare every
tensor's type, and its bytes where the types agree. --table prints our name -> type lists
(what tests/test_convert_gguf.c embeds). --synthetic first writes OUT.gguf, the model that
test_convert_gguf.c's test_mix_synthetic builds (llama, 8 layers, rows of 256, 8 heads on 2
KV heads; 4-row matrices: the rules look at names and row lengths only), and compares it too. By hand only (needs llama-quantize and gguf-py):
not run in CI. Exit status 0 when every tensor agrees.
"""
import argparse, os, subprocess, sys, tempfile

import gguf

# llama-quantize's fallback for q2_K/q3_K rows that 256 does not divide is iq4_nl, which we do
# not write: ours is q4_0 (the same 4.5 bits per weight). Counted apart, not as a difference.
SUBSTITUTES = {("Q4_0", "IQ4_NL")}
TYPES = ["Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "Q4_0", "Q8_0"]


def tensors(path):
    r = gguf.GGUFReader(path)
    ft = r.fields.get("general.file_type")
    return {t.name: (t.tensor_type.name, bytes(t.data.tobytes())) for t in r.tensors}, (int(ft.parts[-1][0]) if ft else None)


def layer_order(name):
    """llama-quantize's order: by layer (globals first), then by name"""
    parts = name.split(".")
    return (int(parts[1]) if parts[0] == "blk" else -1, name)


def compare(src, typ, llm, lq, tmp, table):
    ours, theirs = os.path.join(tmp, "ours.gguf"), os.path.join(tmp, "theirs.gguf")
    r = subprocess.run([lq, src, theirs, typ, "1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode:                       # e.g. an architecture newer than the llama.cpp build
        print(f"{os.path.basename(src)} {typ}: llama-quantize failed: {r.stderr.strip().splitlines()[-1:]}")
        return True
    subprocess.run([llm, "quantize", "--model", src, "--to-gguf", ours, "--gguf-type", typ], check=True)
    (a, fa), (b, fb) = tensors(ours), tensors(theirs)
    bad = [] if fa == fb else [f"general.file_type {fa} (llama-quantize {fb})"]
    same_bytes = substituted = 0
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            bad.append(f"{name}: only in {'ours' if name in a else 'llama-quantize'}")
        elif (a[name][0], b[name][0]) in SUBSTITUTES:
            substituted += 1
        elif a[name][0] != b[name][0]:
            bad.append(f"{name}: {a[name][0]} (llama-quantize {b[name][0]})")
        elif a[name][1] != b[name][1]:
            bad.append(f"{name}: {a[name][0]} bytes differ")
        else:
            same_bytes += 1
    print(f"{os.path.basename(src)} {typ}: {len(b)} tensors, {same_bytes} identical, {substituted} q4_0 for iq4_nl, {len(bad)} differ")
    for line in bad[:20]:
        print("   ", line)
    if table:
        print("   ", " ".join(f"{n}={a[n][0]}" for n in sorted(a, key=layer_order)))
    return not bad


def synthetic(path, experts):
    """llama, 8 layers of 4-row matrices with rows of 256 (so k-quant blocks fit); with
    experts, the feed-forward of each layer is that many experts ([E, 4, 256] stacks)."""
    import numpy as np
    w = gguf.GGUFWriter(path, "llama")
    if experts:
        w.add_uint32("llama.expert_count", experts)
        w.add_uint32("llama.expert_used_count", 2)
    for key, v in [("block_count", 8), ("context_length", 64), ("embedding_length", 256), ("feed_forward_length", 256),
                   ("attention.head_count", 8), ("attention.head_count_kv", 2), ("rope.dimension_count", 32)]:
        w.add_uint32(f"llama.{key}", v)
    w.add_float32("llama.attention.layer_norm_rms_epsilon", 1e-5)
    w.add_uint32("general.file_type", 0)
    k = 0
    def mat(name, rows=4, n=1):
        nonlocal k
        k += 1
        v = np.sin(np.arange(n * rows * 256, dtype=np.float32) * 0.37 + k) * 0.1
        w.add_tensor(name, v.reshape((n, rows, 256) if n > 1 else (rows, 256)))
    mat("token_embd.weight", 32)
    for il in range(8):
        for t in ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]:
            if experts and t.startswith("ffn"):
                mat(f"blk.{il}.{t}_exps.weight", 4, experts)
            else:
                mat(f"blk.{il}.{t}.weight")
        if experts:
            w.add_tensor(f"blk.{il}.ffn_gate_inp.weight", np.ones((experts, 256), dtype=np.float32))
        for t in ["attn_norm", "ffn_norm"]:
            w.add_tensor(f"blk.{il}.{t}.weight", np.ones(256, dtype=np.float32))
    w.add_tensor("output_norm.weight", np.ones(256, dtype=np.float32))
    mat("output.weight", 32)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llm", default="build/llm")
    ap.add_argument("--llama-quantize", default="/work/llama.cpp-src/build/bin/llama-quantize")
    ap.add_argument("--types", default=",".join(TYPES))
    ap.add_argument("--table", action="store_true")
    ap.add_argument("--synthetic")
    ap.add_argument("--experts", type=int, default=0, help="with --synthetic: MoE layers of this many experts")
    ap.add_argument("sources", nargs="*")
    args = ap.parse_args()
    if args.synthetic:
        synthetic(args.synthetic, args.experts)
        args.sources.insert(0, args.synthetic)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for src in args.sources:
            for typ in args.types.split(","):
                ok &= compare(src, typ, args.llm, args.llama_quantize, tmp, args.table)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
