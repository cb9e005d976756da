/* membw.c - memory read bandwidth, STREAM-like: the roofline for decode.
   Decoding one token reads every weight once, so tokens/s can be at most
   (read bandwidth) / (weight bytes per token). This reads a buffer much larger than the
   last-level cache with n threads (each its own contiguous slice, as the matmul splits rows)
   and prints the best of several passes in GB/s (1e9 bytes/s).
   Build: cc -O3 -march=native tests/bench/membw.c -o build/membw -lpthread
   Usage: membw [threads=1] [MiB=1024] [passes=10] */
#define _GNU_SOURCE 1
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

typedef struct { const uint64_t *p; size_t n; uint64_t sum; size_t bytes; pthread_barrier_t *bar; } slice;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Sum the slice as 4 streams read side by side (as the matvec reads 4 weight rows), one
   64-byte line per stream per iteration: several streams keep more line fetches in flight.
   The streams start 97 lines short of a power of two apart: exactly 256 MiB apart, all four
   hit the same DRAM banks (Zen 4, one thread: 11 GB/s instead of 31). */
static void *reader(void *arg) {
    slice *s = (slice *)arg;
    pthread_barrier_wait(s->bar);
    size_t q = (s->n / 4 - 8 * 97) / 8 * 8;
    const uint64_t *p0 = s->p, *p1 = p0 + q, *p2 = p1 + q, *p3 = p2 + q;
    s->bytes = 4 * q * sizeof *p0;
#ifdef __AVX2__
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (size_t i = 0; i < q; i += 8) {
#define LD(p, o) _mm256_load_si256((const __m256i *)(p + i + o))
        a0 = _mm256_add_epi64(a0, LD(p0, 0)); a1 = _mm256_add_epi64(a1, LD(p0, 4));
        a2 = _mm256_add_epi64(a2, LD(p1, 0)); a3 = _mm256_add_epi64(a3, LD(p1, 4));
        a4 = _mm256_add_epi64(a4, LD(p2, 0)); a5 = _mm256_add_epi64(a5, LD(p2, 4));
        a6 = _mm256_add_epi64(a6, LD(p3, 0)); a7 = _mm256_add_epi64(a7, LD(p3, 4));
#undef LD
    }
    __m256i t = _mm256_add_epi64(_mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3)),
                                 _mm256_add_epi64(_mm256_add_epi64(a4, a5), _mm256_add_epi64(a6, a7)));
    uint64_t lanes[4];
    memcpy(lanes, &t, sizeof lanes);
    s->sum = lanes[0] + lanes[1] + lanes[2] + lanes[3];
#else
    for (size_t i = 0; i < q; i++) s->sum += p0[i] + p1[i] + p2[i] + p3[i];
#endif
    pthread_barrier_wait(s->bar);
    return NULL;
}

int main(int argc, char **argv) {
    int nth = argc > 1 ? atoi(argv[1]) : 1;
    size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 1024;
    int passes = argc > 3 ? atoi(argv[3]) : 10;
    if (nth < 1 || nth > 256 || mib < 1 || passes < 1) { fprintf(stderr, "usage: membw [threads] [MiB] [passes]\n"); return 1; }
    size_t n = mib << 17;   /* uint64 words */
    uint64_t *buf = (uint64_t *)aligned_alloc(64, n * 8);
    if (!buf) { fprintf(stderr, "membw: cannot allocate %zu MiB\n", mib); return 1; }
    for (size_t i = 0; i < n; i++) buf[i] = i;   /* fault every page in before timing */
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)nth + 1);
    slice *sl = (slice *)calloc((size_t)nth, sizeof *sl);
    double best = 0, total = 0;
    for (int pass = 0; pass < passes; pass++) {
        pthread_t th[256];
        for (int t = 0; t < nth; t++) {
            /* slices also start off a power of two apart (41 lines per thread) */
            size_t lo = n * (size_t)t / (size_t)nth + 8 * 41 * (size_t)t, hi = n * (size_t)(t + 1) / (size_t)nth;
            sl[t] = (slice){ buf + lo, hi - lo, 0, 0, &bar };
            pthread_create(&th[t], NULL, reader, &sl[t]);
        }
        pthread_barrier_wait(&bar);
        double t0 = now();
        pthread_barrier_wait(&bar);
        double dt = now() - t0, bytes = 0;
        for (int t = 0; t < nth; t++) { pthread_join(th[t], NULL); total += (double)(sl[t].sum & 1); bytes += (double)sl[t].bytes; }
        double gbs = bytes / dt * 1e-9;
        best = gbs > best ? gbs : best;
    }
    printf("{\"threads\": %d, \"mib\": %zu, \"read_gbs\": %.2f}\n", nth, mib, best + 0 * total);
    free(sl);
    free(buf);
    return 0;
}
