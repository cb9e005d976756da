/* ---- >>threads: a small persistent pool ----
   One primitive: llm__parallel_for(pool, fn, ctx) runs fn(ctx, ith, nth) for ith = 0..nth-1,
   ith = 0 on the calling thread, and returns when all are done. Work is split the ggml way:
   each task derives its own slice (rows of a matmul, heads of attention) from ith/nth.
   Workers spin briefly between calls (a decode step issues a few hundred calls, too many for
   a sleep/wake each), then sleep on a condition variable so an idle pool costs nothing.
   No allocation and no thread creation per call. LLM_NO_THREADS runs everything inline. */
#include "10_internal.h"

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
