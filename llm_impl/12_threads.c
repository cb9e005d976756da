/* ---- >>threads: a small persistent pool ----
   One primitive: llm__parallel_for(pool, fn, ctx) runs fn(ctx, ith, nth) once for each ith =
   0..nth-1 (nth = the pool's size) and returns when all are done. Work is split the ggml
   way: each task derives its own slice (rows of a matmul, heads of attention) from ith/nth.
   Tasks are claimed, not assigned: the caller and the workers take the next ith from one
   atomic counter, so a worker the OS has not scheduled yet (a loaded machine, more threads
   than cores) delays nothing: the others run its task. Which thread runs a task never
   changes its result. The counter carries the call's generation in its high half, so a late
   worker can never claim a task of the next call with the previous call's function.
   Workers spin briefly between calls (a decode step issues ~10 calls per layer, too many for
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
    _Atomic uint64_t state;        /* generation << 32 | next task to claim */
    atomic_int n_done;             /* tasks finished in the current generation */
    atomic_int n_sleeping;         /* workers waiting on `wake` */
    atomic_bool stop;
    uint32_t generation;           /* the caller's copy */
    llm__task_fn fn;               /* the current call, published before its generation */
    void *ctx;
};

static inline void llm__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Claim the next task of generation gen; false when that call has none left (or is over). */
static bool llm__claim(llm_pool *p, uint32_t gen, int *out_ith) {
    uint64_t s = atomic_load_explicit(&p->state, memory_order_acquire);
    for (;;) {
        if ((uint32_t)(s >> 32) != gen || (int)(uint32_t)s >= p->n_threads) return false;
        if (atomic_compare_exchange_weak_explicit(&p->state, &s, s + 1, memory_order_acq_rel, memory_order_acquire)) {
            *out_ith = (int)(uint32_t)s;
            return true;
        }
    }
}

/* Run tasks of generation gen until none is left. */
static void llm__run_tasks(llm_pool *p, uint32_t gen, llm__task_fn fn, void *ctx) {
    int ith;
    while (llm__claim(p, gen, &ith)) {
        fn(ctx, ith, p->n_threads);
        atomic_fetch_add_explicit(&p->n_done, 1, memory_order_release);
    }
}

static void *llm__worker(void *arg) {
    llm_pool *p = (llm_pool *)arg;
    uint32_t seen = 0;
#define LLM__GEN() ((uint32_t)(atomic_load(&p->state) >> 32))
    for (;;) {
        for (int spin = 0; spin < 20000 && LLM__GEN() == seen && !atomic_load(&p->stop); spin++) llm__cpu_relax();
        if (LLM__GEN() == seen && !atomic_load(&p->stop)) {
            atomic_fetch_add(&p->n_sleeping, 1);   /* seq_cst: pairs with the caller's check */
            pthread_mutex_lock(&p->mu);
            while (LLM__GEN() == seen && !atomic_load(&p->stop)) pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
            atomic_fetch_sub(&p->n_sleeping, 1);
        }
        if (atomic_load(&p->stop)) break;
        seen = LLM__GEN();
        llm__run_tasks(p, seen, p->fn, p->ctx);   /* fn, ctx may be a later call's: claim refuses then */
    }
#undef LLM__GEN
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
    if (p) p->threads = (pthread_t *)calloc((size_t)n_threads, sizeof *p->threads);
    if (!p || !p->threads) {
        free(p);
        return llm__fail(LLM_ERR_NOMEM, "thread pool: out of memory");
    }
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    for (int i = 1; i < n_threads; i++) {
        if (pthread_create(&p->threads[i], NULL, llm__worker, p) != 0) {
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
    free(p);
}

LLM_API int llm_pool_n_threads(const llm_pool *p) { return p ? p->n_threads : 1; }

LLM_PRIVATE void llm__parallel_for(llm_pool *p, llm__task_fn fn, void *ctx) {
    if (!p || p->n_threads == 1) { fn(ctx, 0, 1); return; }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->n_done, 0, memory_order_relaxed);
    uint32_t gen = ++p->generation;
    atomic_store(&p->state, (uint64_t)gen << 32);   /* seq_cst: publishes fn, ctx, n_done */
    if (atomic_load(&p->n_sleeping) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
    llm__run_tasks(p, gen, fn, ctx);
    /* wait for the tasks workers claimed; yield when that takes long (a worker preempted, or
       an emulator such as qemu-user that runs one thread while another spins) */
    for (int spin = 0; atomic_load_explicit(&p->n_done, memory_order_acquire) != p->n_threads; spin++)
        if (spin < 4096) llm__cpu_relax();
        else sched_yield();
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
