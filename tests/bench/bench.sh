#!/bin/sh
# The whole CPU benchmark in one go (see issue 6):
#   1. build the llm CLI and the bandwidth probe,
#   2. make the random-weight models once (HF safetensors + GGUF, ~7 GB for both shapes),
#   3. run llm bench and llama-bench side by side (compare.py; llama.cpp only when
#      LLAMA_CPP_DIR points at a checkout with build/bin/llama-bench).
# Build llama.cpp outside the repo, e.g.:
#   cmake -B build -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF
#   cmake --build build --target llama-bench -j2
# Usage: sh tests/bench/bench.sh [compare.py flags, e.g. --shapes 110m --threads 1,2 -r 3]
# Needs python3 with numpy and gguf (pip install numpy gguf).
set -e
BUILD=${BUILD:-build}
make -s "$BUILD/llm"
${CC:-cc} -O3 -march=native -Wall -Wextra -o "$BUILD/membw" tests/bench/membw.c -lpthread
python3 tests/bench/make_models.py
LLM_BIN="$BUILD/llm" MEMBW_BIN="$BUILD/membw" python3 tests/bench/compare.py "$@"
