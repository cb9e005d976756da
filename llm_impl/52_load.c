/* ---- >>load: the architecture table and llm_model_load ----
   One place lists the supported architectures. An entry is a model_type plus, where the
   family differs from Llama, a configure function (hyperparameter quirks) and a bind
   function (tensor names). */
#include "10_internal.h"

typedef struct llm__arch {
    const char *name;                                                     /* config model_type */
    llm_status (*configure)(llm__hparams *hp, const cJSON *cfg, const char *path);   /* NULL: none */
    llm_status (*bind)(llm_model *m);                                     /* NULL: llm__bind_hf */
} llm__arch;

static const llm__arch llm__archs[] = {
    { "llama",   NULL, NULL },     /* incl. Llama 3.1+ rope scaling (rope_type "llama3") */
    { "mistral", NULL, NULL },     /* sliding_window on every layer */
    { "qwen2",   NULL, NULL },     /* q/k/v biases (bound because the checkpoint has them) */
    { "qwen3",   NULL, NULL },     /* per-head q/k RMSNorm, explicit head_dim */
    { "smollm3", NULL, NULL },     /* NoPE layers (no_rope_layers) */
};

LLM_API const char *const *llm_architectures(void) {
    static const char *names[LLM__COUNT(llm__archs) + 1];
    for (int i = 0; i < LLM__COUNT(llm__archs); i++) names[i] = llm__archs[i].name;
    return names;
}

static const llm__arch *llm__arch_find(const char *name) {
    for (int i = 0; i < LLM__COUNT(llm__archs); i++) if (!strcmp(llm__archs[i].name, name)) return &llm__archs[i];
    return NULL;
}

static llm_status llm__arch_unsupported(const char *path, const char *name) {
    char list[512] = "";
    for (int i = 0; i < LLM__COUNT(llm__archs); i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", llm__archs[i].name);
    return llm__fail(LLM_ERR_UNSUPPORTED, "%s: model_type '%s' is not supported (supported: %s)", path, name, list);
}

LLM_API void llm_model_free(llm_model *m) {
    if (!m) return;
    for (int64_t i = 0; i < m->n_owned; i++) llm__free(&m->alloc, m->owned[i]);
    free(m->owned);
    free(m->views);
    free(m->layers);
    free(m->inv_freq);
    free(m->inv_freq_local);
    free(m->path);
    llm__hparams_free(&m->hp);
    llm_safetensors_close(m->st);
    llm__unmap(&m->bin);
    free(m);
}

/* Rope tables and the public info block, once the weights are bound. */
static llm_status llm__model_finish(llm_model *m) {
    llm__hparams *hp = &m->hp;
    m->inv_freq = (float *)malloc((size_t)hp->n_rot / 2 * sizeof(float) + 1);
    m->inv_freq_local = (float *)malloc((size_t)hp->n_rot / 2 * sizeof(float) + 1);
    if (!m->inv_freq || !m->inv_freq_local) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
    llm_status s = llm__rope_inv_freq(&hp->rope, hp->n_rot, m->inv_freq, &m->rope_mscale);
    if (!s) s = llm__rope_inv_freq(&hp->rope_local, hp->n_rot, m->inv_freq_local, &m->rope_mscale_local);
    if (s) return llm__fail(s, "%s: %s", m->path, llm_last_error());
    llm_model_info *in = &m->info;
    in->arch = hp->arch;
    in->n_vocab = hp->n_vocab;
    in->n_embd = hp->n_embd;
    in->n_layers = hp->n_layers;
    in->n_heads = hp->n_heads;
    in->n_kv_heads = hp->n_kv_heads;
    in->head_dim = hp->head_dim;
    in->n_ff = hp->n_ff;
    in->n_ctx_train = hp->n_ctx_train;
    in->bos = hp->bos;
    in->eos = hp->eos;
    in->n_eos = hp->n_eos;
    in->path = m->path;
    for (int64_t i = 0; m->st && i < llm_safetensors_n_tensors(m->st); i++) in->n_params += llm_tensor_n_elems(llm_safetensors_tensor(m->st, i));
    for (int64_t i = 0; i < m->n_views; i++) in->n_params += llm_tensor_n_elems(&m->views[i]);
    return LLM_OK;
}

static llm_status llm__model_new(const char *path, const llm_model_desc *desc, llm_model **out) {
    llm_model *m = (llm_model *)calloc(1, sizeof *m);
    if (!m) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    if (desc) m->alloc = desc->allocator;
    LLM_ASSERT(!m->alloc.alloc == !m->alloc.free);
    m->path = llm__strdup(NULL, path);
    if (!m->path) { free(m); return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); }
    *out = m;
    return LLM_OK;
}

static llm_status llm__model_alloc_layers(llm_model *m) {
    m->layers = (llm__layer *)calloc((size_t)m->hp.n_layers, sizeof *m->layers);
    return m->layers ? LLM_OK : llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
}

#ifndef LLM_NO_CJSON
/* generation_config.json, when present, has the final say on bos/eos. */
static void llm__read_generation_config(const char *dir, llm__hparams *hp) {
    char p[4096];
    cJSON *g = NULL;
    if (!llm__path_join(p, sizeof p, dir, "generation_config.json") || !llm__file_exists(p)) return;
    if (llm__json_load(p, &g) == LLM_OK) llm__cfg_eos(g, hp);
    cJSON_Delete(g);
}

/* A Hugging Face / MLX directory, or a weights file inside one. */
static llm_status llm__load_hf(llm_model *m, const char *path, const llm_model_desc *desc) {
    char dir[4096], cfg_path[4096];
    if (llm__is_dir(path)) snprintf(dir, sizeof dir, "%s", path);
    else llm__path_dir(dir, sizeof dir, path);
    const char *cfg_name = desc && desc->config_file ? desc->config_file : "config.json";
    if (!llm__path_join(cfg_path, sizeof cfg_path, dir, cfg_name)) return llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", path);
    cJSON *cfg = NULL;
    llm_status s = llm__json_load(cfg_path, &cfg);
    if (s) return s;
    s = llm__hparams_parse(cfg_path, cfg, &m->hp);
    const llm__arch *arch = s ? NULL : llm__arch_find(m->hp.arch);
    if (!s && !arch) s = llm__arch_unsupported(cfg_path, m->hp.arch);
    if (!s && arch->configure) s = arch->configure(&m->hp, cfg, cfg_path);
    cJSON_Delete(cfg);
    if (s) return s;
    llm__read_generation_config(dir, &m->hp);
    if ((s = llm_safetensors_open(path, &m->st))) return s;
    if ((s = llm__model_alloc_layers(m))) return s;
    return arch->bind ? arch->bind(m) : llm__bind_hf(m);
}
#endif
