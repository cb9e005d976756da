/* Tokenization throughput: load a tokenizer, encode a file N times, print MB/s and the ids
   (with --ids) so the caller can compare them with Hugging Face's. Two modes: the whole file
   as one text, and the file as documents (split at every "\n\n", like Python's split).
   cc -O2 -march=native -I. tests/bench/tokenizer_bench.c -o build/tokenizer_bench -lutf8proc -lzstd -lcjson -lpthread -lm */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include <stdio.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: tokenizer_bench TOKENIZER FILE [REPEATS] [--ids]\n"); return 2; }
    int repeats = argc > 3 ? atoi(argv[3]) : 3;
    bool print_ids = argc > 4 && !strcmp(argv[4], "--ids");
    char *text = NULL;
    size_t len = 0;
    llm_tokenizer *t;
    double t0 = now_s();
    if (llm_tokenizer_load(argv[1], &t) || llm__read_file(NULL, argv[2], &text, &len)) { fprintf(stderr, "%s\n", llm_last_error()); return 1; }
    double load = now_s() - t0;
    int64_t n = 0, n_docs = 0, n_doc_ids = 0;
    llm_tokenize(t, text, len, false, NULL, 0, &n);
    llm_token *ids = (llm_token *)malloc((size_t)(n + len + 1) * sizeof *ids);
    double best = 1e30, best_docs = 1e30;
    for (int r = 0; r < repeats; r++) {
        t0 = now_s();
        llm_tokenize(t, text, len, false, ids, n, &n);
        double dt = now_s() - t0;
        if (dt < best) best = dt;
    }
    for (int r = 0; r < repeats; r++) {                    /* documents: ids go after the whole-text ids */
        t0 = now_s();
        n_docs = n_doc_ids = 0;
        for (size_t at = 0; at <= len; n_docs++) {
            const char *sep = strstr(text + at, "\n\n");
            size_t end = sep ? (size_t)(sep - text) : len;
            int64_t k;
            llm_tokenize(t, text + at, end - at, false, ids + n + n_doc_ids, (int64_t)len + 1 - n_doc_ids, &k);
            n_doc_ids += k;
            at = end + 2;
        }
        double dt = now_s() - t0;
        if (dt < best_docs) best_docs = dt;
    }
    fprintf(stderr, "llm.h: load %.3f s, %zu bytes -> %lld tokens, best of %d: %.3f s = %.2f MB/s\n", load, len, (long long)n,
            repeats, best, (double)len / best / 1e6);
    fprintf(stderr, "llm.h: as %lld documents -> %lld tokens, best of %d: %.3f s = %.2f MB/s\n", (long long)n_docs,
            (long long)n_doc_ids, repeats, best_docs, (double)len / best_docs / 1e6);
    if (print_ids) for (int64_t i = 0; i < n + n_doc_ids; i++) printf("%d\n", ids[i]);
    free(ids);
    llm__free(NULL, text);
    llm_tokenizer_free(t);
    return 0;
}
