/* The llm command as other tools call it: exit codes, flags, the logits file, greedy ids,
   clear errors on hostile files, and the chat REPL driven through a pseudo-terminal. */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include "test.h"
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <poll.h>

static const char *llm_bin(void) { return getenv("LLM_BIN") ? getenv("LLM_BIN") : "build/llm"; }

/* Run a shell command line with the llm binary substituted for %s; capture stdout+stderr. */
static int run(char *out, size_t cap, const char *fmt, ...) {
    char cmd[9000], line[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", llm_bin(), line);
    FILE *p = popen(cmd, "r");
    size_t n = 0;
    if (out) out[0] = 0;
    if (!p) return -1;
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, p)) > 0)
        if (out && n + got < cap) { memcpy(out + n, buf, got); n += got; out[n] = 0; }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_help_and_flags(void) {
    static char out[65536];
    CHECK_EQ_INT(run(out, sizeof out, "--help"), 0);
    CHECK(strstr(out, "generate") && strstr(out, "logits") && strstr(out, "chat"));
    CHECK_EQ_INT(run(out, sizeof out, "generate --help"), 0);
    CHECK(strstr(out, "--max-tokens") && strstr(out, "--top-p") && strstr(out, "--system-prompt"));
    CHECK_EQ_INT(run(out, sizeof out, "generate --no-such-flag"), 2);
    CHECK(strstr(out, "unknown flag '--no-such-flag'"));
    CHECK_EQ_INT(run(out, sizeof out, "generate --max-tokens many"), 2);
    CHECK(strstr(out, "bad value 'many'"));
    CHECK_EQ_INT(run(out, sizeof out, "logits --model x --ids 1,a"), 2);
    CHECK_EQ_INT(run(out, sizeof out, "frobnicate"), 2);
}

static void test_logits_file(void) {
    static char out[65536];
    llm_safetensors *ref = NULL, *got = NULL;
    char refp[600], ids[1024] = "";
    snprintf(refp, sizeof refp, "%s/ref.safetensors", fixture("models/dev/qwen2"));
    CHECK_OK(llm_safetensors_open(refp, &ref));
    if (!ref) return;
    const llm_tensor *in = llm_safetensors_find(ref, "input_ids"), *want = llm_safetensors_find(ref, "logits");
    for (int64_t i = 0; i < in->shape[0]; i++)
        snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%d", i ? "," : "", ((const int32_t *)in->data)[i]);
    const char *path = "/tmp/llm_test_cli_logits.safetensors";
    CHECK_EQ_INT(run(out, sizeof out, "logits --model %s --ids %s -o %s", fixture("models/dev/qwen2"), ids, path), 0);
    CHECK_OK(llm_safetensors_open(path, &got));
    if (got) {
        const llm_tensor *l = llm_safetensors_find(got, "logits");
        CHECK(l && l->shape[0] == want->shape[0] && l->shape[1] == want->shape[1]);
        if (l) CHECK(max_abs_diff(l->data, want->data, (long)llm_tensor_n_elems(want)) <= 1e-4);
        llm_safetensors_close(got);
    }
    remove(path);
    llm_safetensors_close(ref);
}

static void test_generate_ids(void) {
    static char out[65536];
    llm_safetensors *ref = NULL;
    char refp[600], ids[1024] = "", want[1024] = "";
    snprintf(refp, sizeof refp, "%s/ref.safetensors", fixture("models/dev/llama"));
    CHECK_OK(llm_safetensors_open(refp, &ref));
    if (!ref) return;
    const llm_tensor *in = llm_safetensors_find(ref, "input_ids"), *g = llm_safetensors_find(ref, "greedy_ids");
    for (int64_t i = 0; i < in->shape[0]; i++)
        snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%d", i ? "," : "", ((const int32_t *)in->data)[i]);
    for (int64_t i = 0; i < g->shape[0]; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", i ? " " : "", ((const int32_t *)g->data)[i]);
    strcat(want, "\n");
    CHECK_EQ_INT(run(out, sizeof out, "generate --model %s --prompt-ids %s --max-tokens %lld --temp 0 --print-ids",
                     fixture("models/dev/llama"), ids, (long long)g->shape[0]), 0);
    CHECK_STR(out, want);
    llm_safetensors_close(ref);
}

static void test_hostile_model(void) {
    static char out[65536];
    const char *dir = "/tmp/llm_test_cli_bad";
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s && cp %s/config.json %s/ && head -c 3000 %s/model.safetensors > %s/model.safetensors",
             dir, dir, fixture("models/dev/llama"), dir, fixture("models/dev/llama"), dir);
    CHECK_EQ_INT(system(cmd), 0);
    CHECK_EQ_INT(run(out, sizeof out, "logits --model %s --ids 1,2", dir), 1);
    CHECK(strstr(out, "model.safetensors") && strstr(out, "outside the file"));
    snprintf(cmd, sizeof cmd, "printf '{\"model_type\": \"llama\"' > %s/config.json", dir);
    CHECK_EQ_INT(system(cmd), 0);
    CHECK_EQ_INT(run(out, sizeof out, "logits --model %s --ids 1,2", dir), 1);
    CHECK(strstr(out, "config.json") && strstr(out, "invalid JSON"));
    snprintf(cmd, sizeof cmd, "printf '{\"model_type\": \"nope\", \"vocab_size\": 5, \"hidden_size\": 4, \"num_hidden_layers\": 1, "
             "\"num_attention_heads\": 1, \"intermediate_size\": 4}' > %s/config.json", dir);
    CHECK_EQ_INT(system(cmd), 0);
    CHECK_EQ_INT(run(out, sizeof out, "logits --model %s --ids 1,2", dir), 1);
    CHECK(strstr(out, "'nope' is not supported") && strstr(out, "llama"));
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
}

/* Read from the pty until `needle` shows up (or timeout_ms passes); returns whether it did. */
static bool pty_expect(int fd, char *acc, size_t cap, const char *needle, int timeout_ms) {
    size_t n = strlen(acc);
    for (int waited = 0; waited < timeout_ms && !strstr(acc, needle); ) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 100) <= 0) { waited += 100; continue; }
        ssize_t got = read(fd, acc + n, cap - n - 1);
        if (got <= 0) break;
        n += (size_t)got;
        acc[n] = 0;
    }
    return strstr(acc, needle) != NULL;
}

static void test_chat_pty(void) {
    int fd;
    pid_t pid = forkpty(&fd, NULL, NULL, NULL);
    if (pid == 0) {
        execl(llm_bin(), llm_bin(), "chat", "--model", fixture("models/stories260K/stories260K.bin"), "--tokenizer",
              fixture("models/stories260K/tok512.bin"), "--max-tokens", "100000", "--max-kv-size", "512", "-t", "1", (char *)NULL);
        _exit(127);
    }
    static char acc[1 << 16];
    acc[0] = 0;
    CHECK(pty_expect(fd, acc, sizeof acc, ">> ", 20000));
    CHECK(write(fd, "h\r", 2) == 2);
    CHECK(pty_expect(fd, acc, sizeof acc, "Ctrl-C: stop", 20000));
    CHECK(write(fd, "Once upon a time\r", 17) == 17);
    CHECK(pty_expect(fd, acc, sizeof acc, "Lily", 20000));     /* the answer streams */
    CHECK(write(fd, "\x03", 1) == 1);                          /* Ctrl-C stops it, the REPL stays */
    acc[0] = 0;
    CHECK(pty_expect(fd, acc, sizeof acc, ">> ", 20000));
    CHECK(write(fd, "r\r", 2) == 2);
    CHECK(pty_expect(fd, acc, sizeof acc, "[conversation reset]", 20000));
    CHECK(write(fd, "q\r", 2) == 2);
    int st = 0;
    for (int i = 0; i < 200 && waitpid(pid, &st, WNOHANG) == 0; i++) usleep(50000);
    if (waitpid(pid, &st, WNOHANG) == 0) { kill(pid, SIGKILL); waitpid(pid, &st, 0); CHECK(!"chat did not quit on q"); }
    else CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(fd);
}

/* cache-prompt then generate --prompt-cache-file gives what one generate over the whole text gives. */
static void test_cache_prompt(void) {
    static char a[65536], b[65536];
    const char *M = fixture("models/stories260K");
    const char *path = "/tmp/llm_test_cli_cache.safetensors";
    CHECK_EQ_INT(run(a, sizeof a, "cache-prompt --model %s/stories260K.bin --tokenizer %s/tok512.bin -p 'Once upon a time, there was' "
                     "--prompt-cache-file %s --compress", M, M, path), 0);
    CHECK_EQ_INT(run(a, sizeof a, "generate --model %s/stories260K.bin --tokenizer %s/tok512.bin --prompt-cache-file %s -p ' a' -m 20 "
                     "--print-ids -t 1", M, M, path), 0);
    CHECK_EQ_INT(run(b, sizeof b, "generate --model %s/stories260K.bin --tokenizer %s/tok512.bin -p 'Once upon a time, there was a' -m 20 "
                     "--print-ids -t 1", M, M), 0);
    CHECK_STR(a, b);
    CHECK_EQ_INT(run(a, sizeof a, "generate --model %s/qwen3 --prompt-cache-file %s --prompt-ids 5 -m 2 --print-ids", fixture("models/dev"), path), 1);
    CHECK(strstr(a, "another model"));
    remove(path);
}

int main(void) {
    RUN(test_help_and_flags);
    RUN(test_logits_file);
    RUN(test_generate_ids);
    RUN(test_hostile_model);
    RUN(test_chat_pty);
    RUN(test_cache_prompt);
    return TEST_MAIN_END();
}
