"""Differential test against Hugging Face tokenizers: random texts made of tricky pieces
(contractions, digits, scripts, emoji, special-token look-alikes, blanks) are encoded with
add_special_tokens=True and decoded by both; prints the mismatches.
    python3 tests/bench/tokenizer_diff.py TOKENIZER.json [N_TEXTS] [SEED]
Needs: pip install tokenizers; builds build/tokenizer_diff from tokenizer_diff.c."""
import os, random, subprocess, sys
from tokenizers import Tokenizer

path = sys.argv[1]
n_texts = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
random.seed(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
subprocess.run("make -s llm.h && mkdir -p build && cc -O2 -std=c11 -I. tests/bench/tokenizer_diff.c -o build/tokenizer_diff"
               " -lutf8proc -lzstd -lcjson -lpthread -lm", shell=True, check=True)
pieces = (["hello", "world", "the", "HELLO", "<mask>", " <mask> ", "ab", "XY", "D"] + list("abcXYZ  \n\t'sdllve.,!?-_0123456789<>|/")
          + ["é", "ß", "日本", "😀", "\u200b", "\xa0", "İ", "ǅ", "ﬁ", "Å", "\u0301", "  ", "\n\n", "'S", "'LL", "<s>", "</s>",
             "<|endoftext|>", "<|im_start|>", "<start_of_turn>", "<bos>", "▁", "Ġ", "\r\n", "١٢٣", "Ⅻ", "½"])
texts = ["".join(random.choice(pieces) for _ in range(random.randint(0, 25))) for _ in range(n_texts)]
out = subprocess.run(["build/tokenizer_diff", path, "1"], input=("\0".join(texts) + "\0").encode(),
                     capture_output=True, check=True).stdout.decode().split("\n")
tok = Tokenizer.from_file(path)
bad = 0
for text, line in zip(texts, out):
    ids_s, dec_hex = line.split("\t")
    got = [int(x) for x in ids_s.split()]
    want = tok.encode(text, add_special_tokens=True).ids
    got_text, want_text = bytes.fromhex(dec_hex).decode("utf-8", "replace"), tok.decode(want, skip_special_tokens=False)
    if got != want or got_text != want_text:
        bad += 1
        if bad <= 5: print("MISMATCH", repr(text), got, want, repr(got_text), repr(want_text))
print(f"{path}: {bad} mismatches in {len(texts)} texts")
sys.exit(1 if bad else 0)
