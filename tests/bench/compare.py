#!/usr/bin/env python3
"""Side-by-side speed of llm.h (`llm bench`) and llama.cpp (`llama-bench`) on the same
random-weight models (make them first with tests/bench/make_models.py), plus the decode
roofline from tests/bench/membw.c.

For every shape, dtype and thread count it runs, interleaved so both programs see the same
machine load: llm pp, llama.cpp pp, llm tg, llama.cpp tg. It prints tokens/s (mean ± stddev
over -r reps), the ratio llm/llama.cpp, and for tg the fraction of the roofline
(read bandwidth / model bytes per token).

  LLAMA_CPP_DIR   llama.cpp checkout with build/bin/llama-bench (else llama.cpp is skipped)
  LLM_BIN         the llm binary (default build/llm), MEMBW_BIN (default build/membw)
  LLM_BENCH_CACHE where the models are (default ~/.cache/llm.h/bench)

Dtypes: f16, bf16 (llm.h reads the HF dir, llama.cpp the .gguf made from it); q8_0, q4_0,
q4_k_m and the other llama-quantize types (both read the same <shape>-<dtype>.gguf); mlx4 (llm.h reads the MLX 4-bit group-64 dir
<shape>-mlx4, compared with llama.cpp on <shape>-q4_0.gguf). make_models.py says how each is made.

usage: compare.py [--shapes 110m,1b] [--dtypes f16,bf16,q8_0,q4_0,q4_k_m,mlx4] [--threads 1,2] [-r 3] [-p 512] [-n 128] [--json FILE]"""
import argparse, json, os, subprocess, sys


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return out


def llm_bench(binary, model, p, n, reps, threads):
    rows = [json.loads(l) for l in run_json([binary, "bench", "-m", model, "-p", str(p), "-n", str(n), "-r", str(reps),
                                             "-t", str(threads), "--json"]).splitlines() if l.startswith("{")]
    tests = {r["test"]: (r["tps_mean"], r["tps_stddev"]) for r in rows if "test" in r}
    info = next(r for r in rows if "load_s" in r)
    return tests, info


def llama_bench(binary, model, p, n, reps, threads):
    rows = json.loads(run_json([binary, "-m", model, "-p", str(p), "-n", str(n), "-r", str(reps), "-t", str(threads),
                                "-o", "json"]))
    return {("pp%d" % r["n_prompt"]) if r["n_prompt"] else ("tg%d" % r["n_gen"]): (r["avg_ts"], r["stddev_ts"]) for r in rows}


def model_files(cache, shape, dtype):
    """(what llm.h loads, what llama.cpp loads, the bytes one token reads) or None when missing."""
    gg = os.path.join(cache, f"{shape}-{'q4_0' if dtype == 'mlx4' else dtype}.gguf")
    if dtype.startswith("q"):   # q8_0, q4_0, q4_k_m, ...: llama-quantize's files, read by both
        return (gg, gg, os.path.getsize(gg)) if os.path.exists(gg) else None
    d = os.path.join(cache, f"{shape}-{dtype}")
    st = [os.path.join(d, f) for f in os.listdir(d) if f.endswith(".safetensors")] if os.path.isdir(d) else []
    return (d, gg, sum(os.path.getsize(f) for f in st)) if st else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", default="110m,1b")
    ap.add_argument("--dtypes", default="f16,bf16")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("-r", type=int, default=3)
    ap.add_argument("-p", type=int, default=512)
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("--json", help="also write the results to this file")
    a = ap.parse_args()
    cache = os.environ.get("LLM_BENCH_CACHE", os.path.expanduser("~/.cache/llm.h/bench"))
    llm = os.environ.get("LLM_BIN", "build/llm")
    membw = os.environ.get("MEMBW_BIN", "build/membw")
    lcpp_dir = os.environ.get("LLAMA_CPP_DIR")
    lcpp = None
    if lcpp_dir:
        for c in ("build/bin/llama-bench", "llama-bench", "bin/llama-bench"):
            if os.path.exists(os.path.join(lcpp_dir, c)):
                lcpp = os.path.join(lcpp_dir, c)
    if not lcpp:
        print("llama.cpp: not found (set LLAMA_CPP_DIR to a checkout with build/bin/llama-bench); llm.h only", file=sys.stderr)
    results = []
    print(f"{'model':10} {'thr':>3} {'test':>6} {'llm.h t/s':>17} {'llama.cpp t/s':>17} {'ratio':>6} {'roofline':>8}")
    for threads in [int(t) for t in a.threads.split(",")]:
        for shape in a.shapes.split(","):
            for dtype in a.dtypes.split(","):
                files = model_files(cache, shape, dtype)
                if not files:
                    print(f"{shape}-{dtype}: missing (run tests/bench/make_models.py)", file=sys.stderr)
                    continue
                mine_path, gg, bytes_per_tok = files
                peak = 0
                for test, p, n in (("pp", a.p, 0), ("tg", 0, a.n)):
                    name = f"{test}{p or n}"
                    mine, info = llm_bench(llm, mine_path, p, n, a.r, threads)
                    theirs = llama_bench(lcpp, gg, p, n, a.r, threads) if lcpp and os.path.exists(gg) else {}
                    bw = None   # the roofline: read bandwidth measured right after, under the same load
                    if test == "tg" and os.path.exists(membw):
                        bw = json.loads(run_json([membw, str(threads), "1024", "5"]))["read_gbs"]
                    m, t = mine[name], theirs.get(name)
                    peak = max(peak, info["peak_rss_mib"])
                    ratio = m[0] / t[0] if t else None
                    roof = m[0] * bytes_per_tok / (bw * 1e9) if bw and test == "tg" else None
                    results.append(dict(model=f"{shape}-{dtype}", threads=threads, test=name, llm=m, llama_cpp=t, ratio=ratio,
                                        roofline_fraction=roof, load_s=info["load_s"], peak_rss_mib=info["peak_rss_mib"],
                                        model_mib=bytes_per_tok / 2**20, read_gbs=bw))
                    print(f"{shape + '-' + dtype:10} {threads:3} {name:>6} {m[0]:9.2f} ± {m[1]:5.2f} "
                          + (f"{t[0]:9.2f} ± {t[1]:5.2f} {ratio:6.2f}" if t else f"{'-':>17} {'-':>6}")
                          + (f" {roof:7.0%} of {bw:.1f} GB/s" if roof else ""), flush=True)
                print(f"{'':10} load {info['load_s']:.3f} s, peak RSS {peak:.0f} MiB (pp or tg) "
                      f"(model file {bytes_per_tok / 2**20:.0f} MiB)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
