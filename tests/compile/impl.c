/* The implementation in one translation unit, as a user builds it: llm.h included after
   LLM_IMPLEMENTATION, with the user's own warnings on (make check-compile adds -Werror). */
#define LLM_IMPLEMENTATION
#include "llm.h"
