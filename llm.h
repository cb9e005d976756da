/* llm.h: generated from llm_impl/ - edit there, then run 'make llm.h'. */
/* ==== begin llm_impl/00_intro.h ==== */
/* llm.h - v0.1.0 - large language models in one C header: load, tokenize, generate - MIT

   (the tour is written at the end of this file's first version)
*/
/* ==== end llm_impl/00_intro.h ==== */
#ifndef LLM_H_INCLUDED
#define LLM_H_INCLUDED
/* ==== begin llm_impl/01_config.h ==== */
/* Platform detection and the user-facing configuration macros (see the table in the tour).
   Everything here may be defined by the user before including llm.h. */
#if defined(LLM_IMPLEMENTATION) && !defined(_WIN32) && !defined(_GNU_SOURCE)
/* mmap, pthreads, sysconf under -std=c11: include llm.h first in the implementation file */
#define _GNU_SOURCE 1
#endif
#ifndef LLM_API
#  ifdef LLM_STATIC
#    define LLM_API static
#  elif defined(LLM_SHARED) && defined(_WIN32)
#    ifdef LLM_BUILD
#      define LLM_API __declspec(dllexport)
#    else
#      define LLM_API __declspec(dllimport)
#    endif
#  elif defined(LLM_SHARED)
#    define LLM_API __attribute__((visibility("default")))
#  else
#    define LLM_API extern
#  endif
#endif

#ifndef LLM_MAX_DIMS
#define LLM_MAX_DIMS 4        /* tensors have at most this many dimensions */
#endif
#ifndef LLM_THREADS
#define LLM_THREADS 0         /* default pool size; 0 = number of online cores */
#endif
/* ==== end llm_impl/01_config.h ==== */
/* ==== begin llm_impl/02_api_core.h ==== */
/* ---- >>core: version, status codes, errors, allocator, logging ---- */
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LLM_VERSION_MAJOR 0
#define LLM_VERSION_MINOR 1
#define LLM_VERSION_PATCH 0
#define LLM_VERSION_STRING "0.1.0"

/* The library version as a string, e.g. "0.1.0". */
LLM_API const char *llm_version(void);

/* Every fallible function returns one of these. LLM_OK is 0. */
#define LLM_STATUS_LIST(X)                                               \
    X(OK,              "ok")                                             \
    X(ERR_NOMEM,       "out of memory")                                  \
    X(ERR_IO,          "file read/write failed")                         \
    X(ERR_FORMAT,      "malformed file")                                 \
    X(ERR_UNSUPPORTED, "unsupported architecture, dtype or feature")     \
    X(ERR_INVALID_ARG, "invalid argument")                               \
    X(ERR_CONTEXT_FULL,"context (kv cache) is full")                     \
    X(ERR_NOT_FOUND,   "not found")

typedef enum llm_status {
#define LLM__STATUS_ENUM(name, text) LLM_##name,
    LLM_STATUS_LIST(LLM__STATUS_ENUM)
#undef LLM__STATUS_ENUM
    LLM_STATUS_COUNT
} llm_status;

/* A short fixed description of a status code ("malformed file"). */
LLM_API const char *llm_status_str(llm_status status);

/* A human-readable message about the last failure on this thread, naming the file,
   tensor or field and what was expected vs. found. Valid until the next failing call
   on this thread. "" when nothing has failed yet. */
LLM_API const char *llm_last_error(void);

/* Memory hooks. A zeroed struct means the malloc-based default; set both functions or
   neither. Weights mapped from files never go through the allocator. */
typedef struct llm_allocator {
    void *(*alloc)(size_t bytes, size_t align, void *user);
    void  (*free)(void *ptr, void *user);
    void  *user;
} llm_allocator;

/* Log hook. The library logs events (what was loaded, how big), never errors it also
   returns. Default: WARN and ERROR to stderr. The callback must be thread-safe. */
typedef enum llm_log_level { LLM_LOG_ERROR, LLM_LOG_WARN, LLM_LOG_INFO, LLM_LOG_DEBUG } llm_log_level;
typedef void (*llm_log_fn)(llm_log_level level, const char *msg, void *user);
LLM_API void llm_set_log(llm_log_fn fn, void *user);   /* fn NULL: back to the default */

/* Token ids. */
typedef int32_t llm_token;

/* A persistent pool of worker threads (the caller's thread is worker 0). Sessions make
   their own unless given one; share one pool between sessions used from one thread.
   n_threads <= 0 means the number of online cores. Free with llm_pool_destroy(). */
typedef struct llm_pool llm_pool;
LLM_API llm_status llm_pool_create(int n_threads, llm_pool **out_pool);
LLM_API void       llm_pool_destroy(llm_pool *pool);
LLM_API int        llm_pool_n_threads(const llm_pool *pool);
/* ==== end llm_impl/02_api_core.h ==== */
/* ==== begin llm_impl/03_api_tensor.h ==== */
/* ---- >>tensor: dtypes and tensors ----
   A tensor is a typed, row-major view of memory: shape[0] is the outermost dimension,
   as in numpy, safetensors and Hugging Face (a Linear weight is [out, in]). Every dtype is
   stored in blocks: block_elems elements take block_bytes bytes (1 and 4 for f32; 32 and
   34 for a q8_0 block), so quantized types fit the same description. */
typedef enum llm_dtype {
    LLM_DTYPE_F32,
    LLM_DTYPE_F16,
    LLM_DTYPE_BF16,
    LLM_DTYPE_F64,
    LLM_DTYPE_I8,
    LLM_DTYPE_U8,
    LLM_DTYPE_I16,
    LLM_DTYPE_I32,
    LLM_DTYPE_I64,
    LLM_DTYPE_U32,
    LLM_DTYPE_BOOL,
    /* llama.cpp's block-quantized types (GGUF); layouts in the quantization part */
    LLM_DTYPE_Q4_0,
    LLM_DTYPE_Q4_1,
    LLM_DTYPE_Q5_0,
    LLM_DTYPE_Q5_1,
    LLM_DTYPE_Q8_0,
    LLM_DTYPE_Q2_K,
    LLM_DTYPE_Q3_K,
    LLM_DTYPE_Q4_K,
    LLM_DTYPE_Q5_K,
    LLM_DTYPE_Q6_K,
    LLM_DTYPE_Q8_K,
    LLM_DTYPE_COUNT
} llm_dtype;

typedef struct llm_dtype_info {
    const char *name;          /* "f32", "bf16", ... */
    const char *st_name;       /* safetensors spelling ("F32", "BF16"), NULL if none */
    int32_t     block_elems;   /* elements per block */
    int32_t     block_bytes;   /* bytes per block */
    bool        is_float;      /* usable as weights for the float kernels */
} llm_dtype_info;

/* Facts about a dtype; NULL for an out-of-range value. */
LLM_API const llm_dtype_info *llm_dtype_get(llm_dtype dtype);

typedef struct llm_tensor {
    const char *name;                 /* borrowed; valid as long as the owner */
    llm_dtype   dtype;
    int32_t     n_dims;               /* 0..LLM_MAX_DIMS (0 = scalar) */
    int64_t     shape[LLM_MAX_DIMS];  /* shape[0] outermost */
    void       *data;                 /* often a view into a memory-mapped file */
    size_t      n_bytes;
} llm_tensor;

/* Number of elements (product of the shape; 1 for a scalar). */
LLM_API int64_t llm_tensor_n_elems(const llm_tensor *t);

/* Bytes needed for n elements of dtype (n must be a multiple of the block size);
   0 when it is not or on overflow. */
LLM_API size_t llm_dtype_n_bytes(llm_dtype dtype, int64_t n);

/* Convert n elements between float types (f32, f16, bf16). Rounds to nearest even. */
LLM_API void llm_convert(llm_dtype to, void *dst, llm_dtype from, const void *src, int64_t n);
/* ==== end llm_impl/03_api_tensor.h ==== */
/* ==== begin llm_impl/04_api_model.h ==== */
/* (filled in below) */
/* ==== end llm_impl/04_api_model.h ==== */
/* ==== begin llm_impl/05_api_text.h ==== */
/* (filled in below) */
/* ==== end llm_impl/05_api_text.h ==== */
/* ==== begin llm_impl/06_api_infer.h ==== */
/* (filled in below) */
/* ==== end llm_impl/06_api_infer.h ==== */
/* ==== begin llm_impl/07_api_files.h ==== */
/* ---- >>files: safetensors reading and writing ----
   Reading maps the file(s) read-only; tensors are views into the mapping and stay valid
   until llm_safetensors_close(). Every header is validated before any tensor is handed
   out: offsets inside the file, sorted and non-overlapping, byte length == dtype size x
   shape, known dtypes. */
typedef struct llm_safetensors llm_safetensors;

/* Open `path`: one .safetensors file, a sharded model's model.safetensors.index.json,
   or a directory holding either. Free with llm_safetensors_close().
   Errors: LLM_ERR_IO (cannot open/map), LLM_ERR_FORMAT (bad header, with details),
   LLM_ERR_NOMEM. */
LLM_API llm_status llm_safetensors_open(const char *path, llm_safetensors **out_st);
LLM_API void       llm_safetensors_close(llm_safetensors *st);

LLM_API int64_t           llm_safetensors_n_tensors(const llm_safetensors *st);
/* i-th tensor (in file order, shard by shard); valid until close. */
LLM_API const llm_tensor *llm_safetensors_tensor(const llm_safetensors *st, int64_t i);
/* Tensor by name, or NULL. */
LLM_API const llm_tensor *llm_safetensors_find(const llm_safetensors *st, const char *name);
/* A "__metadata__" string of the (first) file, or NULL. */
LLM_API const char       *llm_safetensors_metadata(const llm_safetensors *st, const char *key);

/* Write tensors to `path` atomically (a temp file in the same folder, then rename):
   a killed process never leaves a half-written file under `path`.
   meta: n_meta key/value pairs for "__metadata__" (meta[2*i] = key, meta[2*i+1] = value).
   Tensors are written in the order given, back to back after an 8-byte aligned header. */
LLM_API llm_status llm_safetensors_write(const char *path, const llm_tensor *tensors, int64_t n_tensors,
                                         const char *const *meta, int64_t n_meta);
/* ==== end llm_impl/07_api_files.h ==== */
/* ==== begin llm_impl/09_api_end.h ==== */
#ifdef __cplusplus
}
#endif
/* ==== end llm_impl/09_api_end.h ==== */
#endif /* LLM_H_INCLUDED */

/* ======================================================================
   API ends here; the implementation follows. You can stop reading.     
   ====================================================================== */

#ifdef LLM_IMPLEMENTATION
#ifndef LLM_IMPLEMENTATION_INCLUDED
#define LLM_IMPLEMENTATION_INCLUDED
/* ==== begin llm_impl/10_internal.h ==== */
/* ---- >>internal: includes, private macros, helpers shared by all parts ----
   The implementation starts here. Private names are llm__x (functions, types) and
   LLM__X (macros); they are not part of the API and may change. */
/* #include "01_config.h" (already above) */
/* #include "02_api_core.h" (already above) */
/* #include "03_api_tensor.h" (already above) */
/* #include "04_api_model.h" (already above) */
/* #include "05_api_text.h" (already above) */
/* #include "06_api_infer.h" (already above) */
/* #include "07_api_files.h" (already above) */
/* #include "09_api_end.h" (already above) */

#include <assert.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#ifndef LLM_NO_THREADS
#include <pthread.h>
#include <stdatomic.h>
#endif
#ifndef LLM_NO_CJSON
#include <cjson/cJSON.h>
#endif
#if defined(__AVX2__) && defined(__FMA__) && !defined(LLM_NO_SIMD) && !defined(LLM_NO_AVX2)
#define LLM__AVX2 1
#include <immintrin.h>
#endif

#ifndef LLM_ASSERT
#define LLM_ASSERT(x) assert(x)      /* programmer errors only, never file contents */
#endif

#if defined(__GNUC__) || defined(__clang__)
#define LLM_PRIVATE static __attribute__((unused))
#define LLM__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LLM_PRIVATE static
#define LLM__PRINTF(a, b)
#endif

#define LLM__MIN(a, b) ((a) < (b) ? (a) : (b))
#define LLM__MAX(a, b) ((a) > (b) ? (a) : (b))
#define LLM__COUNT(arr) ((int64_t)(sizeof(arr) / sizeof((arr)[0])))
#define LLM__ALIGN 64                /* kernels like cache-line aligned buffers */
/* ==== end llm_impl/10_internal.h ==== */
/* ==== begin llm_impl/11_base.c ==== */
/* ---- >>base: errors, allocation, logging, files ----
   The pieces every other part uses: the thread-local error message (llm__fail), the
   allocator wrappers, the log hook, read-only file mappings, whole-file reads and atomic
   writes (temp file + rename). Nothing here knows about models. */
/* #include "10_internal.h" (already above) */

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

LLM_PRIVATE void *llm__alloc(const llm_allocator *a, size_t bytes) {
    if (bytes == 0) bytes = 1;
    if (bytes > SIZE_MAX - LLM__ALIGN) return NULL;
    if (a && a->alloc) return a->alloc(bytes, LLM__ALIGN, a->user);
    return aligned_alloc(LLM__ALIGN, (bytes + LLM__ALIGN - 1) / LLM__ALIGN * LLM__ALIGN);
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
    if (m->data) munmap((void *)m->data, m->size);
    memset(m, 0, sizeof *m);
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
/* ==== end llm_impl/11_base.c ==== */
/* ==== begin llm_impl/12_threads.c ==== */
/* ---- >>threads: a small persistent pool ----
   One primitive: llm__parallel_for(pool, fn, ctx) runs fn(ctx, ith, nth) for ith = 0..nth-1,
   ith = 0 on the calling thread, and returns when all are done. Work is split the ggml way:
   each task derives its own slice (rows of a matmul, heads of attention) from ith/nth.
   Workers spin briefly between calls (a decode step issues a few hundred calls, too many for
   a sleep/wake each), then sleep on a condition variable so an idle pool costs nothing.
   No allocation and no thread creation per call. LLM_NO_THREADS runs everything inline. */
/* #include "10_internal.h" (already above) */

typedef void (*llm__task_fn)(void *ctx, int ith, int nth);

#ifndef LLM_NO_THREADS
struct llm_pool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    atomic_uint generation;        /* bumped once per parallel_for */
    atomic_int n_done;             /* workers finished with the current generation */
    atomic_bool stop;
    llm__task_fn fn;               /* the current task, published before generation++ */
    void *ctx;
    struct llm__worker_arg *args;  /* one per worker thread */
};

typedef struct llm__worker_arg { llm_pool *pool; int ith; } llm__worker_arg;

static inline void llm__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static void *llm__worker(void *arg_) {
    llm__worker_arg *arg = (llm__worker_arg *)arg_;
    llm_pool *p = arg->pool;
    int ith = arg->ith;
    unsigned seen = 0;
    for (;;) {
        /* spin for the next generation, then sleep */
        for (int spin = 0; spin < 20000 && atomic_load_explicit(&p->generation, memory_order_acquire) == seen; spin++)
            llm__cpu_relax();
        if (atomic_load_explicit(&p->generation, memory_order_acquire) == seen) {
            pthread_mutex_lock(&p->mu);
            while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) break;
        seen = atomic_load_explicit(&p->generation, memory_order_acquire);
        p->fn(p->ctx, ith, p->n_threads);
        atomic_fetch_add_explicit(&p->n_done, 1, memory_order_acq_rel);
    }
    return NULL;
}

static int llm__online_cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)LLM__MIN(n, 256) : 1;
}

LLM_API llm_status llm_pool_create(int n_threads, llm_pool **out_pool) {
    if (n_threads <= 0) n_threads = LLM_THREADS > 0 ? LLM_THREADS : llm__online_cores();
    if (n_threads > 1024) return llm__fail(LLM_ERR_INVALID_ARG, "thread pool: %d threads is too many", n_threads);
    llm_pool *p = (llm_pool *)calloc(1, sizeof *p);
    llm__worker_arg *args = (llm__worker_arg *)calloc((size_t)n_threads, sizeof *args);
    if (p) p->threads = (pthread_t *)calloc((size_t)n_threads, sizeof *p->threads);
    if (!p || !args || !p->threads) {
        if (p) free(p->threads);
        free(p); free(args);
        return llm__fail(LLM_ERR_NOMEM, "thread pool: out of memory");
    }
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    p->args = args;
    for (int i = 1; i < n_threads; i++) {
        args[i].pool = p;
        args[i].ith = i;
        if (pthread_create(&p->threads[i], NULL, llm__worker, &args[i]) != 0) {
            p->n_threads = i;               /* join the ones that started */
            llm_pool_destroy(p);
            return llm__fail(LLM_ERR_NOMEM, "thread pool: cannot start thread %d", i);
        }
    }
    *out_pool = p;
    return LLM_OK;
}

LLM_API void llm_pool_destroy(llm_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    free(p->threads);
    free(p->args);
    free(p);
}

LLM_API int llm_pool_n_threads(const llm_pool *p) { return p ? p->n_threads : 1; }

LLM_PRIVATE void llm__parallel_for(llm_pool *p, llm__task_fn fn, void *ctx) {
    if (!p || p->n_threads == 1) { fn(ctx, 0, 1); return; }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->n_done, 0, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->n_threads);
    while (atomic_load_explicit(&p->n_done, memory_order_acquire) != p->n_threads - 1) llm__cpu_relax();
}
#else  /* LLM_NO_THREADS */
struct llm_pool { int n_threads; };
LLM_API llm_status llm_pool_create(int n_threads, llm_pool **out_pool) {
    (void)n_threads;
    llm_pool *p = (llm_pool *)calloc(1, sizeof *p);
    if (!p) return llm__fail(LLM_ERR_NOMEM, "thread pool: out of memory");
    p->n_threads = 1;
    *out_pool = p;
    return LLM_OK;
}
LLM_API void llm_pool_destroy(llm_pool *p) { free(p); }
LLM_API int llm_pool_n_threads(const llm_pool *p) { (void)p; return 1; }
LLM_PRIVATE void llm__parallel_for(llm_pool *p, llm__task_fn fn, void *ctx) { (void)p; fn(ctx, 0, 1); }
#endif

/* The slice [*lo, *hi) of n items that task ith of nth owns (contiguous, balanced). */
static inline void llm__split(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi) {
    *lo = n * ith / nth;
    *hi = n * (ith + 1) / nth;
}
/* ==== end llm_impl/12_threads.c ==== */
/* ==== begin llm_impl/13_json.c ==== */
/* ---- >>json: reading JSON files with cJSON ----
   Config files, tokenizer files and safetensors headers are JSON. These helpers parse with
   a clear error (file, line, column) and read typed fields with defaults, so that a parser
   of a config reads as a list of fields. */
/* #include "10_internal.h" (already above) */

#ifndef LLM_NO_CJSON
/* Parse `len` bytes of JSON. `what` names the source in errors (a path). */
LLM_PRIVATE llm_status llm__json_parse(const char *text, size_t len, const char *what, cJSON **out) {
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!j) {
        size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        int line = 1, col = 1;
        for (size_t i = 0; i < at; i++) { if (text[i] == '\n') { line++; col = 1; } else col++; }
        return llm__fail(LLM_ERR_FORMAT, "%s: invalid JSON at line %d, column %d", what, line, col);
    }
    *out = j;
    return LLM_OK;
}

LLM_PRIVATE llm_status llm__json_load(const char *path, cJSON **out) {
    char *text = NULL;
    size_t len = 0;
    llm_status s = llm__read_file(NULL, path, &text, &len);
    if (s) return s;
    s = llm__json_parse(text, len, path, out);
    llm__free(NULL, text);
    return s;
}

LLM_PRIVATE const cJSON *llm__json_get(const cJSON *obj, const char *key) {
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

LLM_PRIVATE bool llm__json_has(const cJSON *obj, const char *key) {
    const cJSON *v = llm__json_get(obj, key);
    return v && !cJSON_IsNull(v);
}

LLM_PRIVATE double llm__json_num(const cJSON *obj, const char *key, double dflt) {
    const cJSON *v = llm__json_get(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

LLM_PRIVATE int64_t llm__json_int(const cJSON *obj, const char *key, int64_t dflt) {
    const cJSON *v = llm__json_get(obj, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= -9.0e15 && v->valuedouble <= 9.0e15)) return dflt;
    return (int64_t)v->valuedouble;
}

LLM_PRIVATE bool llm__json_bool(const cJSON *obj, const char *key, bool dflt) {
    const cJSON *v = llm__json_get(obj, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

LLM_PRIVATE const char *llm__json_str(const cJSON *obj, const char *key, const char *dflt) {
    const cJSON *v = llm__json_get(obj, key);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}
#endif
/* ==== end llm_impl/13_json.c ==== */
/* ==== begin llm_impl/20_tensor.c ==== */
/* ---- >>tensor: dtype table and float conversions ----
   f16 and bf16 are converted with integer arithmetic (round to nearest even), so the scalar
   path needs no hardware support; the kernels use F16C/NEON where they can. */
/* #include "10_internal.h" (already above) */

static const llm_dtype_info llm__dtypes[LLM_DTYPE_COUNT] = {
    [LLM_DTYPE_F32]  = { "f32",  "F32",  1, 4, true  },
    [LLM_DTYPE_F16]  = { "f16",  "F16",  1, 2, true  },
    [LLM_DTYPE_BF16] = { "bf16", "BF16", 1, 2, true  },
    [LLM_DTYPE_F64]  = { "f64",  "F64",  1, 8, false },
    [LLM_DTYPE_I8]   = { "i8",   "I8",   1, 1, false },
    [LLM_DTYPE_U8]   = { "u8",   "U8",   1, 1, false },
    [LLM_DTYPE_I16]  = { "i16",  "I16",  1, 2, false },
    [LLM_DTYPE_I32]  = { "i32",  "I32",  1, 4, false },
    [LLM_DTYPE_I64]  = { "i64",  "I64",  1, 8, false },
    [LLM_DTYPE_U32]  = { "u32",  "U32",  1, 4, false },
    [LLM_DTYPE_BOOL] = { "bool", "BOOL", 1, 1, false },
    [LLM_DTYPE_Q4_0] = { "q4_0", NULL,  32,  18, false },
    [LLM_DTYPE_Q4_1] = { "q4_1", NULL,  32,  20, false },
    [LLM_DTYPE_Q5_0] = { "q5_0", NULL,  32,  22, false },
    [LLM_DTYPE_Q5_1] = { "q5_1", NULL,  32,  24, false },
    [LLM_DTYPE_Q8_0] = { "q8_0", NULL,  32,  34, false },
    [LLM_DTYPE_Q2_K] = { "q2_K", NULL, 256,  84, false },
    [LLM_DTYPE_Q3_K] = { "q3_K", NULL, 256, 110, false },
    [LLM_DTYPE_Q4_K] = { "q4_K", NULL, 256, 144, false },
    [LLM_DTYPE_Q5_K] = { "q5_K", NULL, 256, 176, false },
    [LLM_DTYPE_Q6_K] = { "q6_K", NULL, 256, 210, false },
    [LLM_DTYPE_Q8_K] = { "q8_K", NULL, 256, 292, false },
};

LLM_API const llm_dtype_info *llm_dtype_get(llm_dtype dtype) {
    return (unsigned)dtype < (unsigned)LLM_DTYPE_COUNT ? &llm__dtypes[dtype] : NULL;
}

LLM_API size_t llm_dtype_n_bytes(llm_dtype dtype, int64_t n) {
    const llm_dtype_info *d = llm_dtype_get(dtype);
    if (!d || n < 0 || n % d->block_elems) return 0;
    size_t bytes;
    return llm__mul_ok((size_t)(n / d->block_elems), (size_t)d->block_bytes, &bytes) ? bytes : 0;
}

LLM_API int64_t llm_tensor_n_elems(const llm_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->n_dims; i++) n *= t->shape[i];
    return n;
}

static inline uint32_t llm__f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float llm__bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static inline float llm__bf16_to_f32(uint16_t h) { return llm__bits_f32((uint32_t)h << 16); }

static inline uint16_t llm__f32_to_bf16(float f) {
    uint32_t u = llm__f32_bits(f);
    if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 0x40);   /* quiet NaN */
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

static inline float llm__f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) return llm__bits_f32(sign | 0x7f800000 | (man << 13));      /* inf/NaN */
    if (exp == 0) {                                                              /* subnormal */
        float f = (float)man * (1.0f / 16777216.0f);                             /* man * 2^-24 */
        return sign ? -f : f;
    }
    return llm__bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

static inline uint16_t llm__f32_to_f16(float f) {
    uint32_t u = llm__f32_bits(f), sign = (u >> 16) & 0x8000;
    uint32_t a = u & 0x7fffffff;
    if (a > 0x7f800000) return (uint16_t)(sign | 0x7e00);                        /* NaN */
    if (a >= 0x477ff000) return (uint16_t)(sign | 0x7c00);                       /* overflow -> inf */
    if (a < 0x38800000) {                                                        /* subnormal or 0 */
        /* scale into the subnormal range; float addition rounds to nearest even */
        float r = llm__bits_f32(a) + 0.5f;
        return (uint16_t)(sign | (llm__f32_bits(r) - 0x3f000000u));
    }
    uint32_t rounded = a + 0xfff + ((a >> 13) & 1);
    return (uint16_t)(sign | ((rounded - 0x38000000u) >> 13));
}

LLM_API void llm_convert(llm_dtype to, void *dst, llm_dtype from, const void *src, int64_t n) {
    LLM_ASSERT((to == LLM_DTYPE_F32 || to == LLM_DTYPE_F16 || to == LLM_DTYPE_BF16) &&
               (from == LLM_DTYPE_F32 || from == LLM_DTYPE_F16 || from == LLM_DTYPE_BF16));
    for (int64_t i = 0; i < n; i++) {
        float v;
        switch (from) {
        case LLM_DTYPE_F16:  v = llm__f16_to_f32(((const uint16_t *)src)[i]); break;
        case LLM_DTYPE_BF16: v = llm__bf16_to_f32(((const uint16_t *)src)[i]); break;
        default:             v = ((const float *)src)[i]; break;
        }
        switch (to) {
        case LLM_DTYPE_F16:  ((uint16_t *)dst)[i] = llm__f32_to_f16(v); break;
        case LLM_DTYPE_BF16: ((uint16_t *)dst)[i] = llm__f32_to_bf16(v); break;
        default:             ((float *)dst)[i] = v; break;
        }
    }
}
/* ==== end llm_impl/20_tensor.c ==== */
/* ==== begin llm_impl/31_safetensors.c ==== */
/* ---- >>safetensors: validated mmap reader, sharded models, atomic writer ----
   Format: u64 little-endian header length N, N bytes of JSON
   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
   then the data region; offsets are relative to it. We accept a header only when every
   tensor has a known dtype, a shape of at most LLM_MAX_DIMS non-negative dims, and
   end - begin == bytes(dtype, shape), and the tensors tile the data region exactly
   (sorted by offset: no gap, no overlap, nothing past the end), as the reference
   implementation requires. Sharded models list their files in model.safetensors.index.json. */
/* #include "10_internal.h" (already above) */

#define LLM__ST_MAX_HEADER (100u << 20)   /* the reference implementation's limit */

typedef struct llm__st_file {
    char *path;
    llm__mapping map;
} llm__st_file;

struct llm_safetensors {
    llm__st_file *files;
    int n_files;
    llm_tensor *tensors;        /* all shards, file order */
    int64_t n_tensors;
    int64_t *by_name;           /* indices into tensors, sorted by name */
    char **names;               /* owned names (tensors[i].name points here) */
    cJSON *metadata;            /* first file's __metadata__, owned */
};

static llm_status llm__st_dtype(const char *s, llm_dtype *out) {
    for (int i = 0; i < LLM_DTYPE_COUNT; i++)
        if (llm__dtypes[i].st_name && strcmp(llm__dtypes[i].st_name, s) == 0) { *out = (llm_dtype)i; return LLM_OK; }
    return LLM_ERR_UNSUPPORTED;
}

typedef struct { uint64_t begin, end; int64_t idx; } llm__st_span;

static int llm__st_span_cmp(const void *a, const void *b) {
    const llm__st_span *x = (const llm__st_span *)a, *y = (const llm__st_span *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

/* Parse one tensor entry of the header into t (name not set). */
static llm_status llm__st_parse_entry(const char *path, const cJSON *e, const uint8_t *data, uint64_t data_size,
                                      llm_tensor *t, llm__st_span *span) {
    const char *name = e->string;
    const cJSON *dt = llm__json_get(e, "dtype"), *shape = llm__json_get(e, "shape");
    const cJSON *offs = llm__json_get(e, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' needs dtype, shape and data_offsets [begin, end]", path, name);
    if (llm__st_dtype(dt->valuestring, &t->dtype))
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has unknown dtype '%s'", path, name, dt->valuestring);
    int n_dims = cJSON_GetArraySize(shape);
    if (n_dims > LLM_MAX_DIMS)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has %d dims (at most %d)", path, name, n_dims, LLM_MAX_DIMS);
    t->n_dims = n_dims;
    size_t n_elems = 1;
    for (int i = 0; i < n_dims; i++) {
        const cJSON *d = cJSON_GetArrayItem(shape, i);
        if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > 9.0e15 || d->valuedouble != (double)(int64_t)d->valuedouble)
            return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has a bad shape entry", path, name);
        t->shape[i] = (int64_t)d->valuedouble;
        if (!llm__mul_ok(n_elems, (size_t)t->shape[i], &n_elems) || n_elems > (size_t)INT64_MAX)
            return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has a shape whose size overflows", path, name);
    }
    const cJSON *b = cJSON_GetArrayItem(offs, 0), *en = cJSON_GetArrayItem(offs, 1);
    if (!cJSON_IsNumber(b) || !cJSON_IsNumber(en) || b->valuedouble < 0 || en->valuedouble < b->valuedouble ||
        en->valuedouble > (double)data_size)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has data_offsets outside the file's %llu data bytes",
                         path, name, (unsigned long long)data_size);
    span->begin = (uint64_t)b->valuedouble;
    span->end = (uint64_t)en->valuedouble;
    size_t want = llm_dtype_n_bytes(t->dtype, (int64_t)n_elems);
    if ((n_elems && !want) || span->end - span->begin != want)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is %s %s with %zu elements = %zu bytes, but data_offsets span %llu bytes",
                         path, name, dt->valuestring, n_dims ? "array" : "scalar", n_elems, want,
                         (unsigned long long)(span->end - span->begin));
    t->data = (void *)(data + span->begin);
    t->n_bytes = want;
    return LLM_OK;
}

/* Map one file and append its tensors (names owned by st). */
static llm_status llm__st_open_file(llm_safetensors *st, const char *path) {
    llm__st_file *f = &st->files[st->n_files];
    llm_status s = llm__map_file(path, &f->map);
    if (s) return s;
    f->path = llm__strdup(NULL, path);
    st->n_files++;
    if (!f->path) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    if (f->map.size < 8) return llm__fail(LLM_ERR_FORMAT, "%s: file too short for a safetensors header (%zu bytes)", path, f->map.size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | f->map.data[i];
    if (hlen > f->map.size - 8)
        return llm__fail(LLM_ERR_FORMAT, "%s: header length %llu runs past the end of the file (%zu bytes)", path,
                         (unsigned long long)hlen, f->map.size);
    if (hlen > LLM__ST_MAX_HEADER) return llm__fail(LLM_ERR_FORMAT, "%s: header of %llu bytes is too large", path, (unsigned long long)hlen);
    const uint8_t *data = f->map.data + 8 + hlen;
    uint64_t data_size = f->map.size - 8 - hlen;

    cJSON *hdr = NULL;
    s = llm__json_parse((const char *)f->map.data + 8, (size_t)hlen, path, &hdr);
    if (s) return s;
    if (!cJSON_IsObject(hdr)) { cJSON_Delete(hdr); return llm__fail(LLM_ERR_FORMAT, "%s: header is not a JSON object", path); }

    int64_t n_new = 0;
    for (const cJSON *e = hdr->child; e; e = e->next) n_new += strcmp(e->string, "__metadata__") != 0;
    llm_tensor *nt = (llm_tensor *)realloc(st->tensors, (size_t)(st->n_tensors + n_new) * sizeof *nt + 1);
    char **nn = (char **)realloc(st->names, (size_t)(st->n_tensors + n_new) * sizeof *nn + 1);
    llm__st_span *spans = (llm__st_span *)calloc((size_t)n_new + 1, sizeof *spans);
    if (nt) st->tensors = nt;
    if (nn) st->names = nn;
    if (!nt || !nn || !spans) { free(spans); cJSON_Delete(hdr); return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); }

    int64_t k = 0;
    for (const cJSON *e = hdr->child; e && !s; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(e)) s = llm__fail(LLM_ERR_FORMAT, "%s: __metadata__ is not an object", path);
            else if (!st->metadata) st->metadata = cJSON_Duplicate(e, true);
            continue;
        }
        llm_tensor *t = &st->tensors[st->n_tensors];
        memset(t, 0, sizeof *t);
        s = llm__st_parse_entry(path, e, data, data_size, t, &spans[k]);
        if (s) break;
        st->names[st->n_tensors] = llm__strdup(NULL, e->string);
        if (!st->names[st->n_tensors]) { s = llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); break; }
        t->name = st->names[st->n_tensors];
        spans[k].idx = st->n_tensors++;
        k++;
    }
    if (!s) {   /* the tensors must tile the data region exactly */
        qsort(spans, (size_t)k, sizeof *spans, llm__st_span_cmp);
        uint64_t at = 0;
        for (int64_t i = 0; i < k && !s; i++) {
            if (spans[i].begin != at)
                s = llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' at data offset %llu %s the previous tensor (which ends at %llu)",
                              path, st->tensors[spans[i].idx].name, (unsigned long long)spans[i].begin,
                              spans[i].begin < at ? "overlaps" : "leaves a gap after", (unsigned long long)at);
            at = spans[i].end;
        }
        if (!s && at != data_size)
            s = llm__fail(LLM_ERR_FORMAT, "%s: tensors cover %llu of the %llu data bytes", path,
                          (unsigned long long)at, (unsigned long long)data_size);
    }
    free(spans);
    cJSON_Delete(hdr);
    return s;
}

static const llm_safetensors *llm__st_sort_ctx;   /* qsort has no context argument */
static int llm__st_name_cmp(const void *a, const void *b) {
    return strcmp(llm__st_sort_ctx->tensors[*(const int64_t *)a].name, llm__st_sort_ctx->tensors[*(const int64_t *)b].name);
}

static llm_status llm__st_index(llm_safetensors *st) {
    st->by_name = (int64_t *)malloc((size_t)st->n_tensors * sizeof *st->by_name + 1);
    if (!st->by_name) return llm__fail(LLM_ERR_NOMEM, "safetensors: out of memory");
    for (int64_t i = 0; i < st->n_tensors; i++) st->by_name[i] = i;
    llm__st_sort_ctx = st;
    qsort(st->by_name, (size_t)st->n_tensors, sizeof *st->by_name, llm__st_name_cmp);
    for (int64_t i = 1; i < st->n_tensors; i++)
        if (strcmp(st->tensors[st->by_name[i]].name, st->tensors[st->by_name[i - 1]].name) == 0)
            return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' appears twice", st->files[0].path, st->tensors[st->by_name[i]].name);
    return LLM_OK;
}

/* Open the shards listed by an index file, then check every listed tensor is where the
   index says. */
static llm_status llm__st_open_index(llm_safetensors *st, const char *index_path) {
    cJSON *idx = NULL;
    llm_status s = llm__json_load(index_path, &idx);
    if (s) return s;
    const cJSON *map = llm__json_get(idx, "weight_map");
    char dir[4096], path[4096];
    llm__path_dir(dir, sizeof dir, index_path);
    if (!cJSON_IsObject(map)) s = llm__fail(LLM_ERR_FORMAT, "%s: no \"weight_map\" object", index_path);
    int n_files = 0;
    for (const cJSON *e = map ? map->child : NULL; e && !s; e = e->next) {
        if (!cJSON_IsString(e) || strchr(e->valuestring, '/') || !llm__ends_with(e->valuestring, ".safetensors")) {
            s = llm__fail(LLM_ERR_FORMAT, "%s: weight_map entry '%s' does not name a .safetensors file in the same folder", index_path, e->string);
            break;
        }
        n_files++;
    }
    if (!s) {
        st->files = (llm__st_file *)calloc((size_t)n_files + 1, sizeof *st->files);
        if (!st->files) s = llm__fail(LLM_ERR_NOMEM, "%s: out of memory", index_path);
    }
    for (const cJSON *e = map ? map->child : NULL; e && !s; e = e->next) {
        bool seen = false;
        for (int i = 0; i < st->n_files && !seen; i++) seen = strcmp(strrchr(st->files[i].path, '/') + 1, e->valuestring) == 0;
        if (seen) continue;
        if (!llm__path_join(path, sizeof path, dir, e->valuestring)) s = llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", index_path);
        else s = llm__st_open_file(st, path);
    }
    if (!s) s = llm__st_index(st);
    for (const cJSON *e = map ? map->child : NULL; e && !s; e = e->next) {
        const llm_tensor *t = llm_safetensors_find(st, e->string);
        if (!t) s = llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is listed in the index but missing from %s", index_path, e->string, e->valuestring);
    }
    cJSON_Delete(idx);
    return s;
}

LLM_API llm_status llm_safetensors_open(const char *path, llm_safetensors **out_st) {
    char buf[4096];
    llm_safetensors *st = (llm_safetensors *)calloc(1, sizeof *st);
    if (!st) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    llm_status s;
    if (llm__is_dir(path)) {
        if (llm__path_join(buf, sizeof buf, path, "model.safetensors.index.json") && llm__file_exists(buf)) path = buf;
        else if (llm__path_join(buf, sizeof buf, path, "model.safetensors") && llm__file_exists(buf)) path = buf;
        else { free(st); return llm__fail(LLM_ERR_NOT_FOUND, "%s: no model.safetensors or model.safetensors.index.json", path); }
    }
    if (llm__ends_with(path, ".json")) {
        s = llm__st_open_index(st, path);
    } else {
        st->files = (llm__st_file *)calloc(1, sizeof *st->files);
        s = st->files ? llm__st_open_file(st, path) : llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
        if (!s) s = llm__st_index(st);
    }
    if (s) { llm_safetensors_close(st); return s; }
    *out_st = st;
    return LLM_OK;
}

LLM_API void llm_safetensors_close(llm_safetensors *st) {
    if (!st) return;
    for (int i = 0; i < st->n_files; i++) { llm__unmap(&st->files[i].map); free(st->files[i].path); }
    for (int64_t i = 0; i < st->n_tensors; i++) free(st->names[i]);
    free(st->files); free(st->tensors); free(st->names); free(st->by_name);
    cJSON_Delete(st->metadata);
    free(st);
}

LLM_API int64_t llm_safetensors_n_tensors(const llm_safetensors *st) { return st->n_tensors; }

LLM_API const llm_tensor *llm_safetensors_tensor(const llm_safetensors *st, int64_t i) {
    return i >= 0 && i < st->n_tensors ? &st->tensors[i] : NULL;
}

LLM_API const llm_tensor *llm_safetensors_find(const llm_safetensors *st, const char *name) {
    int64_t lo = 0, hi = st->n_tensors;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        int c = strcmp(st->tensors[st->by_name[mid]].name, name);
        if (c == 0) return &st->tensors[st->by_name[mid]];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

LLM_API const char *llm_safetensors_metadata(const llm_safetensors *st, const char *key) {
    return llm__json_str(st->metadata, key, NULL);
}

LLM_API llm_status llm_safetensors_write(const char *path, const llm_tensor *tensors, int64_t n_tensors,
                                         const char *const *meta, int64_t n_meta) {
    cJSON *hdr = cJSON_CreateObject();
    if (!hdr) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    if (n_meta > 0) {
        cJSON *m = cJSON_AddObjectToObject(hdr, "__metadata__");
        for (int64_t i = 0; m && i < n_meta; i++) cJSON_AddStringToObject(m, meta[2 * i], meta[2 * i + 1]);
    }
    size_t off = 0;
    for (int64_t i = 0; i < n_tensors; i++) {
        const llm_tensor *t = &tensors[i];
        size_t want = llm_dtype_n_bytes(t->dtype, llm_tensor_n_elems(t));
        if (!llm_dtype_get(t->dtype) || !llm__dtypes[t->dtype].st_name) {
            cJSON_Delete(hdr);
            return llm__fail(LLM_ERR_UNSUPPORTED, "%s: tensor '%s': dtype has no safetensors form", path, t->name ? t->name : "?");
        }
        if (want != t->n_bytes || !t->name) {
            cJSON_Delete(hdr);
            return llm__fail(LLM_ERR_INVALID_ARG, "%s: tensor '%s' has %zu bytes, its shape needs %zu", path,
                             t->name ? t->name : "?", t->n_bytes, want);
        }
        cJSON *e = cJSON_AddObjectToObject(hdr, t->name);
        double shape[LLM_MAX_DIMS], offs[2] = { (double)off, (double)(off + t->n_bytes) };
        for (int d = 0; d < t->n_dims; d++) shape[d] = (double)t->shape[d];
        if (e) {
            cJSON_AddStringToObject(e, "dtype", llm__dtypes[t->dtype].st_name);
            cJSON_AddItemToObject(e, "shape", cJSON_CreateDoubleArray(shape, t->n_dims));
            cJSON_AddItemToObject(e, "data_offsets", cJSON_CreateDoubleArray(offs, 2));
        }
        off += t->n_bytes;
    }
    char *json = cJSON_PrintUnformatted(hdr);
    cJSON_Delete(hdr);
    if (!json) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    size_t jlen = strlen(json), hlen = (jlen + 7) / 8 * 8;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    llm__atomic_file af;
    llm_status s = llm__atomic_open(&af, path);
    if (!s) s = llm__atomic_write(&af, len8, 8);
    if (!s) s = llm__atomic_write(&af, json, jlen);
    if (!s) s = llm__atomic_write(&af, "        ", hlen - jlen);
    for (int64_t i = 0; i < n_tensors && !s; i++) s = llm__atomic_write(&af, tensors[i].data, tensors[i].n_bytes);
    free(json);
    if (af.f) { llm_status c = llm__atomic_close(&af, s == LLM_OK); if (!s) s = c; }
    return s;
}
/* ==== end llm_impl/31_safetensors.c ==== */
#endif /* LLM_IMPLEMENTATION_INCLUDED */
#endif /* LLM_IMPLEMENTATION */
/* ==== begin llm_impl/99_footer.h ==== */
/*
------------------------------------------------------------------------------
MIT License

Copyright (c) 2026 the llm.h authors

Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do
so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
------------------------------------------------------------------------------
Third-party libraries linked (not included): utf8proc (MIT), zstd (BSD), cJSON (MIT).
*/
/* ==== end llm_impl/99_footer.h ==== */
