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

/* ---- flags ---- */

typedef enum { OPT_STR, OPT_INT, OPT_FLOAT, OPT_BOOL } opt_kind;
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
                 opts[i].kind == OPT_BOOL ? "" : opts[i].kind == OPT_STR ? " S" : opts[i].kind == OPT_INT ? " N" : " X");
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
    llm_model_desc md = { .config_file = config };
    llm_status s = llm_model_load(path, &md, &m);
    if (s) die(s, "loading the model");
    return m;
}

static int argmax(const float *x, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return (int)best;
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
static int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *ids_arg = NULL, *config = NULL;
    int max_tokens = 100, threads = 0, n_ctx = 0;
    double temp = 0.0;
    bool print_ids = false;
    cli_opt opts[] = {
        { "--model", NULL, OPT_STR, &model, "model directory, .safetensors, or llama2.c .bin" },
        { "--prompt-ids", NULL, OPT_STR, &ids_arg, "prompt as token ids, comma separated" },
        { "--max-tokens", "-m", OPT_INT, &max_tokens, "tokens to generate (default 100)" },
        { "--temp", NULL, OPT_FLOAT, &temp, "sampling temperature (default 0: greedy)" },
        { "--print-ids", NULL, OPT_BOOL, &print_ids, "print the generated ids, space separated, on one line" },
        { "--max-kv-size", NULL, OPT_INT, &n_ctx, "context length (default: the model's, at most 4096)" },
        { "--config", NULL, OPT_STR, &config, "config file name in the model directory (default config.json)" },
        { "--threads", "-t", OPT_INT, &threads, "threads (default: $LLM_THREADS or all cores)" },
    };
    const char *summary = "continue a prompt with the model";
    parse_flags("generate", summary, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (!ids_arg) { fprintf(stderr, "llm generate: --prompt-ids is required\n"); return 2; }
    if (temp != 0) { fprintf(stderr, "llm generate: only --temp 0 is supported\n"); return 2; }
    int64_t n;
    llm_token *ids = parse_ids("generate", ids_arg, &n);
    llm_model *m = load_model("generate", model, config);
    const llm_model_info *info = llm_model_get_info(m);
    llm_session *s;
    llm_session_desc sd = { .n_ctx = n_ctx, .n_threads = thread_count(threads) };
    llm_status st = llm_session_create(m, &sd, &s);
    if (st) die(st, "creating a session");
    if ((st = llm_session_eval(s, ids, n, NULL))) die(st, "evaluating the prompt");
    for (int i = 0; i < max_tokens; i++) {
        llm_token tok = argmax(llm_session_logits(s), info->n_vocab);
        if (print_ids) printf("%s%d", i ? " " : "", tok);
        bool eos = false;
        for (int e = 0; e < info->n_eos; e++) eos |= tok == info->eos[e];
        if (eos || i + 1 == max_tokens) break;
        if ((st = llm_session_eval(s, &tok, 1, NULL))) die(st, "generating");
    }
    if (print_ids) printf("\n");
    free(ids);
    llm_session_destroy(s);
    llm_model_free(m);
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

static const cli_cmd *find_cmd(const char *name);

static int cmd_help(int argc, char **argv);

static const cli_cmd commands[] = {
    { "generate", cmd_generate, "generate text from a prompt" },
    { "logits",   cmd_logits,   "run a prompt and write the logits of every position" },
    { "help",     cmd_help,     "list the subcommands" },
    { "template", cmd_template, "render a chat template (--model DIR --messages F.json)" },
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
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) return cmd_help(0, NULL);
    if (!strcmp(argv[1], "--version")) { printf("%s\n", llm_version()); return 0; }
    const cli_cmd *c = find_cmd(argv[1]);
    if (!c) { fprintf(stderr, "llm: unknown command '%s' (see llm --help)\n", argv[1]); return 2; }
    return c->fn(argc - 2, argv + 2);
}
