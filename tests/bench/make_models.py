#!/usr/bin/env python3
"""Random-weight Llama models with realistic shapes, for benchmarks (not for tests: no
reference outputs). For each shape and dtype it writes

    CACHE/<shape>-<dtype>/config.json + model.safetensors   (Hugging Face layout, for llm.h)
    CACHE/<shape>-<dtype>.gguf                              (llama.cpp names, for llama-bench)

with the same weights in both (f16 and bf16 only for GGUF). CACHE defaults to
~/.cache/llm.h/bench (override with LLM_BENCH_CACHE). Existing files are kept.

Shapes: 1b   = Llama-3.2-1B (dim 2048, 16 layers, 32 heads, 8 KV heads, ffn 8192, vocab 128256, tied)
        110m = a 110M-like Llama (dim 768, 12 layers, 12 heads, ffn 2048, vocab 32000, tied)

Speed does not depend on the values, so weights are uniform in [-0.04, 0.04) and norms are 1.
The GGUF keeps Hugging Face's q/k row order (llama.cpp's converter permutes them for its
rope layout): the outputs differ between the two programs, the work does not.

Quantized models (--quant q8_0,q4_0,q4_k_m,mlx4), made from the f16 ones (made first if missing):
    CACHE/<shape>-q8_0.gguf, <shape>-q4_0.gguf, ...  llama-quantize <shape>-f16.gguf ./out Q8_0 (Q4_0, Q4_K_M...);
                                                 both programs load these same files. (The output
                                                 path must not start with a digit: llama-quantize
                                                 would take "1b-..." for the type argument.)
                                                 Needs LLAMA_CPP_DIR (build/bin/llama-quantize).
    CACHE/<shape>-mlx4/                          llm convert --hf-path <shape>-f16 --mlx-path it
                                                 -q --q-bits 4 --q-group-size 64 (LLM_BIN, default
                                                 build/llm): MLX affine 4-bit, group 64, for llm.h;
                                                 compare.py sets it against llama.cpp's q4_0.

usage: make_models.py [--shapes 1b,110m] [--dtypes f16,bf16] [--quant q8_0,q4_0,mlx4] [--gguf/--no-gguf]
Needs numpy and gguf (pip install numpy gguf)."""
import argparse, json, os, struct, subprocess, sys, zlib
import numpy as np

SHAPES = {
    "1b":   dict(dim=2048, layers=16, heads=32, kv_heads=8, ffn=8192, vocab=128256, rope_theta=500000.0),
    "110m": dict(dim=768, layers=12, heads=12, kv_heads=12, ffn=2048, vocab=32000, rope_theta=10000.0),
}


def tensors(s):
    """(hf_name, gguf_name, shape) in file order; shapes are [out, in] like torch."""
    d, hd = s["dim"], s["dim"] // s["heads"]
    kv = s["kv_heads"] * hd
    yield "model.embed_tokens.weight", "token_embd.weight", (s["vocab"], d)
    for i in range(s["layers"]):
        p, g = f"model.layers.{i}.", f"blk.{i}."
        yield p + "input_layernorm.weight", g + "attn_norm.weight", (d,)
        yield p + "self_attn.q_proj.weight", g + "attn_q.weight", (d, d)
        yield p + "self_attn.k_proj.weight", g + "attn_k.weight", (kv, d)
        yield p + "self_attn.v_proj.weight", g + "attn_v.weight", (kv, d)
        yield p + "self_attn.o_proj.weight", g + "attn_output.weight", (d, d)
        yield p + "post_attention_layernorm.weight", g + "ffn_norm.weight", (d,)
        yield p + "mlp.gate_proj.weight", g + "ffn_gate.weight", (s["ffn"], d)
        yield p + "mlp.up_proj.weight", g + "ffn_up.weight", (s["ffn"], d)
        yield p + "mlp.down_proj.weight", g + "ffn_down.weight", (d, s["ffn"])
    yield "model.norm.weight", "output_norm.weight", (d,)


def values(name, shape, dtype):
    """The tensor's values in dtype ('f32', 'f16' or 'bf16' as uint16). Norms stay f32 in GGUF."""
    if len(shape) == 1:
        x = np.ones(shape, np.float32)
    else:
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        x = rng.random(shape, dtype=np.float32)
        x -= 0.5
        x *= 0.08
    if dtype == "f32":
        return x
    if dtype == "f16":
        return x.astype(np.float16)
    u = x.view(np.uint32)   # bf16: round to nearest even, keep the high half
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def write_safetensors(path, s, dtype):
    st = {"f32": ("F32", 4), "f16": ("F16", 2), "bf16": ("BF16", 2)}[dtype]
    header, off = {}, 0
    for hf, _, shape in tensors(s):
        n = int(np.prod(shape)) * st[1]
        header[hf] = {"dtype": st[0], "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for hf, _, shape in tensors(s):
            f.write(values(hf, shape, dtype).tobytes())
    os.replace(path + ".tmp", path)


def write_config(path, s):
    cfg = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": s["dim"],
        "intermediate_size": s["ffn"], "num_hidden_layers": s["layers"], "num_attention_heads": s["heads"],
        "num_key_value_heads": s["kv_heads"], "vocab_size": s["vocab"], "max_position_embeddings": 4096,
        "rms_norm_eps": 1e-5, "rope_theta": s["rope_theta"], "tie_word_embeddings": True, "hidden_act": "silu",
        "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32",
    }
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)


def write_gguf(path, s, dtype):
    import gguf
    w = gguf.GGUFWriter(path + ".tmp", "llama")
    w.add_name("bench-random")
    w.add_context_length(4096)
    w.add_embedding_length(s["dim"])
    w.add_block_count(s["layers"])
    w.add_feed_forward_length(s["ffn"])
    w.add_head_count(s["heads"])
    w.add_head_count_kv(s["kv_heads"])
    w.add_rope_dimension_count(s["dim"] // s["heads"])
    w.add_rope_freq_base(s["rope_theta"])
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(s["vocab"])
    w.add_tokenizer_model("no_vocab")
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if dtype == "f16" else gguf.LlamaFileType.MOSTLY_BF16)
    raw = gguf.GGMLQuantizationType.F16 if dtype == "f16" else gguf.GGMLQuantizationType.BF16
    for _, name, shape in tensors(s):
        if len(shape) == 1:
            w.add_tensor_info(name, shape, np.dtype(np.float32), int(np.prod(shape)) * 4)
        else:
            w.add_tensor_info(name, shape, np.dtype(np.float16 if dtype == "f16" else np.uint16),
                              int(np.prod(shape)) * 2, raw_dtype=raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for hf, _, shape in tensors(s):
        w.write_tensor_data(values(hf, shape, "f32" if len(shape) == 1 else dtype))
    w.close()
    os.replace(path + ".tmp", path)


def make_quantized(cache, shape, q):
    """<shape>-q8_0.gguf / -q4_0.gguf with llama-quantize, <shape>-mlx4 with llm convert."""
    f16 = os.path.join(cache, f"{shape}-f16")
    if q == "mlx4":
        out = os.path.join(cache, f"{shape}-mlx4")
        if not os.path.exists(out):
            print(f"writing {out}", file=sys.stderr)
            subprocess.run([os.environ.get("LLM_BIN", "build/llm"), "convert", "--hf-path", f16, "--mlx-path", out, "-q",
                            "--q-bits", "4", "--q-group-size", "64"], check=True)
        return
    out = os.path.join(cache, f"{shape}-{q}.gguf")
    if os.path.exists(out):
        return
    tool = os.path.join(os.environ.get("LLAMA_CPP_DIR", ""), "build/bin/llama-quantize")
    if not os.path.exists(tool):
        sys.exit(f"{out}: needs llama-quantize (set LLAMA_CPP_DIR to a llama.cpp build)")
    print(f"writing {out}", file=sys.stderr)
    tmp = os.path.join(cache, f"tmp-{shape}-{q}.gguf")   # not "1b-...": see the docstring
    subprocess.run([tool, f16 + ".gguf", tmp, q.upper()], check=True, stdout=subprocess.DEVNULL)
    os.replace(tmp, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", default="1b,110m")
    ap.add_argument("--dtypes", default="f16,bf16")
    ap.add_argument("--quant", default="", help="also q8_0, q4_0, mlx4 (from f16)")
    ap.add_argument("--gguf", action=argparse.BooleanOptionalAction, default=True)
    a = ap.parse_args()
    quant = [q for q in a.quant.split(",") if q]
    if quant and "f16" not in a.dtypes.split(","):
        a.dtypes += ",f16"
    cache = os.environ.get("LLM_BENCH_CACHE", os.path.expanduser("~/.cache/llm.h/bench"))
    for shape in a.shapes.split(","):
        s = SHAPES[shape]
        for dtype in a.dtypes.split(","):
            d = os.path.join(cache, f"{shape}-{dtype}")
            os.makedirs(d, exist_ok=True)
            write_config(os.path.join(d, "config.json"), s)
            st = os.path.join(d, "model.safetensors")
            if not os.path.exists(st):
                print(f"writing {st}", file=sys.stderr)
                write_safetensors(st, s, dtype)
            g = os.path.join(cache, f"{shape}-{dtype}.gguf")
            if a.gguf and dtype in ("f16", "bf16") and not os.path.exists(g):
                print(f"writing {g}", file=sys.stderr)
                write_gguf(g, s, dtype)
        for q in quant:
            make_quantized(cache, shape, q)


if __name__ == "__main__":
    main()
