#!/usr/bin/env python3
"""A llama-architecture GGUF (F32/F16/BF16 tensors, e.g. dequantized with
`llama-quantize --allow-requantize in.gguf out.gguf f16`) as a Hugging Face directory:
model.safetensors with transformers' names (Wq/Wk rows un-permuted back to rotate-half) and
config.json. No tokenizer files: give the GGUF as the tokenizer (`llm perplexity --tokenizer
file.gguf`). Used by tests/bench/perplexity.sh to quantize one real model both ways
(MLX affine through `llm convert -q`, ggml types through llama-quantize).
    python3 tests/bench/gguf_to_hf.py model-f16.gguf out_dir [--dtype bfloat16|float16|float32]"""
import argparse, json, os
import numpy as np
from gguf import GGUFReader


def field(r, key, default=None):
    f = r.fields.get(key)
    if f is None:
        return default
    v = f.parts[f.data[0]]
    return v.tobytes().decode() if v.dtype == np.uint8 else v[0].item()


def unpermute(w, n_head):
    """Undo convert_hf_to_gguf.py's LlamaModel.permute: rows (i, j) of each head -> (j, i)."""
    rows, cols = w.shape
    return w.reshape(n_head, rows // n_head // 2, 2, cols).swapaxes(1, 2).reshape(rows, cols)


NAMES = {"attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm", "attn_q": "self_attn.q_proj",
         "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
         "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}


def write_safetensors(path, tensors, dtype):
    """The safetensors layout (u64 header size, JSON header, data), bf16 rounded to nearest even by hand (numpy has no bfloat16)."""
    blobs, header, at = [], {"__metadata__": {"format": "pt"}}, 0
    for name, w in tensors.items():
        if dtype == "bfloat16":
            u = w.astype(np.float32).view(np.uint32)
            b = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16).tobytes()
        else:
            b = w.astype(np.float16 if dtype == "float16" else np.float32).tobytes()
        code = {"bfloat16": "BF16", "float16": "F16", "float32": "F32"}[dtype]
        header[name] = {"dtype": code, "shape": list(w.shape), "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little") + h)
        for b in blobs:
            f.write(b)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("gguf")
    ap.add_argument("out")
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    a = ap.parse_args()
    r = GGUFReader(a.gguf)
    arch = field(r, "general.architecture")
    assert arch == "llama", f"{a.gguf}: architecture {arch}, only llama is handled"
    hp = lambda k, d=None: field(r, f"llama.{k}", d)
    n_head, n_kv = hp("attention.head_count"), hp("attention.head_count_kv", hp("attention.head_count"))
    out = {}
    for t in r.tensors:
        w = np.array(t.data)
        if t.tensor_type.name not in ("F32", "F16", "BF16"):
            raise SystemExit(f"{a.gguf}: {t.name} is {t.tensor_type.name}; dequantize to f16 first")
        w = w.reshape([int(x) for x in reversed(t.shape)]).astype(np.float32)
        parts = t.name.split(".")
        if t.name == "token_embd.weight": name = "model.embed_tokens.weight"
        elif t.name == "output_norm.weight": name = "model.norm.weight"
        elif t.name == "output.weight": name = "lm_head.weight"
        elif parts[0] == "blk": name = f"model.layers.{parts[1]}.{NAMES[parts[2]]}.{parts[3]}"
        else: continue   # rope_freqs and the like
        if parts[-2] in ("attn_q", "attn_k"): w = unpermute(w, n_head if parts[-2] == "attn_q" else n_kv)
        out[name] = w
    os.makedirs(a.out, exist_ok=True)
    write_safetensors(os.path.join(a.out, "model.safetensors"), out, a.dtype)
    emb = out["model.embed_tokens.weight"]
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": hp("embedding_length"),
           "intermediate_size": hp("feed_forward_length"), "num_hidden_layers": hp("block_count"),
           "num_attention_heads": n_head, "num_key_value_heads": n_kv, "vocab_size": emb.shape[0],
           "max_position_embeddings": hp("context_length", 2048), "rms_norm_eps": hp("attention.layer_norm_rms_epsilon", 1e-5),
           "rope_theta": hp("rope.freq_base", 10000.0), "tie_word_embeddings": "lm_head.weight" not in out,
           "bos_token_id": field(r, "tokenizer.ggml.bos_token_id"), "eos_token_id": field(r, "tokenizer.ggml.eos_token_id"),
           "torch_dtype": a.dtype, "hidden_act": "silu"}
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    print(f"{a.out}: {len(out)} tensors ({a.dtype})")


if __name__ == "__main__":
    main()
