// The API from C++: the declarations must compile as C++ (the implementation stays C11:
// build it in a .c file).
#include "llm.h"

int main() {
    llm_model *m = nullptr;
    return llm_model_load("/nonexistent", nullptr, &m) == LLM_OK ? 1 : 0;
}
