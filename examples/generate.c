/* generate.c - load a model, run a prompt, decode greedily, free. The smallest complete
   program on llm.h.

   What you will learn: the five calls of the happy path (load a model and its tokenizer,
   create a session, tokenize, generate), how errors are reported, who frees what.

   Build:  cc -O2 -march=native -I. examples/generate.c -o generate -lutf8proc -lzstd -lcjson -lpthread -lm
   Run:    ./generate ../shared/fixtures/models/stories260K/stories260K.bin \
                      ../shared/fixtures/models/stories260K/tok512.bin "Once upon a time"
   Output: Once upon a time, there was a little girl named Lily. She loved to play ... */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every fallible call returns a status; llm_last_error() says what went wrong and where. */
static void check(llm_status s, const char *what) {
    if (s == LLM_OK) return;
    fprintf(stderr, "%s: %s\n", what, llm_last_error());
    exit(1);
}

/* Called with each piece of text as soon as it is final. */
static bool print_piece(const llm_gen_token *t, void *user) {
    (void)user;
    fwrite(t->text, 1, t->text_len, stdout);
    fflush(stdout);
    return true;   /* false would stop generating */
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL TOKENIZER [PROMPT]\n", argv[0]);
        return 2;
    }
    const char *prompt = argc > 3 ? argv[3] : "Once upon a time";

    /* 1. The weights: memory-mapped, used in place. A HF directory works the same way. */
    llm_model *model;
    check(llm_model_load(argv[1], NULL, &model), "loading the model");

    /* 2. The tokenizer: here llama2.c's tokenizer.bin; tokenizer.json directories work too. */
    llm_tokenizer *tok;
    check(llm_tokenizer_load(argv[2], &tok), "loading the tokenizer");

    /* 3. A session: the KV cache and a thread pool (NULL desc: defaults). */
    llm_session *session;
    check(llm_session_create(model, NULL, &session), "creating a session");

    /* 4. Text to token ids, with the BOS token the model expects. */
    llm_token ids[256];
    int64_t n_ids;
    check(llm_tokenize(tok, prompt, strlen(prompt), true, ids, 256, &n_ids), "tokenizing");
    if (n_ids > 256) { fprintf(stderr, "prompt too long\n"); return 1; }

    /* 5. Generate: a zeroed sampler is greedy decoding; text streams through the callback. */
    llm_generate_params params = { .max_tokens = 100, .on_token = print_piece };
    printf("%s", prompt);
    check(llm_generate(session, tok, ids, n_ids, &params, NULL), "generating");
    printf("\n");

    /* Whoever creates, frees. */
    llm_session_destroy(session);
    llm_tokenizer_free(tok);
    llm_model_free(model);
    return 0;
}
