/* A second translation unit that only includes the API: it must link against impl.c with no
   duplicate or missing symbols. */
#include "llm.h"
#include <stdio.h>

int main(void) {
    printf("llm.h %s: %s\n", llm_version(), llm_status_str(LLM_ERR_FORMAT));
    return 0;
}
