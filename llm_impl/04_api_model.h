/* ---- >>model: loading a model ----
   A model is the weights plus the hyperparameters of one architecture. It is read-only after
   loading and may be shared by sessions on several threads. Weights are used in place from
   the memory-mapped file (GGUF q4_0 matrices excepted: see no_repack); compute is in f32. */
typedef struct llm_model llm_model;

typedef struct llm_model_desc {
    llm_allocator allocator;     /* zero = default */
    const char *config_file;     /* NULL = "config.json" next to the weights (e.g. "config.legacy.json") */
    bool no_repack;              /* keep q4_0 matrices as the file has them: no copy in memory, slower kernels
                                    (by default they are regrouped at load for the AVX2 kernels) */
} llm_model_desc;

/* Load a model from `path`:
   - a Hugging Face / MLX directory (config.json + model.safetensors or a sharded index),
   - a .safetensors file or a model.safetensors.index.json (config.json next to it),
   - a llama2.c checkpoint (.bin, legacy v0 header).
   desc may be NULL. Free with llm_model_free(). Errors: LLM_ERR_IO, LLM_ERR_FORMAT (a bad
   file, a missing tensor or a shape mismatch, naming the file and the tensor),
   LLM_ERR_UNSUPPORTED (an unknown model_type: the message lists the supported ones). */
LLM_API llm_status llm_model_load(const char *path, const llm_model_desc *desc, llm_model **out_model);
LLM_API void       llm_model_free(llm_model *model);

/* What a program needs to know about a loaded model. Valid until llm_model_free(). */
typedef struct llm_model_info {
    const char *arch;            /* the config's model_type, e.g. "llama", "qwen3" */
    int64_t n_vocab;             /* V: rows of the output layer */
    int64_t n_embd;              /* C: width of the residual stream */
    int64_t n_layers;
    int64_t n_heads;             /* H: query heads */
    int64_t n_kv_heads;          /* Hkv: key/value heads (grouped-query attention when < H) */
    int64_t head_dim;            /* D */
    int64_t n_ff;                /* width of the feed-forward hidden layer */
    int64_t n_ctx_train;         /* max_position_embeddings (0 if unknown) */
    int64_t n_params;            /* number of weights */
    llm_token bos;               /* -1 if none */
    const llm_token *eos;        /* end-of-sequence ids (generation_config.json, else config.json) */
    int32_t n_eos;
    const char *path;            /* what llm_model_load was given */
} llm_model_info;

LLM_API const llm_model_info *llm_model_get_info(const llm_model *model);

/* The architectures this build supports, NULL-terminated ("llama", "mistral", ...). */
LLM_API const char *const *llm_architectures(void);
