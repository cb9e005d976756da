#define LLM_IMPLEMENTATION
#include "llm.h"
int main(void) { return 0; }
