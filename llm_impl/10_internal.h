/* ---- >>internal: includes, private macros, helpers shared by all parts ----
   The implementation starts here. Private names are llm__x (functions, types) and
   LLM__X (macros); they are not part of the API and may change. */
#include "01_config.h"
#include "02_api_core.h"
#include "03_api_tensor.h"
#include "04_api_model.h"
#include "05_api_text.h"
#include "06_api_chat.h"
#include "06_api_infer.h"
#include "06_api_sample.h"
#include "07_api_files.h"
#include "07_api_gguf.h"
#include "08_api_generate.h"
#include "09_api_end.h"

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
#ifndef LLM_NO_ZSTD
#include <zstd.h>
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
