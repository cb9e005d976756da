#!/usr/bin/env python3
"""Compare our GGUF re-typing (`llm quantize --to-gguf --gguf-type T`) with llama-quantize's.

usage: gguf_mix_compare.py [--llm build/llm] [--llama-quantize PATH] [--types Q4_K_M,...]
                           [--table] SOURCE.gguf...

For each SOURCE (an f16/f32 GGUF: a real one, or one our writer made from a fixture model:
`llm convert --hf-path DIR --to-gguf X.gguf --gguf-type f16`) and each llama-quantize file
type, both programs re-type the file; gguf-py reads the two outputs and we compare every
tensor's type, and its bytes where the types agree. --table prints our name -> type lists
(what tests/test_convert_gguf.c embeds). By hand only (needs llama-quantize and gguf-py):
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
        print("   ", " ".join(f"{n}={a[n][0]}" for n in sorted(a)))
    return not bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llm", default="build/llm")
    ap.add_argument("--llama-quantize", default="/work/llama.cpp-src/build/bin/llama-quantize")
    ap.add_argument("--types", default=",".join(TYPES))
    ap.add_argument("--table", action="store_true")
    ap.add_argument("sources", nargs="+")
    args = ap.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for src in args.sources:
            for typ in args.types.split(","):
                ok &= compare(src, typ, args.llm, args.llama_quantize, tmp, args.table)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
