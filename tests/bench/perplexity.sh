#!/bin/sh
# Quantization quality on one real model: perplexity of SmolLM2-135M-Instruct (its Q4_1 GGUF
# from PyPI, dequantized to f16 by llama-quantize: the common float baseline) quantized both ways,
# MLX affine by `llm convert -q` and ggml types by llama-quantize, each scored by `llm perplexity`
# (windows of 512 tokens, every token but each window's first scored) and, for the GGUF files,
# also by llama.cpp's llama-perplexity (its own protocol: the second half of each window).
# MLX files are also scored by mlx_lm when MLX_PYTHON names a python with mlx-lm installed.
#   LLAMA_CPP_DIR=/path/to/llama.cpp [MLX_PYTHON=python] sh tests/bench/perplexity.sh [text file]
# Needs build/llm, llama.cpp's llama-quantize and llama-perplexity, python3 with gguf and numpy,
# and the model (sh tests/tools/fetch_models.sh). Files go to ~/.cache/llm.h/ppl.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
text=${1:-/usr/share/common-licenses/GPL-3}
L=$root/build/llm
B=${LLAMA_CPP_DIR:?set LLAMA_CPP_DIR to a llama.cpp build}/build/bin
src=${LLM_MODELS:-$HOME/.cache/llm.h/models}/SmolLM2-135M-Instruct.Q4_1.gguf
out=$HOME/.cache/llm.h/ppl
mkdir -p "$out" && cd "$out"
[ -f smol-f16.gguf ] || "$B/llama-quantize" --allow-requantize "$src" smol-f16.gguf f16 >/dev/null 2>&1
for t in q8_0 q4_k_m q4_0; do [ -f smol-$t.gguf ] || "$B/llama-quantize" smol-f16.gguf smol-$t.gguf $t >/dev/null 2>&1; done
[ -d smol-bf16 ] || python3 "$root/tests/bench/gguf_to_hf.py" smol-f16.gguf smol-bf16
for q in 8:64 4:32 4:64 3:64; do
    d=smol-mlx${q%:*}g${q#*:}
    [ -d $d ] || "$L" convert --hf-path smol-bf16 --mlx-path $d -q --q-bits ${q%:*} --q-group-size ${q#*:} >/dev/null
done
"$L" tokenize -m smol-f16.gguf -f "$text" --add-special --json > ids.json
for m in smol-f16.gguf smol-bf16 smol-mlx8g64 smol-q8_0.gguf smol-mlx4g32 smol-mlx4g64 smol-q4_k_m.gguf smol-q4_0.gguf "$src" smol-mlx3g64; do
    case $m in *.gguf) tok="" ;; *) tok="--tokenizer smol-f16.gguf" ;; esac
    printf '%-20s llm.h      %s\n' "$(basename "$m")" "$("$L" perplexity --model "$m" $tok -f "$text" | tail -n 1)"
    case $m in
    *.gguf) printf '%-20s llama.cpp  %s\n' "$(basename "$m")" "$("$B/llama-perplexity" -m "$m" -f "$text" -c 512 2>&1 | grep 'Final estimate')" ;;
    *) [ -z "${MLX_PYTHON:-}" ] || printf '%-20s mlx_lm     %s\n' "$m" "$("$MLX_PYTHON" "$root/tests/bench/mlx_perplexity.py" "$m" ids.json)" ;;
    esac
done
