/* cli.c - the `llm` command: one file over the public API of llm.h.
   Subcommands are named after mlx-lm's tools and take mlx-lm's flag names where one exists.
   Each subcommand lists its flags in a table; `llm CMD --help` prints that table, unknown
   flags and bad values exit with code 2. The library never reads the environment; this
   file maps LLM_THREADS and -t to the thread count.
   Build: cc -O2 -march=native -I. cli/cli.c -o llm -lutf8proc -lzstd -lcjson -lpthread -lm */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

/* ---- flags ---- */

typedef enum { OPT_STR, OPT_INT, OPT_FLOAT, OPT_BOOL, OPT_LIST } opt_kind;

/* OPT_LIST collects every value up to the next flag: --extra-eos-token A B; repeatable. */
typedef struct { const char *v[64]; int n; } str_list;
typedef struct {
    const char *name, *alias;   /* "--max-tokens", "-m" (alias may be NULL) */
    opt_kind kind;
    void *dst;                  /* const char **, int *, double *, bool * */
    const char *help;
} cli_opt;

static void usage(const char *cmd, const char *summary, const cli_opt *opts, int n, FILE *f) {
    fprintf(f, "usage: llm %s [flags]\n  %s\n\nflags:\n", cmd, summary);
    for (int i = 0; i < n; i++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s%s", opts[i].name, opts[i].alias ? ", " : "", opts[i].alias ? opts[i].alias : "",
                 opts[i].kind == OPT_BOOL ? "" : opts[i].kind == OPT_STR ? " S" : opts[i].kind == OPT_INT ? " N" :
                 opts[i].kind == OPT_LIST ? " S [S ...]" : " X");
        fprintf(f, "  %-28s %s\n", left, opts[i].help);
    }
    fprintf(f, "  %-28s %s\n", "--help, -h", "show this help");
}

/* Parse argv (after the subcommand) into the table; exits 0 on --help, 2 on a bad flag. */
static void parse_flags(const char *cmd, const char *summary, const cli_opt *opts, int n, int argc, char **argv) {
    for (int a = 0; a < argc; a++) {
        const char *arg = argv[a];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) { usage(cmd, summary, opts, n, stdout); exit(0); }
        const cli_opt *o = NULL;
        for (int i = 0; i < n && !o; i++)
            if (!strcmp(arg, opts[i].name) || (opts[i].alias && !strcmp(arg, opts[i].alias))) o = &opts[i];
        if (!o) {
            fprintf(stderr, "llm %s: unknown flag '%s' (see llm %s --help)\n", cmd, arg, cmd);
            exit(2);
        }
        if (o->kind == OPT_BOOL) { *(bool *)o->dst = true; continue; }
        if (o->kind == OPT_LIST) {
            str_list *l = (str_list *)o->dst;
            int before = l->n;
            while (a + 1 < argc && strncmp(argv[a + 1], "--", 2) != 0 && l->n < 64) l->v[l->n++] = argv[++a];
            if (l->n == before) { fprintf(stderr, "llm %s: %s needs a value\n", cmd, arg); exit(2); }
            continue;
        }
        if (a + 1 >= argc) { fprintf(stderr, "llm %s: %s needs a value\n", cmd, arg); exit(2); }
        const char *v = argv[++a];
        char *end = NULL;
        errno = 0;
        if (o->kind == OPT_STR) { *(const char **)o->dst = v; continue; }
        if (o->kind == OPT_INT) {
            long x = strtol(v, &end, 10);
            if (errno || !*v || *end || x < -2147483647L || x > 2147483647L) goto bad;
            *(int *)o->dst = (int)x;
        } else {
            double x = strtod(v, &end);
            if (errno || !*v || *end) goto bad;
            *(double *)o->dst = x;
        }
        continue;
    bad:
        fprintf(stderr, "llm %s: bad value '%s' for %s\n", cmd, v, arg);
        exit(2);
    }
}

/* Exit with the library's message for a failed call. */
static void die(llm_status s, const char *what) {
    fprintf(stderr, "llm: %s: %s\n", what, *llm_last_error() ? llm_last_error() : llm_status_str(s));
    exit(1);
}

static int thread_count(int flag) {
    if (flag > 0) return flag;
    const char *env = getenv("LLM_THREADS");
    return env ? atoi(env) : 0;
}

/* ---- subcommands ---- */

/* "1,2,3" -> ids (malloc'd). Exits 2 on a malformed list. */
static llm_token *parse_ids(const char *cmd, const char *list, int64_t *out_n) {
    int64_t n = 1;
    for (const char *p = list; *p; p++) n += *p == ',';
    llm_token *ids = malloc((size_t)n * sizeof *ids);
    const char *p = list;
    for (int64_t i = 0; i < n; i++) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || end == p || v < 0 || v > 2147483647L || (*end && *end != ',')) {
            fprintf(stderr, "llm %s: bad token id list '%s'\n", cmd, list);
            exit(2);
        }
        ids[i] = (llm_token)v;
        p = end + (*end == ',');
    }
    *out_n = n;
    return ids;
}

static llm_model *load_model(const char *cmd, const char *path, const char *config) {
    if (!path) { fprintf(stderr, "llm %s: --model is required\n", cmd); exit(2); }
    llm_model *m;
    llm_model_desc md = { .config_file = config, .no_repack = getenv("LLM_NO_REPACK") != NULL };
    llm_status s = llm_model_load(path, &md, &m);
    if (s) die(s, "loading the model");
    return m;
}

static int argmax(const float *x, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return (int)best;
}

/* ---- text in, text out: tokenizer, chat template, prompt ---- */

/* Growable byte buffer. */
typedef struct { char *p; size_t n, cap; } buf_t;
static void buf_add(buf_t *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) { fprintf(stderr, "llm: out of memory\n"); exit(1); }
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void buf_str(buf_t *b, const char *s) { buf_add(b, s, strlen(s)); }

/* Append s as a JSON string literal. */
static void buf_json_str(buf_t *b, const char *s) {
    buf_str(b, "\"");
    for (; *s; s++) {
        char esc[8];
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') { esc[0] = '\\'; esc[1] = (char)c; buf_add(b, esc, 2); }
        else if (c == '\n') buf_str(b, "\\n");
        else if (c == '\t') buf_str(b, "\\t");
        else if (c == '\r') buf_str(b, "\\r");
        else if (c < 0x20) { snprintf(esc, sizeof esc, "\\u%04x", c); buf_str(b, esc); }
        else buf_add(b, (const char *)&c, 1);
    }
    buf_str(b, "\"");
}

/* A chat message list as JSON: [{"role": ..., "content": ...}, ...]. */
typedef struct { buf_t json; int n; } messages_t;
static void messages_add(messages_t *m, const char *role, const char *content) {
    if (m->n == 0) buf_str(&m->json, "[");
    else m->json.n--;                                   /* drop the closing ] */
    buf_str(&m->json, m->n ? ", {\"role\": " : "{\"role\": ");
    buf_json_str(&m->json, role);
    buf_str(&m->json, ", \"content\": ");
    buf_json_str(&m->json, content);
    buf_str(&m->json, "}]");
    m->n++;
}

static llm_token *tokenize_all(const llm_tokenizer *tok, const char *text, size_t len, bool add_special, int64_t *out_n) {
    int64_t n = 0;
    llm_status s = llm_tokenize(tok, text, len, add_special, NULL, 0, &n);
    if (s) die(s, "tokenizing");
    llm_token *ids = malloc((size_t)(n + 1) * sizeof *ids);
    if ((s = llm_tokenize(tok, text, len, add_special, ids, n, &n))) die(s, "tokenizing");
    *out_n = n;
    return ids;
}

/* The tokenizer lives next to the weights unless --tokenizer says otherwise; a llama2.c
   checkpoint looks for tokenizer.bin beside it. */
static llm_tokenizer *load_tokenizer(const char *model_path, const char *tok_path) {
    char guess[4096];
    size_t n = strlen(model_path);
    if (!tok_path && n > 4 && !strcmp(model_path + n - 4, ".bin")) {
        const char *slash = strrchr(model_path, '/');
        snprintf(guess, sizeof guess, "%.*s%stokenizer.bin", slash ? (int)(slash - model_path) : 0, model_path, slash ? "/" : "");
        tok_path = guess;
    }
    llm_tokenizer *tok;
    llm_status s = llm_tokenizer_load(tok_path ? tok_path : model_path, &tok);
    if (s) die(s, "loading the tokenizer (for a llama2.c model, pass --tokenizer)");
    return tok;
}

/* ---- logits: one prefill, every position's logits to a safetensors file ---- */
static int cmd_logits(int argc, char **argv) {
    const char *model = NULL, *ids_arg = NULL, *out = NULL, *config = NULL;
    int threads = 0;
    cli_opt opts[] = {
        { "--model", NULL, OPT_STR, &model, "model directory, .safetensors, or llama2.c .bin" },
        { "--ids", NULL, OPT_STR, &ids_arg, "prompt token ids, comma separated (required)" },
        { "--output", "-o", OPT_STR, &out, "write an f32 tensor 'logits' [n, vocab] to this safetensors file" },
        { "--config", NULL, OPT_STR, &config, "config file name in the model directory (default config.json)" },
        { "--threads", "-t", OPT_INT, &threads, "threads (default: $LLM_THREADS or all cores)" },
    };
    const char *summary = "run the prompt in one prefill and print the top-5 of the last row";
    parse_flags("logits", summary, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (!ids_arg) { fprintf(stderr, "llm logits: --ids is required\n"); return 2; }
    int64_t n;
    llm_token *ids = parse_ids("logits", ids_arg, &n);
    llm_model *m = load_model("logits", model, config);
    int64_t V = llm_model_get_info(m)->n_vocab;
    llm_session *s;
    llm_session_desc sd = { .n_ctx = n, .n_threads = thread_count(threads) };
    llm_status st = llm_session_create(m, &sd, &s);
    if (st) die(st, "creating a session");
    float *logits = malloc((size_t)(n * V) * sizeof *logits);
    if ((st = llm_session_eval(s, ids, n, logits))) die(st, "evaluating the prompt");
    if (out) {
        llm_tensor t = { .name = "logits", .dtype = LLM_DTYPE_F32, .n_dims = 2, .shape = { n, V }, .data = logits,
                         .n_bytes = (size_t)(n * V) * sizeof(float) };
        if ((st = llm_safetensors_write(out, &t, 1, NULL, 0))) die(st, "writing the logits");
    }
    float *last = logits + (n - 1) * V;          /* the file is written: the row can be consumed */
    for (int k = 0; k < 5 && k < V; k++) {
        int best = argmax(last, V);
        printf("%d %.6f\n", best, last[best]);
        last[best] = -INFINITY;
    }
    free(logits);
    free(ids);
    llm_session_destroy(s);
    llm_model_free(m);
    return 0;
}

/* ---- generate: continue a prompt ---- */

/* "id:bias,id:bias" -> pairs (malloc'd). */
static llm_logit_bias *parse_logit_bias(const char *arg, int32_t *out_n) {
    int32_t n = 1;
    for (const char *p = arg; *p; p++) n += *p == ',';
    llm_logit_bias *b = malloc((size_t)n * sizeof *b);
    const char *p = arg;
    for (int32_t i = 0; i < n; i++) {
        char *end;
        long id = strtol(p, &end, 10);
        if (end == p || *end != ':' || id < 0) goto bad;
        p = end + 1;
        double v = strtod(p, &end);
        if (end == p || (*end && *end != ',')) goto bad;
        b[i].token = (llm_token)id;
        b[i].bias = (float)v;
        p = end + (*end == ',');
    }
    *out_n = n;
    return b;
bad:
    fprintf(stderr, "llm generate: bad --logit-bias '%s' (want id:bias,id:bias)\n", arg);
    exit(2);
}

static char *read_stream(FILE *f) {
    buf_t b = { 0 };
    char chunk[65536];
    size_t got;
    buf_add(&b, "", 0);
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) buf_add(&b, chunk, got);
    return b.p;
}

typedef struct { bool print_ids; bool printed_any; } gen_out;

static volatile sig_atomic_t got_sigint;
static void on_sigint(int sig) { (void)sig; got_sigint = 1; }

static bool print_token(const llm_gen_token *t, void *user) {
    gen_out *o = user;
    if (o->print_ids) { if (t->token >= 0) printf("%s%d", o->printed_any ? " " : "", t->token); o->printed_any = true; }
    else fwrite(t->text, 1, t->text_len, stdout);
    fflush(stdout);
    return !got_sigint;
}

static double peak_rss_gb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0;
    while (f && fgets(line, sizeof line, f)) if (!strncmp(line, "VmHWM:", 6)) kb = atof(line + 6);
    if (f) fclose(f);
    return kb / (1024.0 * 1024.0);
}

/* The prompt as ids: given ids, or text through the chat template (unless there is none
   or --ignore-chat-template), with the system prompt and a prefilled response. */
typedef struct {
    const char *prompt, *ids, *system, *prefill, *template_kwargs;
    bool ignore_template;
} prompt_opts;

static llm_token *build_prompt(const char *model_path, const llm_tokenizer *tok, const prompt_opts *o, int64_t *out_n) {
    if (o->ids) return parse_ids("generate", o->ids, out_n);
    char *text = !strcmp(o->prompt, "-") ? read_stream(stdin) : strdup(o->prompt);
    llm_chat_template *tpl = NULL;
    if (!o->ignore_template && llm_chat_template_load(model_path, NULL, &tpl) != LLM_OK) tpl = NULL;
    if (!tpl) {                                        /* a base model: the text itself, with BOS */
        llm_token *ids = tokenize_all(tok, text, strlen(text), true, out_n);
        free(text);
        return ids;
    }
    messages_t m = { 0 };
    if (o->system) messages_add(&m, "system", o->system);
    messages_add(&m, "user", text);
    char *rendered;
    size_t len;
    llm_status s = llm_chat_template_render(tpl, m.json.p, NULL, true, o->template_kwargs, &rendered, &len);
    if (s) die(s, "applying the chat template");
    buf_t full = { 0 };
    buf_add(&full, rendered, len);
    if (o->prefill) buf_str(&full, o->prefill);      /* the answer starts with this text */
    llm_token *ids = tokenize_all(tok, full.p, full.n, false, out_n);
    llm_free(rendered);
    free(full.p);
    free(m.json.p);
    free(text);
    llm_chat_template_free(tpl);
    return ids;
}

/* Sampling and stopping flags, shared by generate and chat. */
typedef struct {
    int max_tokens, top_k, min_keep, seed, rep_ctx, pres_ctx, freq_ctx;
    double temp, top_p, min_p, xtc_p, xtc_t, rep, pres, freq;
    const char *logit_bias;
    str_list extra_eos, stops;
    llm_token eos_ids[64], protect[100];
} sample_flags;

#define SAMPLE_FLAGS_DEFAULT { .max_tokens = 100, .min_keep = 1, .seed = -1, .rep_ctx = 20, .pres_ctx = 20, .freq_ctx = 20, .top_p = 1.0 }
#define SAMPLE_OPTS(f)                                                                                              \
    { "--max-tokens", "-m", OPT_INT, &(f).max_tokens, "tokens to generate (default 100)" },                        \
    { "--temp", NULL, OPT_FLOAT, &(f).temp, "sampling temperature (default 0: greedy)" },                          \
    { "--top-p", NULL, OPT_FLOAT, &(f).top_p, "nucleus sampling: keep this much probability mass (default 1: off)" }, \
    { "--top-k", NULL, OPT_INT, &(f).top_k, "keep the k most likely tokens (default 0: off)" },                    \
    { "--min-p", NULL, OPT_FLOAT, &(f).min_p, "keep tokens at least this fraction as likely as the best (default 0)" }, \
    { "--min-tokens-to-keep", NULL, OPT_INT, &(f).min_keep, "min-p keeps at least this many tokens (default 1)" }, \
    { "--xtc-probability", NULL, OPT_FLOAT, &(f).xtc_p, "chance per token of excluding top choices (default 0)" }, \
    { "--xtc-threshold", NULL, OPT_FLOAT, &(f).xtc_t, "probability a token needs to be excluded by XTC" },       \
    { "--repetition-penalty", NULL, OPT_FLOAT, &(f).rep, "penalize repeated tokens (> 1; default off)" },         \
    { "--repetition-context-size", NULL, OPT_INT, &(f).rep_ctx, "tokens the repetition penalty looks back (20)" }, \
    { "--presence-penalty", NULL, OPT_FLOAT, &(f).pres, "subtract from tokens already present (default 0)" },    \
    { "--presence-context-size", NULL, OPT_INT, &(f).pres_ctx, "tokens the presence penalty looks back (20)" },  \
    { "--frequency-penalty", NULL, OPT_FLOAT, &(f).freq, "subtract per occurrence (default 0)" },                \
    { "--frequency-context-size", NULL, OPT_INT, &(f).freq_ctx, "tokens the frequency penalty looks back (20)" }, \
    { "--logit-bias", NULL, OPT_STR, &(f).logit_bias, "id:bias,id:bias added to the logits" },                   \
    { "--seed", NULL, OPT_INT, &(f).seed, "random seed (default: from the clock)" },                             \
    { "--extra-eos-token", NULL, OPT_LIST, &(f).extra_eos, "more tokens that end generation" },                  \
    { "--stop", NULL, OPT_LIST, &(f).stops, "stop strings (not printed)" }

/* Turn the flags into generation parameters. XTC never removes EOS or newline tokens. */
static void sample_params(sample_flags *f, const llm_model *m, const llm_tokenizer *tok, llm_generate_params *gp) {
    llm_sampler_params *sp = &gp->sampler;
    gp->max_tokens = f->max_tokens;
    sp->temperature = (float)f->temp; sp->top_p = (float)f->top_p; sp->top_k = f->top_k; sp->min_p = (float)f->min_p;
    sp->min_tokens_to_keep = f->min_keep; sp->xtc_probability = (float)f->xtc_p; sp->xtc_threshold = (float)f->xtc_t;
    sp->repetition_penalty = (float)f->rep; sp->repetition_context_size = f->rep_ctx;
    sp->presence_penalty = (float)f->pres; sp->presence_context_size = f->pres_ctx;
    sp->frequency_penalty = (float)f->freq; sp->frequency_context_size = f->freq_ctx;
    sp->seed = f->seed >= 0 ? (uint64_t)f->seed : (uint64_t)time(NULL);
    if (f->logit_bias) sp->logit_bias = parse_logit_bias(f->logit_bias, &sp->n_logit_bias);
    for (int i = 0; i < f->extra_eos.n; i++) {
        f->eos_ids[i] = tok ? llm_tokenizer_find(tok, f->extra_eos.v[i]) : -1;
        if (f->eos_ids[i] < 0) { fprintf(stderr, "llm: --extra-eos-token '%s' is not a token\n", f->extra_eos.v[i]); exit(2); }
    }
    gp->extra_eos = f->eos_ids;
    gp->n_extra_eos = f->extra_eos.n;
    gp->stop_strings = f->stops.v;
    gp->n_stop_strings = f->stops.n;
    int n = 0;
    const llm_model_info *info = llm_model_get_info(m);
    for (int i = 0; i < info->n_eos && n < 32; i++) f->protect[n++] = info->eos[i];
    for (int i = 0; i < f->extra_eos.n; i++) f->protect[n++] = f->eos_ids[i];
    int64_t n_nl = 0;
    if (tok && llm_tokenize(tok, "\n", 1, false, &f->protect[n], 1, &n_nl) == LLM_OK && n_nl == 1) n++;
    sp->xtc_protected = f->protect;
    sp->n_xtc_protected = n;
}

/* KV cache flags, shared by generate and chat. */
typedef struct { int max_kv, ctx, kv_bits, kv_bits_v, kv_group, kv_start, threads; } cache_flags;
#define CACHE_OPTS(f)                                                                                               \
    { "--max-kv-size", NULL, OPT_INT, &(f).max_kv, "rotating cache of this many tokens: generation never runs out" }, \
    { "--ctx-size", "-c", OPT_INT, &(f).ctx, "context length (default: the model's, at most 4096)" },            \
    { "--kv-bits", NULL, OPT_INT, &(f).kv_bits, "store keys and values in 8 or 4 bits (default: f32)" },         \
    { "--kv-bits-v", NULL, OPT_INT, &(f).kv_bits_v, "bits for values only (default: --kv-bits)" },               \
    { "--kv-group-size", NULL, OPT_INT, &(f).kv_group, "values per scale in the quantized cache (default 64)" },  \
    { "--quantized-kv-start", NULL, OPT_INT, &(f).kv_start, "tokens kept in f32 before quantizing (default 0)" }, \
    { "--threads", "-t", OPT_INT, &(f).threads, "threads (default: $LLM_THREADS or all cores)" }

static llm_session *make_session(const llm_model *m, const cache_flags *f) {
    llm_session_desc sd = { .n_ctx = f->max_kv > 0 ? f->max_kv : f->ctx, .rotating = f->max_kv > 0,
                            .kv_bits_k = f->kv_bits, .kv_bits_v = f->kv_bits_v ? f->kv_bits_v : f->kv_bits,
                            .kv_group_size = f->kv_group, .quantized_kv_start = f->kv_start, .n_threads = thread_count(f->threads) };
    llm_session *s;
    llm_status st = llm_session_create(m, &sd, &s);
    if (st) die(st, "creating a session");
    return s;
}

static void print_stats(const llm_generate_result *r) {
    fprintf(stderr, "==========\nPrompt: %lld tokens, %.3f tokens-per-sec\n", (long long)r->n_prompt,
            r->prompt_seconds > 0 ? (double)r->n_prompt_evaluated / r->prompt_seconds : 0.0);
    fprintf(stderr, "Generation: %lld tokens, %.3f tokens-per-sec\n", (long long)r->n_generated,
            r->gen_seconds > 0 ? (double)r->n_generated / r->gen_seconds : 0.0);
    fprintf(stderr, "Peak memory: %.3f GB\n", peak_rss_gb());
}

/* A saved cache, then the new prompt appended to its tokens (no template, no BOS): the
   session holds the cached part, so llm_generate evaluates only the new tokens. */
static llm_token *cached_prompt(llm_session *s, const llm_tokenizer *tok, const char *file, const prompt_opts *po, int64_t *out_n) {
    llm_status st = llm_session_load(s, file);
    if (st) die(st, "loading the prompt cache");
    int64_t n_new = 0, n_old = llm_session_n_past(s);
    llm_token *add = po->ids ? parse_ids("generate", po->ids, &n_new) : NULL;
    if (!add) {
        char *text = !strcmp(po->prompt, "-") ? read_stream(stdin) : strdup(po->prompt);
        add = tokenize_all(tok, text, strlen(text), false, &n_new);
        free(text);
    }
    llm_token *ids = malloc((size_t)(n_old + n_new + 1) * sizeof *ids);
    memcpy(ids, llm_session_tokens(s), (size_t)n_old * sizeof *ids);
    memcpy(ids + n_old, add, (size_t)n_new * sizeof *ids);
    free(add);
    *out_n = n_old + n_new;
    if (*out_n == n_old) { fprintf(stderr, "llm generate: the prompt adds nothing to the cache\n"); exit(2); }
    return ids;
}

/* ---- cache-prompt: prefill a prompt once, save the cache for generate --prompt-cache-file ---- */
static int cmd_cache_prompt(int argc, char **argv) {
    const char *model = NULL, *tok_path = NULL, *config = NULL, *file = NULL;
    prompt_opts po = { .prompt = NULL, .ignore_template = true };
    bool compress = false, use_template = false;
    cache_flags cf = { 0 };
    cli_opt opts[] = {
        { "--model", NULL, OPT_STR, &model, "model directory, .safetensors, or llama2.c .bin" },
        { "--tokenizer", NULL, OPT_STR, &tok_path, "tokenizer file or directory (default: the model's)" },
        { "--prompt", "-p", OPT_STR, &po.prompt, "the text to prefill ('-' reads stdin)" },
        { "--prompt-cache-file", NULL, OPT_STR, &file, "where to save the cache (required)" },
        { "--use-chat-template", NULL, OPT_BOOL, &use_template, "wrap the prompt in the chat template first" },
        { "--system-prompt", NULL, OPT_STR, &po.system, "system message (with --use-chat-template)" },
        { "--compress", NULL, OPT_BOOL, &compress, "zstd-compress the file" },
        CACHE_OPTS(cf),
        { "--config", NULL, OPT_STR, &config, "config file name in the model directory (default config.json)" },
    };
    const char *summary = "prefill a prompt and save the KV cache (mlx_lm.cache_prompt)";
    parse_flags("cache-prompt", summary, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (!po.prompt || !file) { fprintf(stderr, "llm cache-prompt: --prompt and --prompt-cache-file are required\n"); return 2; }
    po.ignore_template = !use_template;
    llm_model *m = load_model("cache-prompt", model, config);
    llm_tokenizer *tok = load_tokenizer(model, tok_path);
    int64_t n;
    llm_token *ids = build_prompt(model, tok, &po, &n);
    llm_session *s = make_session(m, &cf);
    llm_status st = llm_session_eval(s, ids, n, NULL);
    if (st) die(st, "evaluating the prompt");
    char nv[32];
    snprintf(nv, sizeof nv, "%lld", (long long)llm_tokenizer_n_vocab(tok));
    const char *meta[] = { "tokenizer_vocab", nv, "model_path", model };
    if ((st = llm_session_save(s, file, meta, 2, compress))) die(st, "saving the cache");
    fprintf(stderr, "saved %lld tokens to %s\n", (long long)n, file);
    free(ids);
    llm_session_destroy(s);
    llm_tokenizer_free(tok);
    llm_model_free(m);
    return 0;
}

/* generate --prompts-file: every line a prompt, all decoded together; answers printed in order. */
static bool collect_text(const llm_gen_token *t, void *user) {
    buf_add((buf_t *)user, t->text, t->text_len);
    return !got_sigint;
}

static int generate_batch(const char *model, const char *tok_path, const char *config, const char *file, prompt_opts *po,
                          sample_flags *sf, const cache_flags *cf, bool verbose) {
    FILE *f = fopen(file, "rb");
    if (!f) { fprintf(stderr, "llm generate: cannot open %s\n", file); return 1; }
    char *all = read_stream(f);
    fclose(f);
    llm_model *m = load_model("generate", model, config);
    llm_tokenizer *tok = load_tokenizer(model, tok_path);
    enum { MAX_SEQ = 64 };
    llm_session *ss[MAX_SEQ];
    llm_token *ids[MAX_SEQ];
    int64_t np[MAX_SEQ];
    llm_generate_params gp[MAX_SEQ];
    llm_generate_result r[MAX_SEQ];
    buf_t text[MAX_SEQ];
    int n = 0;
    for (char *line = strtok(all, "\n"); line && n < MAX_SEQ; line = strtok(NULL, "\n")) {
        if (!*line) continue;
        po->prompt = line;
        ids[n] = build_prompt(model, tok, po, &np[n]);
        ss[n] = make_session(m, cf);
        text[n] = (buf_t){ 0 };
        buf_add(&text[n], "", 0);
        gp[n] = (llm_generate_params){ .on_token = collect_text, .user = &text[n] };
        sample_params(sf, m, tok, &gp[n]);
        gp[n].sampler.seed += (uint64_t)n;              /* each sequence its own stream */
        n++;
    }
    if (n == 0) { fprintf(stderr, "llm generate: %s has no prompts\n", file); return 2; }
    signal(SIGINT, on_sigint);
    llm_status st = llm_generate_batch(ss, n, tok, (const llm_token *const *)ids, np, gp, r);
    if (st) die(st, "generating");
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        printf("==== %d\n%s\n", i + 1, text[i].p);
        total += r[i].n_generated;
        free(text[i].p); free(ids[i]); free((void *)gp[i].sampler.logit_bias);
        llm_session_destroy(ss[i]);
    }
    if (verbose) fprintf(stderr, "==========\nBatch: %d sequences, %lld tokens, %.3f tokens-per-sec\nPeak memory: %.3f GB\n", n,
                         (long long)total, r[0].gen_seconds > 0 ? (double)total / r[0].gen_seconds : 0.0, peak_rss_gb());
    llm_tokenizer_free(tok);
    llm_model_free(m);
    free(all);
    return 0;
}

static int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *tok_path = NULL, *config = NULL, *draft_path = NULL, *cache_file = NULL, *prompts_file = NULL;
    prompt_opts po = { .prompt = NULL };
    int n_draft = 3, lookup = 0;
    bool verbose = false, list_archs = false;
    gen_out out = { 0 };
    sample_flags sf = SAMPLE_FLAGS_DEFAULT;
    cache_flags cf = { 0 };
    cli_opt opts[] = {
        { "--model", NULL, OPT_STR, &model, "model directory, .safetensors, or llama2.c .bin" },
        { "--tokenizer", NULL, OPT_STR, &tok_path, "tokenizer file or directory (default: the model's)" },
        { "--prompt", "-p", OPT_STR, &po.prompt, "prompt text ('-' reads stdin)" },
        { "--prompt-ids", NULL, OPT_STR, &po.ids, "prompt as token ids, comma separated (no template)" },
        { "--system-prompt", NULL, OPT_STR, &po.system, "system message for the chat template" },
        { "--prefill-response", NULL, OPT_STR, &po.prefill, "start the answer with this text" },
        { "--ignore-chat-template", NULL, OPT_BOOL, &po.ignore_template, "use the prompt as is" },
        { "--chat-template-config", NULL, OPT_STR, &po.template_kwargs, "JSON object of extra template variables" },
        SAMPLE_OPTS(sf),
        CACHE_OPTS(cf),
        { "--prompts-file", NULL, OPT_STR, &prompts_file, "one prompt per line: generate them all at once, batched" },
        { "--prompt-cache-file", NULL, OPT_STR, &cache_file, "continue from a cache saved by llm cache-prompt (the prompt is appended as is)" },
        { "--draft-model", NULL, OPT_STR, &draft_path, "a smaller model with the same vocabulary, for speculative decoding" },
        { "--num-draft-tokens", NULL, OPT_INT, &n_draft, "tokens drafted per step (default 3)" },
        { "--prompt-lookup", NULL, OPT_INT, &lookup, "speculate from the context: match n-grams up to this length" },
        { "--print-ids", NULL, OPT_BOOL, &out.print_ids, "print the generated ids, space separated, instead of text" },
        { "--verbose", NULL, OPT_BOOL, &verbose, "print prompt and generation speed and peak memory" },
        { "--config", NULL, OPT_STR, &config, "config file name in the model directory (default config.json)" },
        { "--list-architectures", NULL, OPT_BOOL, &list_archs, "print the supported model_type names and exit" },
    };
    const char *summary = "generate text from a prompt (mlx_lm.generate's flags)";
    parse_flags("generate", summary, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (list_archs) {
        for (const char *const *a = llm_architectures(); *a; a++) printf("%s\n", *a);
        return 0;
    }
    if (prompts_file) return generate_batch(model, tok_path, config, prompts_file, &po, &sf, &cf, verbose);
    if (!po.prompt && !po.ids) { fprintf(stderr, "llm generate: --prompt or --prompt-ids is required\n"); return 2; }
    llm_model *m = load_model("generate", model, config);
    bool need_tok = !po.ids || tok_path || sf.stops.n || sf.extra_eos.n || !out.print_ids;
    llm_tokenizer *tok = need_tok ? load_tokenizer(model, tok_path) : NULL;
    int64_t n_prompt;
    llm_session *s = make_session(m, &cf);
    llm_token *ids = cache_file ? cached_prompt(s, tok, cache_file, &po, &n_prompt) : build_prompt(model, tok, &po, &n_prompt);
    llm_generate_params gp = { .on_token = print_token, .user = &out, .n_draft = n_draft, .prompt_lookup = lookup };
    sample_params(&sf, m, tok, &gp);
    llm_model *dm = draft_path ? load_model("generate", draft_path, NULL) : NULL;
    gp.draft = dm ? make_session(dm, &cf) : NULL;
    signal(SIGINT, on_sigint);
    llm_generate_result r;
    llm_status st = llm_generate(s, tok, ids, n_prompt, &gp, &r);
    if (st) die(st, "generating");
    printf("\n");
    if (verbose) print_stats(&r);
    if (verbose && (dm || lookup))
        fprintf(stderr, "Speculative: %lld of %lld drafted tokens accepted\n", (long long)r.n_accepted, (long long)r.n_drafted);
    llm_session_destroy(gp.draft);
    llm_model_free(dm);
    free(ids);
    free((void *)gp.sampler.logit_bias);
    llm_session_destroy(s);
    if (tok) llm_tokenizer_free(tok);
    llm_model_free(m);
    return 0;
}

/* ---- chat: a REPL that keeps the conversation ----
   Each turn renders the whole conversation with the chat template; llm_generate keeps the
   part of the KV cache that the new prompt shares with the last one, so only the new
   turn is evaluated. Ctrl-C stops the current answer; q quits, r resets, h helps. */
typedef struct { buf_t text; } chat_answer;

static bool chat_token(const llm_gen_token *t, void *user) {
    chat_answer *a = user;
    fwrite(t->text, 1, t->text_len, stdout);
    fflush(stdout);
    buf_add(&a->text, t->text, t->text_len);
    return !got_sigint;
}

static llm_token *chat_prompt(const llm_chat_template *tpl, const llm_tokenizer *tok, const messages_t *m,
                              const buf_t *plain, const char *kwargs, int64_t *out_n) {
    if (!tpl) return tokenize_all(tok, plain->p, plain->n, true, out_n);   /* base model: the running text */
    char *rendered;
    size_t len;
    llm_status s = llm_chat_template_render(tpl, m->json.p, NULL, true, kwargs, &rendered, &len);
    if (s) die(s, "applying the chat template");
    llm_token *ids = tokenize_all(tok, rendered, len, false, out_n);
    llm_free(rendered);
    return ids;
}

static int cmd_chat(int argc, char **argv) {
    const char *model = NULL, *tok_path = NULL, *config = NULL, *system = NULL, *kwargs = NULL;
    bool verbose = false;
    cache_flags cf = { 0 };
    sample_flags sf = SAMPLE_FLAGS_DEFAULT;
    sf.max_tokens = 256;
    cli_opt opts[] = {
        { "--model", NULL, OPT_STR, &model, "model directory, .safetensors, or llama2.c .bin" },
        { "--tokenizer", NULL, OPT_STR, &tok_path, "tokenizer file or directory (default: the model's)" },
        { "--system-prompt", NULL, OPT_STR, &system, "system message" },
        { "--chat-template-config", NULL, OPT_STR, &kwargs, "JSON object of extra template variables" },
        SAMPLE_OPTS(sf),
        CACHE_OPTS(cf),
        { "--verbose", NULL, OPT_BOOL, &verbose, "print speed after each answer" },
        { "--config", NULL, OPT_STR, &config, "config file name in the model directory (default config.json)" },
    };
    const char *summary = "chat with the model (q quits, r resets, h helps, Ctrl-C stops an answer)";
    parse_flags("chat", summary, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    llm_model *m = load_model("chat", model, config);
    llm_tokenizer *tok = load_tokenizer(model, tok_path);
    llm_chat_template *tpl = NULL;
    if (llm_chat_template_load(tok_path ? tok_path : model, NULL, &tpl) != LLM_OK) tpl = NULL;
    llm_generate_params gp = { .on_token = chat_token };
    sample_params(&sf, m, tok, &gp);
    llm_session *s = make_session(m, &cf);
    llm_status st;
    struct sigaction sa = { .sa_handler = on_sigint };
    sigaction(SIGINT, &sa, NULL);                   /* no SA_RESTART: Ctrl-C at the prompt interrupts fgets */
    bool tty = isatty(0);
    messages_t msgs = { 0 };
    buf_t plain = { 0 };
    char line[65536];
    if (tty) printf("[llm chat] q quits, r resets the conversation, h shows this help.\n");
    for (;;) {
        if (tty) { printf(">> "); fflush(stdout); }
        got_sigint = 0;
        if (!fgets(line, sizeof line, stdin)) {
            if (got_sigint && !feof(stdin)) { clearerr(stdin); printf("\n"); continue; }
            break;
        }
        line[strcspn(line, "\n")] = 0;
        if (!strcmp(line, "q")) break;
        if (!strcmp(line, "h")) { printf("q: quit   r: reset the conversation   h: help   Ctrl-C: stop the answer\n"); continue; }
        if (!strcmp(line, "r")) {
            free(msgs.json.p); free(plain.p);
            msgs = (messages_t){ 0 }; plain = (buf_t){ 0 };
            llm_session_rewind(s, 0);
            printf("[conversation reset]\n");
            continue;
        }
        if (!line[0]) continue;
        if (msgs.n == 0 && system) messages_add(&msgs, "system", system);
        messages_add(&msgs, "user", line);
        buf_str(&plain, line);
        int64_t n;
        llm_token *ids = chat_prompt(tpl, tok, &msgs, &plain, kwargs, &n);
        chat_answer a = { { 0 } };
        buf_add(&a.text, "", 0);
        gp.user = &a;
        llm_generate_result r;
        got_sigint = 0;
        st = llm_generate(s, tok, ids, n, &gp, &r);
        free(ids);
        printf("\n");
        if (st == LLM_ERR_CONTEXT_FULL) { fprintf(stderr, "[the context is full: r resets]\n"); free(a.text.p); continue; }
        if (st) die(st, "generating");
        messages_add(&msgs, "assistant", a.text.p);
        buf_str(&plain, a.text.p);
        buf_str(&plain, "\n");
        free(a.text.p);
        if (verbose) print_stats(&r);
    }
    free(msgs.json.p);
    free(plain.p);
    llm_chat_template_free(tpl);
    llm_session_destroy(s);
    llm_tokenizer_free(tok);
    llm_model_free(m);
    return 0;
}

/* ---- perplexity: how well the model predicts a text ----
   The text is tokenized once and cut into windows of --sequence-length tokens; each window
   is evaluated from an empty cache and every token after its first is scored:
   PPL = exp(mean negative log-likelihood), with the standard error of the mean NLL. */
static int cmd_perplexity(int argc, char **argv) {
    const char *model = NULL, *tok_path = NULL, *file = NULL, *config = NULL;
    int seq_len = 512, threads = 0, max_windows = 0;
    cli_opt opts[] = {
        { "--model", NULL, OPT_STR, &model, "model directory, .safetensors, or llama2.c .bin" },
        { "--tokenizer", NULL, OPT_STR, &tok_path, "tokenizer file or directory (default: the model's)" },
        { "--file", "-f", OPT_STR, &file, "text file to score (required)" },
        { "--sequence-length", NULL, OPT_INT, &seq_len, "tokens per window (default 512)" },
        { "--num-samples", NULL, OPT_INT, &max_windows, "score at most this many windows (default: all)" },
        { "--config", NULL, OPT_STR, &config, "config file name in the model directory (default config.json)" },
        { "--threads", "-t", OPT_INT, &threads, "threads (default: $LLM_THREADS or all cores)" },
    };
    const char *summary = "perplexity of the model on a text file";
    parse_flags("perplexity", summary, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (!file || seq_len < 2) { fprintf(stderr, "llm perplexity: --file and a --sequence-length >= 2 are required\n"); return 2; }
    FILE *f = fopen(file, "rb");
    if (!f) { fprintf(stderr, "llm perplexity: cannot open %s\n", file); return 1; }
    char *text = read_stream(f);
    fclose(f);
    llm_model *m = load_model("perplexity", model, config);
    llm_tokenizer *tok = load_tokenizer(model, tok_path);
    int64_t n, V = llm_model_get_info(m)->n_vocab;
    llm_token *ids = tokenize_all(tok, text, strlen(text), true, &n);
    llm_session *s;
    llm_session_desc sd = { .n_ctx = seq_len, .n_threads = thread_count(threads) };
    llm_status st = llm_session_create(m, &sd, &s);
    if (st) die(st, "creating a session");
    float *logits = malloc((size_t)seq_len * (size_t)V * sizeof *logits);
    double sum = 0, sum2 = 0;
    int64_t count = 0, windows = 0;
    for (int64_t at = 0; at + 1 < n && (!max_windows || windows < max_windows); at += seq_len, windows++) {
        int64_t len = n - at < seq_len ? n - at : seq_len;
        if (len < 2) break;
        llm_session_rewind(s, 0);
        if ((st = llm_session_eval(s, ids + at, len, logits))) die(st, "evaluating");
        for (int64_t t = 0; t + 1 < len; t++) {
            const float *row = logits + t * V;
            double mx = row[0], z = 0;
            for (int64_t i = 1; i < V; i++) mx = row[i] > mx ? row[i] : mx;
            for (int64_t i = 0; i < V; i++) z += exp(row[i] - mx);
            double nll = log(z) + mx - row[ids[at + t + 1]];
            sum += nll;
            sum2 += nll * nll;
            count++;
        }
    }
    double mean = sum / (double)count, var = sum2 / (double)count - mean * mean;
    double se = sqrt((var > 0 ? var : 0) / (double)count);
    printf("Perplexity: %.4f ± %.4f (%lld tokens scored in %lld windows of %d)\n", exp(mean), exp(mean) * se,
           (long long)count, (long long)windows, seq_len);
    free(logits); free(ids); free(text);
    llm_session_destroy(s);
    llm_tokenizer_free(tok);
    llm_model_free(m);
    return 0;
}

/* llm template: render a chat template as apply_chat_template(..., tokenize=False) does. */
static int cmd_template(int argc, char **argv) {
    const char *model = NULL;          /* model dir, or its tokenizer_config.json */
    const char *messages = NULL;       /* JSON file: [{"role", "content"}, ...] */
    const char *tools = NULL;          /* JSON file: [tool schemas] */
    const char *kwargs = NULL;         /* JSON object text of extra template variables */
    const char *name = NULL;           /* a named template, e.g. tool_use */
    bool gen = false;
    const cli_opt opts[] = {
        { "--model", "-m", OPT_STR, &model, "model directory or tokenizer_config.json (required)" },
        { "--messages", NULL, OPT_STR, &messages, "JSON file with the messages array (required; - = stdin)" },
        { "--tools", NULL, OPT_STR, &tools, "JSON file with the tools array" },
        { "--add-generation-prompt", NULL, OPT_BOOL, &gen, "end with the assistant turn's opening" },
        { "--kwargs", NULL, OPT_STR, &kwargs, "JSON object of extra variables, e.g. '{\"enable_thinking\": false}'" },
        { "--template-name", NULL, OPT_STR, &name, "use a named template (e.g. tool_use)" },
    };
    const char *summary = "print the chat template's rendering of a conversation (no trailing newline added)";
    parse_flags("template", summary, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (!model || !messages) {
        fprintf(stderr, "llm template: --model and --messages are required (see llm template --help)\n");
        return 2;
    }
    const char *paths[2] = { messages, tools };
    char *text[2] = { NULL, NULL };
    for (int i = 0; i < 2; i++) {
        if (!paths[i]) continue;
        FILE *f = strcmp(paths[i], "-") ? fopen(paths[i], "rb") : stdin;
        if (!f) { fprintf(stderr, "llm template: %s: %s\n", paths[i], strerror(errno)); return 1; }
        size_t n = 0, cap = 4096;
        text[i] = malloc(cap + 1);
        for (size_t got; text[i] && (got = fread(text[i] + n, 1, cap - n, f)) > 0;)
            if ((n += got) == cap) text[i] = realloc(text[i], (cap *= 2) + 1);
        if (f != stdin) fclose(f);
        if (!text[i]) { fprintf(stderr, "llm template: out of memory\n"); return 1; }
        text[i][n] = 0;
    }
    llm_chat_template *t = NULL;
    llm_status s = llm_chat_template_load(model, name, &t);
    if (s) die(s, "loading the chat template");
    char *out = NULL;
    size_t len = 0;
    s = llm_chat_template_render(t, text[0], text[1], gen, kwargs, &out, &len);
    if (s) die(s, "rendering");
    fwrite(out, 1, len, stdout);
    llm_free(out);
    llm_chat_template_free(t);
    free(text[0]);
    free(text[1]);
    return 0;
}

typedef struct { const char *name; int (*fn)(int argc, char **argv); const char *summary; } cli_cmd;

/* llm tokenize: print the ids of a text (or a file's exact bytes) on one line. */
static int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *text = NULL, *file = NULL;
    bool add_special = false, json = false;
    const cli_opt opts[] = {
        { "--model", "-m", OPT_STR, &model, "model directory, tokenizer directory, or tokenizer.json/.model/.bin" },
        { "--text", NULL, OPT_STR, &text, "text to tokenize" },
        { "--file", "-f", OPT_STR, &file, "tokenize this file's bytes exactly" },
        { "--add-special", NULL, OPT_BOOL, &add_special, "add special tokens (BOS ...) as the tokenizer's post-processor says" },
        { "--json", NULL, OPT_BOOL, &json, "print a JSON array instead of space-separated ids" },
    };
    const char *summary = "print the token ids of a text";
    parse_flags("tokenize", summary, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (!model || !text == !file) {
        fprintf(stderr, "llm tokenize: needs --model and one of --text or --file (see llm tokenize --help)\n");
        return 2;
    }
    char *data = NULL;
    size_t len = text ? strlen(text) : 0;
    if (file) {
        FILE *f = fopen(file, "rb");
        if (!f) { fprintf(stderr, "llm tokenize: %s: %s\n", file, strerror(errno)); return 1; }
        size_t cap = 1 << 16;
        data = (char *)malloc(cap);
        for (size_t got; data && (got = fread(data + len, 1, cap - len, f)) > 0;) {
            len += got;
            if (len == cap) { char *d = (char *)realloc(data, cap *= 2); if (!d) free(data); data = d; }
        }
        fclose(f);
        if (!data) { fprintf(stderr, "llm tokenize: out of memory\n"); return 1; }
        text = data;
    }
    llm_tokenizer *tok;
    llm_status s = llm_tokenizer_load(model, &tok);
    if (s) die(s, "loading the tokenizer");
    int64_t n = 0;
    llm_token *ids = NULL;
    if ((s = llm_tokenize(tok, text, len, add_special, NULL, 0, &n)) ||
        !(ids = (llm_token *)malloc((size_t)(n ? n : 1) * sizeof *ids)) ||
        (s = llm_tokenize(tok, text, len, add_special, ids, n, &n)))
        die(s ? s : LLM_ERR_NOMEM, "tokenizing");
    printf("%s", json ? "[" : "");
    for (int64_t i = 0; i < n; i++) printf(i ? (json ? ", %d" : " %d") : "%d", ids[i]);
    printf("%s\n", json ? "]" : "");
    free(ids);
    free(data);
    llm_tokenizer_free(tok);
    return 0;
}

/* llm bench: like llama-bench. pp = one prompt of -p random tokens into an empty cache,
   tg = -n tokens one at a time into an empty cache; each is run once to warm up, then -r
   times; tokens/s as mean ± stddev. Also the load time and the peak RSS (VmHWM). */
static int cmd_bench(int argc, char **argv) {
    const char *model = NULL;   /* --model: required */
    int n_prompt = 512;         /* -p */
    int n_gen = 128;            /* -n */
    int reps = 5;               /* -r */
    int threads = 0;            /* -t: 0 = LLM_THREADS, else all cores */
    bool json = false;          /* --json */
    const cli_opt opts[] = {
        { "--model", "-m", OPT_STR, &model, "model directory or file (required)" },
        { "--n-prompt", "-p", OPT_INT, &n_prompt, "prompt tokens for the pp test (0 = skip; default 512)" },
        { "--n-gen", "-n", OPT_INT, &n_gen, "generated tokens for the tg test (0 = skip; default 128)" },
        { "--reps", "-r", OPT_INT, &reps, "repetitions of each test (default 5)" },
        { "--threads", "-t", OPT_INT, &threads, "threads (default: LLM_THREADS, else all cores)" },
        { "--json", NULL, OPT_BOOL, &json, "print one JSON object per test instead of a table" },
    };
    const char *summary = "measure prompt processing (pp) and generation (tg) speed in tokens/s";
    parse_flags("bench", summary, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (!model || n_prompt < 0 || n_gen < 0 || reps < 1 || (!n_prompt && !n_gen)) {
        usage("bench", summary, opts, (int)(sizeof opts / sizeof opts[0]), stderr);
        return 1;
    }
    struct timespec t0, t1;
    llm_model *m = NULL;
    llm_session *s = NULL;
    llm_status st;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    llm_model_desc md = { .no_repack = getenv("LLM_NO_REPACK") != NULL };
    if ((st = llm_model_load(model, &md, &m))) die(st, model);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double load_s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    const llm_model_info *info = llm_model_get_info(m);
    llm_session_desc sd = { .n_ctx = n_prompt + n_gen, .n_batch = n_prompt > 0 ? n_prompt : 1, .n_threads = thread_count(threads) };
    if ((st = llm_session_create(m, &sd, &s))) die(st, "session");
    int nth = sd.n_threads > 0 ? sd.n_threads : (int)sysconf(_SC_NPROCESSORS_ONLN);   /* what the library picks */
    llm_token *toks = (llm_token *)malloc(sizeof(llm_token) * (size_t)(n_prompt + n_gen + 1));
    srand(42);
    for (int i = 0; i < n_prompt + n_gen; i++) toks[i] = (llm_token)(rand() % info->n_vocab);
    if (!json) printf("| %-36s | %7s | %7s | %5s | %18s |\n|%s|\n", "model", "threads", "test", "reps", "t/s",
                      "--------------------------------------|---------|---------|-------|--------------------");
    for (int test = 0; test < 2; test++) {
        int n = test == 0 ? n_prompt : n_gen;
        if (n == 0) continue;
        double sum = 0, sum2 = 0;
        for (int r = -1; r < reps; r++) {   /* r = -1: warm-up, not counted */
            if ((st = llm_session_rewind(s, 0))) die(st, "rewind");
            clock_gettime(CLOCK_MONOTONIC, &t0);
            if (test == 0) st = llm_session_eval(s, toks, n, NULL);
            for (int i = 0; test == 1 && i < n && !st; i++) st = llm_session_eval(s, toks + i, 1, NULL);
            if (st) die(st, "eval");
            clock_gettime(CLOCK_MONOTONIC, &t1);
            double tps = n / ((double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
            if (r >= 0) { sum += tps; sum2 += tps * tps; }
        }
        double mean = sum / reps, sd_tps = reps > 1 ? sqrt(fmax(0, (sum2 - sum * mean) / (reps - 1))) : 0;
        char name[16];
        snprintf(name, sizeof name, "%s%d", test == 0 ? "pp" : "tg", n);
        if (json)
            printf("{\"model\": \"%s\", \"threads\": %d, \"test\": \"%s\", \"reps\": %d, \"tps_mean\": %.3f, \"tps_stddev\": %.3f}\n",
                   model, nth, name, reps, mean, sd_tps);
        else printf("| %-36.36s | %7d | %7s | %5d | %8.2f ± %7.2f |\n", model, nth, name, reps, mean, sd_tps);
    }
    long hwm_kb = 0;   /* peak resident memory, from the kernel */
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f)) if (!strncmp(line, "VmHWM:", 6)) hwm_kb = atol(line + 6);
    if (f) fclose(f);
    if (json) printf("{\"model\": \"%s\", \"load_s\": %.3f, \"peak_rss_mib\": %.1f, \"n_ctx\": %d}\n", model, load_s, hwm_kb / 1024.0,
                     n_prompt + n_gen);
    else printf("\nload %.3f s, peak RSS %.1f MiB (n_ctx %d)\n", load_s, hwm_kb / 1024.0, n_prompt + n_gen);
    free(toks);
    llm_session_destroy(s);
    llm_model_free(m);
    return 0;
}

/* ---- convert / quantize: a model directory to an MLX one or to a GGUF file (llm_convert_model) ---- */
static void convert_progress(void *user, int64_t done, int64_t total) {
    (void)user;
    int w = total > 0 ? (int)(40 * done / total) : 40;
    fprintf(stderr, "\r  [%.*s%*s] %lld/%lld tensors", w, "########################################", 40 - w, "", (long long)done, (long long)total);
    if (done == total) fputc('\n', stderr);
}

static bool ascii_ieq(const char *a, const char *b) {
    for (; *a && *b; a++, b++) if ((*a | 32) != (*b | 32)) return false;
    return *a == *b;
}

/* "q4_0", "Q4_K", "f16", "float16", ... -> the dtype; llama-quantize's file types ("Q4_K_M",
   also "q2_K" and "q6_K") -> p->gguf_mix; false if unknown */
static bool parse_gguf_type(const char *name, llm_convert_params *p) {
    static const char *const mixes[] = { "q2_k", "q3_k_s", "q3_k_m", "q3_k_l", "q4_k_s", "q4_k_m", "q5_k_s", "q5_k_m", "q6_k" };
    for (size_t i = 0; i < sizeof mixes / sizeof mixes[0]; i++)
        if (ascii_ieq(mixes[i], name)) { p->gguf_mix = name; return true; }
    llm_dtype *out = &p->gguf_type;
    if (!strcmp(name, "float32")) name = "f32";
    else if (!strcmp(name, "float16")) name = "f16";
    else if (!strcmp(name, "bfloat16")) name = "bf16";
    for (int i = 0; i < LLM_DTYPE_COUNT; i++) {
        const llm_dtype_info *d = llm_dtype_get((llm_dtype)i);
        if (d && d->name && ascii_ieq(d->name, name)) { *out = (llm_dtype)i; return true; }
    }
    return false;
}

static int convert_run(const char *cmd, llm_convert_params *p, const char *dtype, const char *mode, const char *gguf_type) {
    if (!p->src || (!p->dst && !p->gguf)) { fprintf(stderr, "llm %s: the source and an output (directory, or --to-gguf FILE) are required\n", cmd); return 2; }
    p->q_mode = mode;                                              /* checked by llm_convert_model */
    p->gguf_type = LLM_DTYPE_F16;                                  /* convert_hf_to_gguf.py's default */
    if (gguf_type && !parse_gguf_type(gguf_type, p)) {
        fprintf(stderr, "llm %s: --gguf-type is f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q3_K, q4_K, q5_K, or one of llama-quantize's "
                "Q2_K, Q3_K_S, Q3_K_M, Q3_K_L, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K\n", cmd);
        return 2;
    }
    if (dtype) {
        p->set_dtype = true;
        if (!strcmp(dtype, "float32")) p->dtype = LLM_DTYPE_F32;
        else if (!strcmp(dtype, "float16")) p->dtype = LLM_DTYPE_F16;
        else if (!strcmp(dtype, "bfloat16")) p->dtype = LLM_DTYPE_BF16;
        else { fprintf(stderr, "llm %s: --dtype is float32, float16 or bfloat16\n", cmd); return 2; }
    }
    const char *out = p->gguf ? p->gguf : p->dst;
    if (isatty(2)) {
        fprintf(stderr, "%s %s -> %s ...\n", p->gguf ? "writing GGUF" : p->quantize ? "quantizing" : "converting", p->src, out);
        p->progress = convert_progress;
    }
    llm_status st = llm_convert_model(p);
    if (st) die(st, "converting the model");
    if (isatty(2)) fprintf(stderr, "done: %s\n", out);
    return 0;
}

static int cmd_convert(int argc, char **argv) {
    llm_convert_params p = { 0 };
    const char *dtype = NULL, *mode = NULL, *gguf_type = NULL;
    cli_opt opts[] = {
        { "--hf-path", NULL, OPT_STR, &p.src, "source model directory (Hugging Face or MLX safetensors)" },
        { "--mlx-path", NULL, OPT_STR, &p.dst, "output directory (created if missing)" },
        { "--quantize", "-q", OPT_BOOL, &p.quantize, "quantize the weight matrices (MLX, --q-mode)" },
        { "--dequantize", "-d", OPT_BOOL, &p.dequantize, "dequantize an MLX-quantized model to float" },
        { "--q-bits", NULL, OPT_INT, &p.bits, "bits per weight: 2, 3, 4, 5, 6, 8 (default 4)" },
        { "--q-group-size", NULL, OPT_INT, &p.group_size, "weights per scale and bias: 32, 64, 128 (default 64)" },
        { "--q-mode", NULL, OPT_STR, &mode, "affine (default), mxfp4, nvfp4 or mxfp8 (these fix bits and group size)" },
        { "--quant-predicate", NULL, OPT_STR, &p.quant_predicate, "mixed-precision recipe: mixed_2_6, mixed_3_4, mixed_3_6, mixed_4_6" },
        { "--dtype", NULL, OPT_STR, &dtype, "float32, float16 or bfloat16 for the float tensors (default: kept)" },
        { "--to-gguf", NULL, OPT_STR, &p.gguf, "write one llama.cpp GGUF file here instead of an MLX directory" },
        { "--gguf-type", NULL, OPT_STR, &gguf_type, "GGUF weight type: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q3_K q4_K q5_K, or llama-quantize's Q4_K_M Q4_K_S Q5_K_M Q5_K_S Q3_K_S Q3_K_M Q3_K_L Q2_K Q6_K (default f16)" },
    };
    parse_flags("convert", "convert a model directory to MLX format (optionally quantized) or to GGUF", opts,
                (int)(sizeof opts / sizeof opts[0]), argc, argv);
    return convert_run("convert", &p, dtype, mode, gguf_type);
}

static int cmd_quantize(int argc, char **argv) {
    llm_convert_params p = { .quantize = true };
    const char *dtype = NULL, *mode = NULL, *gguf_type = NULL;
    cli_opt opts[] = {
        { "--model", NULL, OPT_STR, &p.src, "model directory" },
        { "--output", "-o", OPT_STR, &p.dst, "output directory (created if missing)" },
        { "--q-bits", NULL, OPT_INT, &p.bits, "bits per weight: 2, 3, 4, 5, 6, 8 (default 4)" },
        { "--q-group-size", NULL, OPT_INT, &p.group_size, "weights per scale and bias: 32, 64, 128 (default 64)" },
        { "--q-mode", NULL, OPT_STR, &mode, "affine (default), mxfp4, nvfp4 or mxfp8 (these fix bits and group size)" },
        { "--dtype", NULL, OPT_STR, &dtype, "float32, float16 or bfloat16 for scales and float tensors" },
        { "--to-gguf", NULL, OPT_STR, &p.gguf, "write one llama.cpp GGUF file here instead (with --gguf-type)" },
        { "--gguf-type", NULL, OPT_STR, &gguf_type, "GGUF weight type, e.g. q4_0, q8_0, Q4_K_M, Q5_K_M (default f16)" },
    };
    parse_flags("quantize", "quantize a model directory (MLX; = convert -q), or write it as GGUF", opts,
                (int)(sizeof opts / sizeof opts[0]), argc, argv);
    return convert_run("quantize", &p, dtype, mode, gguf_type);
}

static const cli_cmd *find_cmd(const char *name);

static int cmd_help(int argc, char **argv);

static const cli_cmd commands[] = {
    { "generate", cmd_generate, "generate text from a prompt" },
    { "chat",     cmd_chat,     "chat with a model in the terminal" },
    { "cache-prompt", cmd_cache_prompt, "prefill a prompt and save its KV cache to a file" },
    { "perplexity", cmd_perplexity, "perplexity of a model on a text file" },
    { "logits",   cmd_logits,   "run a prompt and write the logits of every position" },
    { "tokenize", cmd_tokenize, "print the token ids of a text or file" },
    { "template", cmd_template, "render a chat template (--model DIR --messages F.json)" },
    { "convert",  cmd_convert,  "convert a model directory to MLX format (-q: quantized) or GGUF (--to-gguf)" },
    { "quantize", cmd_quantize, "quantize a model directory (MLX, or GGUF with --to-gguf)" },
    { "bench",    cmd_bench,    "measure prompt and generation speed (tokens/s), like llama-bench" },
    { "help",     cmd_help,     "list the subcommands and the supported architectures" },
};

static const cli_cmd *find_cmd(const char *name) {
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(commands[i].name, name)) return &commands[i];
    return NULL;
}

static int cmd_help(int argc, char **argv) {
    (void)argc; (void)argv;
    printf("llm %s - large language models on the CPU\n\nusage: llm COMMAND [flags]   (llm COMMAND --help for its flags)\n\ncommands:\n",
           llm_version());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) printf("  %-14s %s\n", commands[i].name, commands[i].summary);
    printf("\narchitectures (config model_type):\n ");
    for (const char *const *a = llm_architectures(); *a; a++) printf(" %s", *a);
    printf("\n\nenvironment:\n  LLM_THREADS=N             default thread count\n"
           "  LLM_REFERENCE_KERNELS=1   compute with the scalar reference kernels (slow; for checking the fast ones)\n"
           "  LLM_EXACT_BF16=1          bf16 prefill in f32 on AVX512-BF16 CPUs (exact; slower)\n"
           "  LLM_NO_REPACK=1           keep q4_0 weights as the file has them (no copy in memory; slower)\n");
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) return cmd_help(0, NULL);
    if (!strcmp(argv[1], "--version")) { printf("%s\n", llm_version()); return 0; }
    const cli_cmd *c = find_cmd(argv[1]);
    if (!c) { fprintf(stderr, "llm: unknown command '%s' (see llm --help)\n", argv[1]); return 2; }
    const char *ref = getenv("LLM_REFERENCE_KERNELS");
    if (ref && *ref && strcmp(ref, "0")) llm_set_reference_kernels(true);
    const char *exact = getenv("LLM_EXACT_BF16");
    if (exact && *exact && strcmp(exact, "0")) llm_set_exact_bf16(true);
    return c->fn(argc - 2, argv + 2);
}
