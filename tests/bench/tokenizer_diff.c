/* Helper of tokenizer_diff.py: read NUL-separated texts on stdin, print for each one line
   "ids<TAB>hex of the decoded text". Usage: tokenizer_diff TOKENIZER [1 = add special tokens] */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include <stdio.h>

int main(int argc, char **argv) {
    llm_tokenizer *t;
    if (argc < 2 || llm_tokenizer_load(argv[1], &t)) { fprintf(stderr, "%s\n", llm_last_error()); return 1; }
    bool special = argc > 2 && argv[2][0] == '1';
    llm__buf in = { 0 };
    char chunk[65536];
    for (size_t got; (got = fread(chunk, 1, sizeof chunk, stdin)) > 0;) llm__buf_put(&in, chunk, got);
    for (size_t at = 0; at < in.len;) {
        size_t len = strlen(in.data + at);
        int64_t n = 0;
        llm_tokenize(t, in.data + at, len, special, NULL, 0, &n);
        llm_token *ids = (llm_token *)malloc((size_t)(n + 1) * sizeof *ids);
        llm_tokenize(t, in.data + at, len, special, ids, n, &n);
        for (int64_t i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        int64_t m = llm_detokenize(t, ids, n, false, NULL, 0);
        char *text = (char *)malloc((size_t)m + 1);
        llm_detokenize(t, ids, n, false, text, m + 1);
        printf("\t");
        for (int64_t i = 0; i < m; i++) printf("%02x", (unsigned char)text[i]);
        printf("\n");
        free(text);
        free(ids);
        at += len + 1;
    }
    llm__buf_free(&in);
    llm_tokenizer_free(t);
    return 0;
}
