#!/bin/sh
# Tokenization throughput of llm.h vs Hugging Face tokenizers (single-threaded) on one
# large mixed text (English prose, source code, the multilingual fixture cases), and a
# check that both produce the same ids.
#   sh tests/bench/tokenizer_bench.sh [TOKENIZER_DIR] [SIZE_MB]
# Needs: pip install tokenizers. Default tokenizer: the llama3 fixture.
set -eu
FIX=${LLM_FIXTURES:-../shared/fixtures}
TOK=${1:-$FIX/tokenizers/llama3}
MB=${2:-8}
BUILD=${BUILD:-build}
CORPUS=$BUILD/bench_corpus.txt
mkdir -p "$BUILD"
make -s llm.h
${CC:-cc} -O2 -march=native -std=c11 -I. tests/bench/tokenizer_bench.c -o "$BUILD/tokenizer_bench" -lutf8proc -lzstd -lcjson -lpthread -lm

# corpus: licenses (prose), C and Python sources (code), fixture cases (15 scripts, emoji)
python3 - "$CORPUS" "$MB" "$FIX" <<'PY'
import glob, json, os, sys
out, mb, fix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
parts = []
for pat in ["/usr/share/common-licenses/*", "llm_impl/*.c", os.path.dirname(json.__file__) + "/*.py",
            os.path.dirname(glob.__file__) + "/email/*.py"]:
    for f in sorted(glob.glob(pat)):
        try: parts.append(open(f, encoding="utf-8").read())
        except (UnicodeDecodeError, IsADirectoryError): pass
for name in ["llama3", "qwen3", "gemma3", "llama2"]:
    parts += [c["text"] for c in json.load(open(f"{fix}/tokenizers/{name}/cases.json"))["cases"]]
text, block = "", "\n".join(parts)
while len(text.encode()) < mb * 1_000_000: text += block + "\n"
open(out, "w", encoding="utf-8").write(text)
PY

"$BUILD/tokenizer_bench" "$TOK" "$CORPUS" 3 --ids > "$BUILD/bench_ids_llm.txt"
RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false python3 - "$TOK" "$CORPUS" "$BUILD/bench_ids_hf.txt" <<'PY'
import os, sys, time
from tokenizers import Tokenizer
tok_path, corpus, out = sys.argv[1:]
if os.path.isdir(tok_path): tok_path = os.path.join(tok_path, "tokenizer.json")
t0 = time.perf_counter(); tok = Tokenizer.from_file(tok_path); load = time.perf_counter() - t0
text = open(corpus, encoding="utf-8").read()
n = len(text.encode())
best = best_docs = 1e30
docs = text.split("\n\n")
for _ in range(3):
    t0 = time.perf_counter(); ids = tok.encode(text, add_special_tokens=False).ids; best = min(best, time.perf_counter() - t0)
for _ in range(3):
    t0 = time.perf_counter()
    doc_ids = [i for e in tok.encode_batch(docs, add_special_tokens=False) for i in e.ids]
    best_docs = min(best_docs, time.perf_counter() - t0)
print(f"HF tokenizers: load {load:.3f} s, {n} bytes -> {len(ids)} tokens, best of 3: {best:.3f} s = {n / best / 1e6:.2f} MB/s", file=sys.stderr)
print(f"HF tokenizers: as {len(docs)} documents -> {len(doc_ids)} tokens, best of 3: {best_docs:.3f} s = {n / best_docs / 1e6:.2f} MB/s", file=sys.stderr)
open(out, "w").write("".join(f"{i}\n" for i in ids + doc_ids))
PY
if cmp -s "$BUILD/bench_ids_llm.txt" "$BUILD/bench_ids_hf.txt"; then echo "ids: identical"; else echo "ids: DIFFER"; fi
