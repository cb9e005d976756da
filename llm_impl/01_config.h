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
