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

static const cli_cmd *find_cmd(const char *name);

static int cmd_help(int argc, char **argv);

static const cli_cmd commands[] = {
    { "help",     cmd_help,     "list the subcommands" },
    { "tokenize", cmd_tokenize, "print the token ids of a text or file" },
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
