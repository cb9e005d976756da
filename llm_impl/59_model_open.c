/* ---- >>model_open: llm_model_load picks the loader by what `path` is ---- */
#include "10_internal.h"

LLM_API llm_status llm_model_load(const char *path, const llm_model_desc *desc, llm_model **out_model) {
    llm_model *m = NULL;
    *out_model = NULL;
    struct stat st;
    if (stat(path, &st) != 0) return llm__fail(LLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    llm_status s = llm__model_new(path, desc, &m);
    if (s) return s;
    if (llm__ends_with(path, ".bin") && llm__file_exists(path)) {
        s = llm__load_llama2c(m, path);
    } else if (llm__ends_with(path, ".gguf") && llm__file_exists(path)) {
        s = llm__load_gguf(m, path);
    } else {
#ifndef LLM_NO_CJSON
        s = llm__load_hf(m, path, desc);
#else
        s = llm__fail(LLM_ERR_UNSUPPORTED, "%s: Hugging Face models need cJSON (built with LLM_NO_CJSON)", path);
#endif
    }
    if (!s) s = llm__model_finish(m);
    if (s) { llm_model_free(m); return s; }
    llm_pool_destroy(m->load_pool);   /* the regrouping threads are done */
    m->load_pool = NULL;
    llm__log(LLM_LOG_INFO, "loaded %s: arch %s, %lld layers, %lld params", path, m->hp.arch, (long long)m->hp.n_layers,
             (long long)m->info.n_params);
    *out_model = m;
    return LLM_OK;
}

LLM_API const llm_model_info *llm_model_get_info(const llm_model *m) { return &m->info; }
