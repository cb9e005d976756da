/* ---- >>base: errors, allocation, logging, files ----
   The pieces every other part uses: the thread-local error message (llm__fail), the
   allocator wrappers, the log hook, read-only file mappings, whole-file reads and atomic
   writes (temp file + rename). Nothing here knows about models. */
#include "10_internal.h"

LLM_API const char *llm_version(void) { return LLM_VERSION_STRING; }

LLM_API const char *llm_status_str(llm_status status) {
    static const char *const text[] = {
#define LLM__STATUS_TEXT(name, str) str,
        LLM_STATUS_LIST(LLM__STATUS_TEXT)
#undef LLM__STATUS_TEXT
    };
    return (unsigned)status < (unsigned)LLM_STATUS_COUNT ? text[status] : "unknown status";
}

/* ---- errors ---- */

static _Thread_local char llm__error_msg[1024];

LLM_API const char *llm_last_error(void) { return llm__error_msg; }

/* Record why something failed and return the status, so error exits are one line:
   `return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has %d dims", path, name, n);` */
LLM_PRIVATE llm_status llm__fail(llm_status status, const char *fmt, ...) LLM__PRINTF(2, 3);
LLM_PRIVATE llm_status llm__fail(llm_status status, const char *fmt, ...) {
#ifdef LLM_NO_ERROR_STRINGS
    (void)fmt;
    snprintf(llm__error_msg, sizeof llm__error_msg, "%s", llm_status_str(status));
#else
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(llm__error_msg, sizeof llm__error_msg, fmt, ap);
    va_end(ap);
#endif
    return status;
}

/* ---- logging ---- */

static void llm__log_default(llm_log_level level, const char *msg, void *user) {
    static const char *const names[] = { "error", "warn", "info", "debug" };
    (void)user;
#ifndef LLM_NO_STDIO
    if (level <= LLM_LOG_WARN) fprintf(stderr, "llm: %s: %s\n", names[level], msg);
#else
    (void)level; (void)msg; (void)names;
#endif
}

static llm_log_fn llm__log_fn = llm__log_default;
static void *llm__log_user;

LLM_API void llm_set_log(llm_log_fn fn, void *user) {
    llm__log_fn = fn ? fn : llm__log_default;
    llm__log_user = fn ? user : NULL;
}

LLM_PRIVATE void llm__log(llm_log_level level, const char *fmt, ...) LLM__PRINTF(2, 3);
LLM_PRIVATE void llm__log(llm_log_level level, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    llm__log_fn(level, msg, llm__log_user);
}

/* ---- allocation ----
   Objects keep the llm_allocator they were created with and pass it to their children.
   A NULL or zeroed allocator means aligned malloc. All sizes go through llm__alloc, which
   returns NULL on overflowed (SIZE_MAX) requests as well as on exhaustion. */

/* Large blocks (a session's activations and KV cache) ask for 2 MB pages where the kernel
   gives them on request (transparent huge pages in "madvise" mode): a prefill walks rows
   of [tokens, 8192] activations 32 KB apart, one 4 KB page each, and the TLB misses cost
   ~3% of a 1B prefill. */
static void llm__huge_pages(void *p, size_t bytes) {
#if defined(MADV_HUGEPAGE)
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1), hi = ((uintptr_t)p + bytes) & ~(huge - 1);
    if (p && hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)p, (void)bytes;
#endif
}

LLM_PRIVATE void *llm__alloc(const llm_allocator *a, size_t bytes) {
    if (bytes == 0) bytes = 1;
    if (bytes > SIZE_MAX - LLM__ALIGN) return NULL;
    if (a && a->alloc) return a->alloc(bytes, LLM__ALIGN, a->user);
    void *p = aligned_alloc(LLM__ALIGN, (bytes + LLM__ALIGN - 1) / LLM__ALIGN * LLM__ALIGN);
    llm__huge_pages(p, bytes);
    return p;
}

LLM_PRIVATE void *llm__calloc(const llm_allocator *a, size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) return NULL;
    void *p = llm__alloc(a, n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

LLM_PRIVATE void llm__free(const llm_allocator *a, void *p) {
    if (!p) return;
    if (a && a->free) a->free(p, a->user);
    else free(p);
}

/* Blobs the library hands to the caller (generated text, rendered templates) come from
   malloc, whatever allocator the objects use, so one free works for all of them. */
LLM_API void llm_free(void *ptr) { free(ptr); }

LLM_PRIVATE char *llm__strdup(const llm_allocator *a, const char *s) {
    size_t n = strlen(s) + 1;
    char *d = (char *)llm__alloc(a, n);
    if (d) memcpy(d, s, n);
    return d;
}

/* Checked size arithmetic for anything derived from file contents. */
LLM_PRIVATE bool llm__mul_ok(size_t a, size_t b, size_t *out) {
    if (a && b > SIZE_MAX / a) return false;
    *out = a * b;
    return true;
}

/* ---- paths ---- */

/* dir + "/" + name into buf; false if it does not fit. */
LLM_PRIVATE bool llm__path_join(char *buf, size_t cap, const char *dir, const char *name) {
    int n = snprintf(buf, cap, "%s%s%s", dir, (dir[0] && dir[strlen(dir) - 1] != '/') ? "/" : "", name);
    return n >= 0 && (size_t)n < cap;
}

/* The directory part of path ("." if none) into buf. */
LLM_PRIVATE void llm__path_dir(char *buf, size_t cap, const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) { snprintf(buf, cap, "."); return; }
    size_t n = (size_t)(slash - path);
    if (n == 0) n = 1;                                 /* "/file" -> "/" */
    snprintf(buf, cap, "%.*s", (int)LLM__MIN(n, cap - 1), path);
}

LLM_PRIVATE bool llm__is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

LLM_PRIVATE bool llm__file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

LLM_PRIVATE bool llm__ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* ---- read-only file mappings ---- */

typedef struct llm__mapping {
    const uint8_t *data;
    size_t size;
    bool heap;                  /* data is a malloc'd copy (a decompressed file), not a mapping */
} llm__mapping;

/* Map a whole file read-only. An empty file maps to size 0 and data NULL. */
LLM_PRIVATE llm_status llm__map_file(const char *path, llm__mapping *out) {
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return llm__fail(LLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return llm__fail(LLM_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return llm__fail(LLM_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
        }
        out->data = (const uint8_t *)p;
        out->size = (size_t)st.st_size;
    }
    close(fd);
    return LLM_OK;
}

LLM_PRIVATE void llm__unmap(llm__mapping *m) {
    if (m->heap) free((void *)m->data);
    else if (m->data) munmap((void *)m->data, m->size);
    memset(m, 0, sizeof *m);
}

/* The bytes [p, p + n) of a mapping were copied and will not be read again: their whole pages
   leave the resident set. Were they read after all, they would fault back in from the file,
   so this never changes what is read. Heap copies are left alone. */
LLM_PRIVATE void llm__map_release(const llm__mapping *m, const void *p, size_t n) {
    const uint8_t *b = (const uint8_t *)p;
    if (m->heap || !m->data || b < m->data || n > m->size || b - m->data > (ptrdiff_t)(m->size - n)) return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), lo = ((uintptr_t)b + page - 1) / page * page, hi = ((uintptr_t)b + n) / page * page;
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* Map a file, or, when it is one zstd frame (a compressed safetensors file), decompress it
   into memory. The decompressed size must be recorded in the frame and at most max_bytes. */
LLM_PRIVATE llm_status llm__map_file_zstd(const char *path, size_t max_bytes, llm__mapping *out) {
    llm_status s = llm__map_file(path, out);
    if (s || out->size < 4 || memcmp(out->data, "\x28\xb5\x2f\xfd", 4) != 0) return s;
#ifdef LLM_NO_ZSTD
    (void)max_bytes;
    llm__unmap(out);
    return llm__fail(LLM_ERR_UNSUPPORTED, "%s: zstd-compressed, and this build has LLM_NO_ZSTD", path);
#else
    unsigned long long n = ZSTD_getFrameContentSize(out->data, out->size);
    if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN || n > max_bytes) {
        llm__unmap(out);
        return llm__fail(LLM_ERR_FORMAT, "%s: zstd frame without a usable content size", path);
    }
    void *buf = malloc((size_t)n + 1);
    size_t got = buf ? ZSTD_decompress(buf, (size_t)n, out->data, out->size) : 0;
    llm__unmap(out);
    if (!buf) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory decompressing %llu bytes", path, n);
    if (ZSTD_isError(got) || got != n) { free(buf); return llm__fail(LLM_ERR_FORMAT, "%s: corrupt zstd data", path); }
    *out = (llm__mapping){ (const uint8_t *)buf, (size_t)n, true };
    return LLM_OK;
#endif
}

/* Read a whole file into a NUL-terminated buffer (for JSON and other small text files).
   Free with llm__free(a, *out). */
LLM_PRIVATE llm_status llm__read_file(const llm_allocator *a, const char *path, char **out, size_t *out_len) {
    FILE *f = fopen(path, "rb");
    if (!f) return llm__fail(LLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 65536) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *nb = (char *)llm__alloc(a, ncap + 1);
            if (!nb) { llm__free(a, buf); fclose(f); return llm__fail(LLM_ERR_NOMEM, "%s: out of memory reading file", path); }
            if (buf) memcpy(nb, buf, len);
            llm__free(a, buf);
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    bool err = ferror(f) != 0;
    fclose(f);
    if (err) { llm__free(a, buf); return llm__fail(LLM_ERR_IO, "%s: read error", path); }
    buf[len] = 0;
    *out = buf;
    if (out_len) *out_len = len;
    return LLM_OK;
}

/* ---- atomic writes ----
   Write to "<path>.tmp.<pid>" in the same directory, fsync, rename over path. A killed
   process leaves at most a stray temp file, never a truncated `path`. */

typedef struct llm__atomic_file {
    FILE *f;
    char tmp[4096];
    const char *path;
} llm__atomic_file;

LLM_PRIVATE llm_status llm__atomic_open(llm__atomic_file *af, const char *path) {
    memset(af, 0, sizeof *af);
    af->path = path;
    if (snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof af->tmp)
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", path);
    af->f = fopen(af->tmp, "wb");
    if (!af->f) return llm__fail(LLM_ERR_IO, "%s: cannot create: %s", af->tmp, strerror(errno));
    return LLM_OK;
}

LLM_PRIVATE llm_status llm__atomic_write(llm__atomic_file *af, const void *data, size_t n) {
    if (n && fwrite(data, 1, n, af->f) != n)
        return llm__fail(LLM_ERR_IO, "%s: write failed: %s", af->tmp, strerror(errno));
    return LLM_OK;
}

/* Finish (ok) or abandon (!ok) the file. Returns the first error. */
LLM_PRIVATE llm_status llm__atomic_close(llm__atomic_file *af, bool ok) {
    if (!af->f) return LLM_ERR_IO;
    bool flushed = fflush(af->f) == 0 && fsync(fileno(af->f)) == 0;
    bool closed = fclose(af->f) == 0;
    af->f = NULL;
    if (ok && (!flushed || !closed)) {
        ok = false;
        llm__fail(LLM_ERR_IO, "%s: write failed: %s", af->tmp, strerror(errno));
    }
    if (ok && rename(af->tmp, af->path) != 0) {
        llm__fail(LLM_ERR_IO, "%s: cannot rename into place: %s", af->path, strerror(errno));
        ok = false;
    }
    if (!ok) { remove(af->tmp); return LLM_ERR_IO; }
    return LLM_OK;
}

/* Write src's bytes to dst as one zstd frame, atomically. */
LLM_PRIVATE llm_status llm__compress_file(const char *src, const char *dst) {
#ifdef LLM_NO_ZSTD
    (void)src;
    return llm__fail(LLM_ERR_UNSUPPORTED, "%s: compression needs zstd (built with LLM_NO_ZSTD)", dst);
#else
    llm__mapping m;
    llm_status s = llm__map_file(src, &m);
    if (s) return s;
    size_t cap = ZSTD_compressBound(m.size);
    void *buf = malloc(cap);
    size_t n = buf ? ZSTD_compress(buf, cap, m.data, m.size, 3) : 0;
    llm__unmap(&m);
    if (!buf || ZSTD_isError(n)) { free(buf); return llm__fail(LLM_ERR_NOMEM, "%s: compression failed", dst); }
    llm__atomic_file af;
    s = llm__atomic_open(&af, dst);
    if (!s) s = llm__atomic_write(&af, buf, n);
    if (af.f) { llm_status c = llm__atomic_close(&af, s == LLM_OK); if (!s) s = c; }
    free(buf);
    return s;
#endif
}
