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

#include <math.h>
#include <time.h>   /* clock_gettime for cmd_bench */

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
    if ((st = llm_model_load(model, NULL, &m))) die(st, model);
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

static const cli_cmd *find_cmd(const char *name);

static int cmd_help(int argc, char **argv);

static const cli_cmd commands[] = {
    { "help",     cmd_help,     "list the subcommands" },
    { "bench",    cmd_bench,    "measure prompt and generation speed (tokens/s), like llama-bench" },
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
