/* ---- >>load: the architecture table and llm_model_load ----
   One place lists the supported architectures. An entry is a model_type, a configure
   function where the family's quirks are not in config.json's common fields (NULL: none),
   and the names of its tensors: weight tables mapping Hugging Face names onto llm__layer
   slots. A new family is a table entry, perhaps a small configure function, and perhaps a
   weight table; the forward pass is shared. */
#include "10_internal.h"

/* ---- weight tables (51_model.c explains the format) ---- */
#define LLM__R LLM__W_REQUIRED
#define LLM__O LLM__W_OPTIONAL
#define LLM__D LLM__W_DENSE
#define LLM__M LLM__W_MOE

static const llm__wspec llm__w_attn[] = {      /* separate q/k/v/o, optional biases and per-head q/k norms */
    LLM__WMAT("self_attn.q_proj.weight", LLM__R, wq, LLM__DIM_Q, LLM__DIM_C),
    LLM__WMAT("self_attn.k_proj.weight", LLM__R, wk, LLM__DIM_KV, LLM__DIM_C),
    LLM__WMAT("self_attn.v_proj.weight", LLM__R, wv, LLM__DIM_KV, LLM__DIM_C),
    LLM__WMAT("self_attn.o_proj.weight", LLM__R, wo, LLM__DIM_C, LLM__DIM_Q),
    LLM__WVEC("self_attn.q_proj.bias", LLM__O, bq, LLM__DIM_Q), LLM__WVEC("self_attn.k_proj.bias", LLM__O, bk, LLM__DIM_KV),
    LLM__WVEC("self_attn.v_proj.bias", LLM__O, bv, LLM__DIM_KV), LLM__WVEC("self_attn.o_proj.bias", LLM__O, bo, LLM__DIM_C),
    LLM__WVEC("self_attn.q_norm.weight", LLM__O, q_norm, LLM__DIM_HD), LLM__WVEC("self_attn.k_norm.weight", LLM__O, k_norm, LLM__DIM_HD),
    LLM__WEND,
};
static const llm__wspec llm__w_norms[] = {     /* pre-norms; LayerNorm biases where the checkpoint has them */
    LLM__WVEC("input_layernorm.weight", LLM__R, attn_norm, LLM__DIM_C), LLM__WVEC("input_layernorm.bias", LLM__O, attn_norm_b, LLM__DIM_C),
    LLM__WVEC("post_attention_layernorm.weight", LLM__R, ffn_norm, LLM__DIM_C),
    LLM__WVEC("post_attention_layernorm.bias", LLM__O, ffn_norm_b, LLM__DIM_C),
    LLM__WEND,
};
static const llm__wspec llm__w_mlp[] = {       /* gated MLP of dense layers */
    LLM__WMAT("mlp.gate_proj.weight", LLM__D, ffn.gate, LLM__DIM_F, LLM__DIM_C),
    LLM__WMAT("mlp.up_proj.weight", LLM__D, ffn.up, LLM__DIM_F, LLM__DIM_C),
    LLM__WMAT("mlp.down_proj.weight", LLM__D, ffn.down, LLM__DIM_C, LLM__DIM_F),
    LLM__WVEC("mlp.up_proj.bias", LLM__O, b_up, LLM__DIM_F), LLM__WVEC("mlp.down_proj.bias", LLM__O, b_down, LLM__DIM_C),
    LLM__WEND,
};
static const llm__wspec llm__w_gemma2_norms[] = {   /* Gemma 2/3: a norm before and after each block */
    LLM__WVEC("input_layernorm.weight", LLM__R, attn_norm, LLM__DIM_C),
    LLM__WVEC("post_attention_layernorm.weight", LLM__R, post_attn_norm, LLM__DIM_C),
    LLM__WVEC("pre_feedforward_layernorm.weight", LLM__R, ffn_norm, LLM__DIM_C),
    LLM__WVEC("post_feedforward_layernorm.weight", LLM__R, post_ffn_norm, LLM__DIM_C),
    LLM__WEND,
};
static const llm__wspec llm__w_olmo2[] = {     /* OLMo 2: norms after the blocks only; q/k norm over all heads */
    LLM__WVEC("post_attention_layernorm.weight", LLM__R, post_attn_norm, LLM__DIM_C),
    LLM__WVEC("post_feedforward_layernorm.weight", LLM__R, post_ffn_norm, LLM__DIM_C),
    LLM__WMAT("self_attn.q_proj.weight", LLM__R, wq, LLM__DIM_Q, LLM__DIM_C),
    LLM__WMAT("self_attn.k_proj.weight", LLM__R, wk, LLM__DIM_KV, LLM__DIM_C),
    LLM__WMAT("self_attn.v_proj.weight", LLM__R, wv, LLM__DIM_KV, LLM__DIM_C),
    LLM__WMAT("self_attn.o_proj.weight", LLM__R, wo, LLM__DIM_C, LLM__DIM_Q),
    LLM__WVEC("self_attn.q_norm.weight", LLM__R, q_norm, LLM__DIM_Q), LLM__WVEC("self_attn.k_norm.weight", LLM__R, k_norm, LLM__DIM_KV),
    LLM__WEND,
};
static const llm__wspec llm__w_input_norm[] = {   /* one norm feeding both branches of a parallel block */
    LLM__WVEC("input_layernorm.weight", LLM__R, attn_norm, LLM__DIM_C), LLM__WVEC("input_layernorm.bias", LLM__O, attn_norm_b, LLM__DIM_C),
    LLM__WEND,
};
static const llm__wspec llm__w_phi[] = {
    LLM__WMAT("self_attn.q_proj.weight", LLM__R, wq, LLM__DIM_Q, LLM__DIM_C),
    LLM__WMAT("self_attn.k_proj.weight", LLM__R, wk, LLM__DIM_KV, LLM__DIM_C),
    LLM__WMAT("self_attn.v_proj.weight", LLM__R, wv, LLM__DIM_KV, LLM__DIM_C),
    LLM__WMAT("self_attn.dense.weight", LLM__R, wo, LLM__DIM_C, LLM__DIM_Q),
    LLM__WVEC("self_attn.q_proj.bias", LLM__O, bq, LLM__DIM_Q), LLM__WVEC("self_attn.k_proj.bias", LLM__O, bk, LLM__DIM_KV),
    LLM__WVEC("self_attn.v_proj.bias", LLM__O, bv, LLM__DIM_KV), LLM__WVEC("self_attn.dense.bias", LLM__O, bo, LLM__DIM_C),
    LLM__WMAT("mlp.fc1.weight", LLM__R, ffn.up, LLM__DIM_F, LLM__DIM_C), LLM__WVEC("mlp.fc1.bias", LLM__O, b_up, LLM__DIM_F),
    LLM__WMAT("mlp.fc2.weight", LLM__R, ffn.down, LLM__DIM_C, LLM__DIM_F), LLM__WVEC("mlp.fc2.bias", LLM__O, b_down, LLM__DIM_C),
    LLM__WEND,
};
static const llm__wspec llm__w_starcoder2_mlp[] = {
    LLM__WMAT("mlp.c_fc.weight", LLM__R, ffn.up, LLM__DIM_F, LLM__DIM_C), LLM__WVEC("mlp.c_fc.bias", LLM__O, b_up, LLM__DIM_F),
    LLM__WMAT("mlp.c_proj.weight", LLM__R, ffn.down, LLM__DIM_C, LLM__DIM_F), LLM__WVEC("mlp.c_proj.bias", LLM__O, b_down, LLM__DIM_C),
    LLM__WEND,
};
static const llm__wspec llm__w_phi3[] = {      /* fused projections, split into row views */
    { "self_attn.qkv_proj.weight", LLM__R, LLM__DIM_QKV, LLM__DIM_C, false,
      { offsetof(llm__layer, wq), offsetof(llm__layer, wk), offsetof(llm__layer, wv) }, { LLM__DIM_Q, LLM__DIM_KV, LLM__DIM_KV } },
    LLM__WMAT("self_attn.o_proj.weight", LLM__R, wo, LLM__DIM_C, LLM__DIM_Q),
    { "mlp.gate_up_proj.weight", LLM__R, LLM__DIM_F2, LLM__DIM_C, false,
      { offsetof(llm__layer, ffn.gate), offsetof(llm__layer, ffn.up) }, { LLM__DIM_F, LLM__DIM_F } },
    LLM__WMAT("mlp.down_proj.weight", LLM__R, ffn.down, LLM__DIM_C, LLM__DIM_F),
    LLM__WEND,
};
static const llm__wspec llm__w_gpt_neox[] = {  /* q, k, v interleaved per head: one matmul, split per head later */
    LLM__WMAT("attention.query_key_value.weight", LLM__R, wqkv, LLM__DIM_QKV, LLM__DIM_C),
    LLM__WVEC("attention.query_key_value.bias", LLM__O, bqkv, LLM__DIM_QKV),
    LLM__WMAT("attention.dense.weight", LLM__R, wo, LLM__DIM_C, LLM__DIM_Q), LLM__WVEC("attention.dense.bias", LLM__O, bo, LLM__DIM_C),
    LLM__WMAT("mlp.dense_h_to_4h.weight", LLM__R, ffn.up, LLM__DIM_F, LLM__DIM_C),
    LLM__WVEC("mlp.dense_h_to_4h.bias", LLM__O, b_up, LLM__DIM_F),
    LLM__WMAT("mlp.dense_4h_to_h.weight", LLM__R, ffn.down, LLM__DIM_C, LLM__DIM_F),
    LLM__WVEC("mlp.dense_4h_to_h.bias", LLM__O, b_down, LLM__DIM_C),
    LLM__WEND,
};
#define LLM__WT(name, slot, r, c) { name, LLM__R, r, c, true, { offsetof(llm__layer, slot) }, { r } }
static const llm__wspec llm__w_gpt2[] = {      /* Conv1D weights are [in, out]: transposed at load */
    LLM__WVEC("ln_1.weight", LLM__R, attn_norm, LLM__DIM_C), LLM__WVEC("ln_1.bias", LLM__O, attn_norm_b, LLM__DIM_C),
    LLM__WVEC("ln_2.weight", LLM__R, ffn_norm, LLM__DIM_C), LLM__WVEC("ln_2.bias", LLM__O, ffn_norm_b, LLM__DIM_C),
    { "attn.c_attn.weight", LLM__R, LLM__DIM_QKV, LLM__DIM_C, true,
      { offsetof(llm__layer, wq), offsetof(llm__layer, wk), offsetof(llm__layer, wv) }, { LLM__DIM_Q, LLM__DIM_KV, LLM__DIM_KV } },
    { "attn.c_attn.bias", LLM__O, LLM__DIM_QKV, LLM__DIM_NONE, false,
      { offsetof(llm__layer, bq), offsetof(llm__layer, bk), offsetof(llm__layer, bv) }, { LLM__DIM_Q, LLM__DIM_KV, LLM__DIM_KV } },
    LLM__WT("attn.c_proj.weight", wo, LLM__DIM_C, LLM__DIM_Q), LLM__WVEC("attn.c_proj.bias", LLM__O, bo, LLM__DIM_C),
    LLM__WT("mlp.c_fc.weight", ffn.up, LLM__DIM_F, LLM__DIM_C), LLM__WVEC("mlp.c_fc.bias", LLM__O, b_up, LLM__DIM_F),
    LLM__WT("mlp.c_proj.weight", ffn.down, LLM__DIM_C, LLM__DIM_F), LLM__WVEC("mlp.c_proj.bias", LLM__O, b_down, LLM__DIM_C),
    LLM__WEND,
};
static const llm__wspec llm__w_router[] = {    /* Qwen MoE, DeepSeek */
    LLM__WMAT("mlp.gate.weight", LLM__M, router, LLM__DIM_E, LLM__DIM_C),
    LLM__WVEC("mlp.gate.e_score_correction_bias", LLM__O, router_bias, LLM__DIM_E),
    LLM__WEND,
};
static const llm__wspec llm__w_qwen_shared[] = {   /* Qwen2-MoE's shared expert and its sigmoid gate */
    LLM__WMAT("mlp.shared_expert.gate_proj.weight", LLM__M, shared.gate, LLM__DIM_FS, LLM__DIM_C),
    LLM__WMAT("mlp.shared_expert.up_proj.weight", LLM__M, shared.up, LLM__DIM_FS, LLM__DIM_C),
    LLM__WMAT("mlp.shared_expert.down_proj.weight", LLM__M, shared.down, LLM__DIM_C, LLM__DIM_FS),
    LLM__WMAT("mlp.shared_expert_gate.weight", LLM__M, shared_gate, LLM__DIM_SG, LLM__DIM_C),
    LLM__WEND,
};
static const llm__wspec llm__w_deepseek[] = {  /* MLA; shared experts under their DeepSeek name */
    LLM__WMAT("self_attn.q_proj.weight", LLM__R, wq, LLM__DIM_QP, LLM__DIM_C),
    LLM__WMAT("self_attn.q_a_proj.weight", LLM__R, wq_a, LLM__DIM_QA, LLM__DIM_C),
    LLM__WVEC("self_attn.q_a_layernorm.weight", LLM__R, q_a_norm, LLM__DIM_QA),
    LLM__WMAT("self_attn.q_b_proj.weight", LLM__R, wq_b, LLM__DIM_QB, LLM__DIM_QA),
    LLM__WMAT("self_attn.kv_a_proj_with_mqa.weight", LLM__R, wkv_a, LLM__DIM_KVA, LLM__DIM_C),
    LLM__WVEC("self_attn.kv_a_layernorm.weight", LLM__R, kv_a_norm, LLM__DIM_KVR),
    LLM__WMAT("self_attn.kv_b_proj.weight", LLM__O, wkv_b, LLM__DIM_KVB, LLM__DIM_KVR),
    LLM__WMAT("self_attn.o_proj.weight", LLM__R, wo, LLM__DIM_C, LLM__DIM_OV),
    LLM__WMAT("mlp.shared_experts.gate_proj.weight", LLM__M, shared.gate, LLM__DIM_FS, LLM__DIM_C),
    LLM__WMAT("mlp.shared_experts.up_proj.weight", LLM__M, shared.up, LLM__DIM_FS, LLM__DIM_C),
    LLM__WMAT("mlp.shared_experts.down_proj.weight", LLM__M, shared.down, LLM__DIM_C, LLM__DIM_FS),
    LLM__WEND,
};
static const llm__wspec llm__w_mixtral[] = {
    LLM__WMAT("block_sparse_moe.gate.weight", LLM__M, router, LLM__DIM_E, LLM__DIM_C),
    LLM__WEND,
};
#undef LLM__WT

#define LLM__HF_GLOBALS .layer = "model.layers.%lld.", .embed = "model.embed_tokens.weight", .out_norm = "model.norm.weight", \
    .out_norm_b = "model.norm.bias", .output = "lm_head.weight"
#define LLM__HF_EXPERTS .expert = "mlp.experts.%lld.", .expert_w = { "gate_proj.weight", "up_proj.weight", "down_proj.weight" }, \
    .stacked = { "mlp.switch_mlp.gate_proj.weight", "mlp.switch_mlp.up_proj.weight", "mlp.switch_mlp.down_proj.weight" }

static const llm__names llm__names_llama = { LLM__HF_GLOBALS, .w = { llm__w_attn, llm__w_norms, llm__w_mlp } };
static const llm__names llm__names_gemma2 = { LLM__HF_GLOBALS, .w = { llm__w_attn, llm__w_gemma2_norms, llm__w_mlp } };
static const llm__names llm__names_olmo2 = { LLM__HF_GLOBALS, .w = { llm__w_olmo2, llm__w_mlp } };
static const llm__names llm__names_cohere = { LLM__HF_GLOBALS, .w = { llm__w_attn, llm__w_input_norm, llm__w_mlp } };
static const llm__names llm__names_starcoder2 = { LLM__HF_GLOBALS, .w = { llm__w_attn, llm__w_norms, llm__w_starcoder2_mlp } };
static const llm__names llm__names_phi3 = { LLM__HF_GLOBALS, .w = { llm__w_phi3, llm__w_norms } };
static const llm__names llm__names_phi = {
    .layer = "model.layers.%lld.", .embed = "model.embed_tokens.weight", .out_norm = "model.final_layernorm.weight",
    .out_norm_b = "model.final_layernorm.bias", .output = "lm_head.weight", .output_b = "lm_head.bias", .w = { llm__w_phi, llm__w_input_norm },
};
static const llm__names llm__names_moe = {
    LLM__HF_GLOBALS, .w = { llm__w_attn, llm__w_norms, llm__w_mlp, llm__w_router, llm__w_qwen_shared }, LLM__HF_EXPERTS,
};
static const llm__names llm__names_mixtral = {
    LLM__HF_GLOBALS, .w = { llm__w_attn, llm__w_norms, llm__w_mixtral },
    .expert = "block_sparse_moe.experts.%lld.", .expert_w = { "w1.weight", "w3.weight", "w2.weight" },
    .stacked = { "block_sparse_moe.switch_mlp.gate_proj.weight", "block_sparse_moe.switch_mlp.up_proj.weight",
                 "block_sparse_moe.switch_mlp.down_proj.weight" },
};
static const llm__names llm__names_deepseek = {
    LLM__HF_GLOBALS, .w = { llm__w_deepseek, llm__w_norms, llm__w_mlp, llm__w_router }, LLM__HF_EXPERTS,
};
static const llm__names llm__names_gpt_neox = {
    .layer = "gpt_neox.layers.%lld.", .embed = "gpt_neox.embed_in.weight", .out_norm = "gpt_neox.final_layer_norm.weight",
    .out_norm_b = "gpt_neox.final_layer_norm.bias", .output = "embed_out.weight", .w = { llm__w_gpt_neox, llm__w_norms },
};
static const char *const llm__gpt2_renames[] = { "transformer.", "", NULL };   /* saved as GPT2Model: "h.0.", "wte." */
static const llm__names llm__names_gpt2 = {
    .layer = "transformer.h.%lld.", .embed = "transformer.wte.weight", .pos_embed = "transformer.wpe.weight",
    .out_norm = "transformer.ln_f.weight", .out_norm_b = "transformer.ln_f.bias", .output = "lm_head.weight", .w = { llm__w_gpt2 },
    .renames = llm__gpt2_renames,
};
#undef LLM__R
#undef LLM__O
#undef LLM__D
#undef LLM__M

/* llama.c's loader and the Llama-shaped families bind through this. */
static llm_status llm__bind_hf(llm_model *m) { return llm__bind_names(m, &llm__names_llama); }

/* ---- family quirks: what config.json alone does not say ---- */

/* Gemma: RMSNorm scales by (1 + w); embeddings times sqrt(C), a scale rounded to the
   weights' dtype as transformers does (modeling_gemma.py: "sqrt(3072)=55.4256 becomes 55.5").
   The activation is hidden_activation, approximate GELU when absent: early Gemma configs say
   "hidden_act": "gelu", which transformers 4 ignored for this reason. */
static llm_status llm__cfg_gemma(llm__hparams *hp, const cJSON *cfg, const char *path) {
    llm_status s = llm__cfg_act(path, llm__json_str(cfg, "hidden_activation", "gelu_pytorch_tanh"), &hp->act);
    if (s) return s;
    hp->norm_add_one = 1.0f;
    hp->embed_scale = sqrtf((float)hp->n_embd);
    hp->round_embed_scale = true;
    return LLM_OK;
}

/* Gemma 2/3: query scale from query_pre_attn_scalar, soft-capping, and (v4 configs without
   layer_types) which layers slide: every other one (Gemma 2), all but every
   sliding_window_pattern-th (Gemma 3). */
static llm_status llm__cfg_gemma2(llm__hparams *hp, const cJSON *cfg, const char *path) {
    llm_status s = llm__cfg_gemma(hp, cfg, path);
    if (s) return s;
    hp->attn_scale = (float)(1.0 / sqrt(llm__json_num(cfg, "query_pre_attn_scalar", (double)hp->head_dim)));
    hp->attn_softcap = (float)llm__json_num(cfg, "attn_logit_softcapping", 0.0);
    hp->final_softcap = (float)llm__json_num(cfg, "final_logit_softcapping", 0.0);
    if (!llm__json_has(cfg, "layer_types") && hp->sliding_window > 0) {
        int64_t pattern = llm__json_int(cfg, "sliding_window_pattern", llm__json_int(cfg, "_sliding_window_pattern", 0));
        for (int64_t il = 0; il < hp->n_layers; il++) hp->layer_sliding[il] = pattern > 0 ? (il + 1) % pattern != 0 : il % 2 == 0;
    }
    return LLM_OK;
}

static llm_status llm__cfg_layernorm(llm__hparams *hp, const cJSON *cfg, const char *path) {
    (void)cfg; (void)path;
    hp->norm = LLM__NORM_LAYER;
    return LLM_OK;
}

/* Phi: attention and MLP side by side on one LayerNorm. */
static llm_status llm__cfg_phi(llm__hparams *hp, const cJSON *cfg, const char *path) {
    if (llm__json_bool(cfg, "qk_layernorm", false)) return llm__fail(LLM_ERR_UNSUPPORTED, "%s: phi with qk_layernorm is not supported", path);
    hp->norm = LLM__NORM_LAYER;
    hp->parallel_block = true;
    return LLM_OK;
}

/* Cohere: parallel block on a LayerNorm without bias, logits scaled, rope on interleaved
   pairs (modeling_cohere.py rotate_half takes x[..., ::2] and x[..., 1::2]). */
static llm_status llm__cfg_cohere(llm__hparams *hp, const cJSON *cfg, const char *path) {
    if (llm__json_bool(cfg, "use_qk_norm", false)) return llm__fail(LLM_ERR_UNSUPPORTED, "%s: cohere with use_qk_norm is not supported", path);
    hp->norm = LLM__NORM_LAYER;
    hp->parallel_block = true;
    hp->rope_interleaved = true;
    hp->logit_scale = (float)llm__json_num(cfg, "logit_scale", 1.0);
    return LLM_OK;
}

static llm_status llm__cfg_gpt_neox(llm__hparams *hp, const cJSON *cfg, const char *path) {
    (void)path;
    hp->norm = LLM__NORM_LAYER;
    hp->parallel_block = llm__json_bool(cfg, "use_parallel_residual", true);
    return LLM_OK;
}

/* GPT-2: learned positions instead of rope, LayerNorm everywhere. */
static llm_status llm__cfg_gpt2(llm__hparams *hp, const cJSON *cfg, const char *path) {
    if (llm__json_bool(cfg, "scale_attn_by_inverse_layer_idx", false) || llm__json_bool(cfg, "reorder_and_upcast_attn", false))
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: gpt2 with scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn is not supported", path);
    hp->norm = LLM__NORM_LAYER;
    hp->learned_pos = true;
    memset(hp->layer_rope, 0, (size_t)hp->n_layers);
    if (hp->n_ctx_train <= 0) return llm__fail(LLM_ERR_FORMAT, "%s: gpt2 needs n_positions", path);
    return LLM_OK;
}

static llm_status llm__cfg_olmo2(llm__hparams *hp, const cJSON *cfg, const char *path) {
    (void)cfg; (void)path;
    hp->qk_norm_full = true;
    return LLM_OK;
}

/* Granite: muP-style multipliers on embeddings, residual branches, attention and logits. */
static llm_status llm__cfg_granite(llm__hparams *hp, const cJSON *cfg, const char *path) {
    (void)path;
    hp->embed_scale = (float)llm__json_num(cfg, "embedding_multiplier", 1.0);
    hp->residual_scale = (float)llm__json_num(cfg, "residual_multiplier", 1.0);
    hp->attn_scale = (float)llm__json_num(cfg, "attention_multiplier", hp->attn_scale);
    hp->logit_scale = (float)(1.0 / llm__json_num(cfg, "logits_scaling", 1.0));
    return LLM_OK;
}

/* DeepSeek V2/V3: multi-head latent attention (the rope part of a head is qk_rope_head_dim
   wide, on interleaved pairs), sigmoid-scored group-limited routing. The query scale grows
   with YaRN's mscale_all_dim (modeling_deepseek_v3.py yarn_apply_mscale). */
static llm_status llm__cfg_deepseek(llm__hparams *hp, const cJSON *cfg, const char *path) {
    hp->kv_lora_rank = llm__json_int(cfg, "kv_lora_rank", 0);
    hp->q_lora_rank = llm__json_int(cfg, "q_lora_rank", 0);
    hp->qk_nope_dim = llm__json_int(cfg, "qk_nope_head_dim", 0);
    hp->qk_rope_dim = llm__json_int(cfg, "qk_rope_head_dim", 0);
    hp->v_head_dim = llm__json_int(cfg, "v_head_dim", 0);
    if (hp->kv_lora_rank <= 0 || hp->q_lora_rank < 0 || hp->q_lora_rank > 65536 || hp->qk_nope_dim <= 0 || hp->qk_rope_dim <= 0 || hp->qk_rope_dim % 2 ||
        hp->v_head_dim <= 0 || hp->kv_lora_rank > 65536 || hp->qk_nope_dim > 4096 || hp->qk_rope_dim > 4096 || hp->v_head_dim > 4096)
        return llm__fail(LLM_ERR_FORMAT, "%s: implausible MLA sizes (kv_lora_rank, qk_nope/rope_head_dim, v_head_dim)", path);
    hp->n_kv_heads = hp->n_heads;
    hp->head_dim = hp->n_rot = hp->qk_rope_dim;
    hp->rope_interleaved = llm__json_bool(cfg, "rope_interleave", true);
    double scale = 1.0 / sqrt((double)(hp->qk_nope_dim + hp->qk_rope_dim));
    if (hp->rope.type != LLM__ROPE_DEFAULT && hp->rope.mscale_all_dim) {
        double m = llm__yarn_mscale(hp->rope.factor, hp->rope.mscale_all_dim);
        scale *= m * m;
    }
    hp->attn_scale = (float)scale;
    hp->router = LLM__ROUTER_SIGMOID_GROUPED;
    hp->n_group = llm__json_int(cfg, "n_group", 1);
    hp->topk_group = llm__json_int(cfg, "topk_group", 1);
    if (hp->n_experts && (hp->n_group <= 0 || hp->n_group > 64 || hp->n_experts % hp->n_group || hp->topk_group <= 0 || hp->topk_group > hp->n_group ||
                          hp->n_experts / hp->n_group < 2 || hp->topk_group * (hp->n_experts / hp->n_group) < hp->n_experts_used))
        return llm__fail(LLM_ERR_FORMAT, "%s: n_group %lld / topk_group %lld do not fit %lld experts", path, (long long)hp->n_group,
                         (long long)hp->topk_group, (long long)hp->n_experts);
    return LLM_OK;
}

/* ---- the architecture table ---- */
typedef struct llm__arch {
    const char *name;                                                     /* config model_type */
    llm_status (*configure)(llm__hparams *hp, const cJSON *cfg, const char *path);   /* NULL: none */
    const llm__names *names;                                              /* tensor names and slots */
    const char *defaults;        /* JSON: transformers' defaults for fields a config may omit, or NULL */
} llm__arch;

/* Gemma 3 text configs nested in a multimodal config list only what differs from
   Gemma3TextConfig's defaults (configuration_gemma3.py), so those are needed here. */
static const char llm__gemma3_defaults[] =
    "{\"vocab_size\": 262208, \"hidden_size\": 2304, \"intermediate_size\": 9216, \"num_hidden_layers\": 26,"
    " \"num_attention_heads\": 8, \"num_key_value_heads\": 4, \"head_dim\": 256, \"max_position_embeddings\": 131072,"
    " \"rms_norm_eps\": 1e-6, \"query_pre_attn_scalar\": 256, \"sliding_window\": 4096, \"sliding_window_pattern\": 6,"
    " \"rope_theta\": 1000000.0, \"rope_local_base_freq\": 10000.0, \"tie_word_embeddings\": true,"
    " \"bos_token_id\": 2, \"eos_token_id\": 1}";

static const llm__arch llm__archs[] = {
    { "llama",      NULL,               &llm__names_llama,      NULL },                  /* incl. Llama 3.1 rope (rope_type "llama3") */
    { "mistral",    NULL,               &llm__names_llama,      NULL },                  /* sliding_window on every layer */
    { "qwen2",      NULL,               &llm__names_llama,      NULL },                  /* q/k/v biases (bound when present) */
    { "qwen3",      NULL,               &llm__names_llama,      NULL },                  /* per-head q/k RMSNorm */
    { "smollm3",    NULL,               &llm__names_llama,      NULL },                  /* NoPE layers (no_rope_layers) */
    { "gemma",      llm__cfg_gemma,     &llm__names_llama,      NULL },
    { "gemma2",     llm__cfg_gemma2,    &llm__names_gemma2,     NULL },
    { "gemma3_text", llm__cfg_gemma2,    &llm__names_gemma2,     llm__gemma3_defaults }, /* + q/k norm, rope per layer type */
    { "phi3",       NULL,               &llm__names_phi3,       NULL },                  /* fused qkv_proj / gate_up_proj */
    { "phi",        llm__cfg_phi,       &llm__names_phi,        NULL },                  /* partial rotary, parallel block, biases */
    { "mixtral",    NULL,               &llm__names_mixtral,    NULL },                  /* top-2 of 8, softmax then renormalised */
    { "qwen2_moe",  NULL,               &llm__names_moe,        NULL },                  /* + shared expert with a sigmoid gate */
    { "qwen3_moe",  NULL,               &llm__names_moe,        NULL },
    { "starcoder2", llm__cfg_layernorm, &llm__names_starcoder2, NULL },                  /* LayerNorm, biases, plain GELU MLP */
    { "olmo2",      llm__cfg_olmo2,     &llm__names_olmo2,      NULL },                  /* norms after the blocks */
    { "granite",    llm__cfg_granite,   &llm__names_llama,      NULL },
    { "cohere",     llm__cfg_cohere,    &llm__names_cohere,     NULL },
    { "gpt_neox",   llm__cfg_gpt_neox,  &llm__names_gpt_neox,   NULL },
    { "gpt2",       llm__cfg_gpt2,      &llm__names_gpt2,       NULL },
    { "deepseek_v3", llm__cfg_deepseek,  &llm__names_deepseek,   NULL },                 /* MLA + MoE with shared experts */
};

/* Multimodal checkpoints whose language model is a supported family: its config is the
   text_config, its tensors carry a prefix (transformers 4: "language_model.model.",
   transformers 5: "model.language_model."). The vision tower is not loaded. */
typedef struct llm__wrapper {
    const char *name, *text_arch;                   /* model_type of the wrapper, of its text_config */
    const char *const *renames;
} llm__wrapper;

static const char *const llm__gemma3_renames[] = {
    "model.", "language_model.model.", "model.", "model.language_model.", "lm_head.", "language_model.lm_head.", NULL,
};
static const llm__wrapper llm__wrappers[] = {
    { "gemma3", "gemma3_text", llm__gemma3_renames },
};

/* The families, then the multimodal wrappers around them (model_types a config may name). */
LLM_API const char *const *llm_architectures(void) {
    static const char *names[LLM__COUNT(llm__archs) + LLM__COUNT(llm__wrappers) + 1];
    for (int i = 0; i < LLM__COUNT(llm__archs); i++) names[i] = llm__archs[i].name;
    for (int i = 0; i < LLM__COUNT(llm__wrappers); i++) names[LLM__COUNT(llm__archs) + i] = llm__wrappers[i].name;
    return names;
}

static const llm__arch *llm__arch_find(const char *name) {
    for (int i = 0; i < LLM__COUNT(llm__archs); i++) if (!strcmp(llm__archs[i].name, name)) return &llm__archs[i];
    return NULL;
}

static llm_status llm__arch_unsupported(const char *path, const char *name) {
    char list[1024] = "";
    int i = 0;
    for (const char *const *a = llm_architectures(); *a; a++, i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", *a);
    return llm__fail(LLM_ERR_UNSUPPORTED, "%s: model_type '%s' is not supported (supported: %s)", path, name, list);
}

LLM_API void llm_model_free(llm_model *m) {
    if (!m) return;
    llm_pool_destroy(m->load_pool);
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
    llm__rope_inv_freq(&hp->rope, hp->n_rot, hp->n_ctx_train, 0, m->inv_freq, &m->rope_mscale);
    llm__rope_inv_freq(&hp->rope_local, hp->n_rot, hp->n_ctx_train, 0, m->inv_freq_local, &m->rope_mscale_local);
    llm_dtype ed = m->tok_embd->dtype;
    if (ed == LLM_DTYPE_MLX_AFFINE) {   /* >>mlx-model: an MLX-quantized embedding computes in its scales' dtype */
        ed = ((const llm__qmat *)m->tok_embd->data)->sdtype;
        if (ed != LLM_DTYPE_F16 && ed != LLM_DTYPE_BF16) ed = LLM_DTYPE_F32;
    }
    if (hp->round_embed_scale && ed != LLM_DTYPE_F32) {
        uint16_t r;
        llm_convert(ed, &r, LLM_DTYPE_F32, &hp->embed_scale, 1);
        llm_convert(LLM_DTYPE_F32, &hp->embed_scale, ed, &r, 1);
    }
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
    m->repack = !desc || !desc->no_repack;
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

/* Add the family's defaults for the fields cfg lacks (a field set to null stays null). */
static llm_status llm__cfg_defaults(const char *path, cJSON *cfg, const char *defaults) {
    cJSON *d = defaults ? cJSON_Parse(defaults) : NULL;
    LLM_ASSERT(!defaults || cJSON_IsObject(d));
    for (const cJSON *x = d ? d->child : NULL; x; x = x->next) {
        cJSON *v = llm__json_get(cfg, x->string) ? NULL : cJSON_Duplicate(x, true);
        if (v && !cJSON_AddItemToObject(cfg, x->string, v)) { cJSON_Delete(v); v = NULL; }
        if (!v && !llm__json_get(cfg, x->string)) { cJSON_Delete(d); return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); }
    }
    cJSON_Delete(d);
    return LLM_OK;
}

/* The language model's config (the file's, or a wrapper's text_config) and its family. */
static llm_status llm__cfg_arch(const char *path, cJSON *root, llm_model *m, cJSON **out_cfg, const llm__arch **out_arch) {
    cJSON *cfg = root;
    const char *type = llm__json_str(root, "model_type", "");
    for (int i = 0; i < LLM__COUNT(llm__wrappers); i++)
        if (!strcmp(type, llm__wrappers[i].name) && cJSON_IsObject(llm__json_get(root, "text_config"))) {
            cfg = (cJSON *)llm__json_get(root, "text_config");
            type = llm__json_str(cfg, "model_type", llm__wrappers[i].text_arch);
            m->renames[1] = llm__wrappers[i].renames;
        }
    *out_cfg = cfg;
    *out_arch = llm__arch_find(type);
    if (!*out_arch && *type) return llm__arch_unsupported(path, type);
    if (!*out_arch) return LLM_OK;                  /* no model_type: parsing says what is missing */
    if (cfg != root && !llm__json_get(cfg, "model_type")) cJSON_AddStringToObject(cfg, "model_type", type);
    return llm__cfg_defaults(path, cfg, (*out_arch)->defaults);
}

/* A Hugging Face / MLX directory, or a weights file inside one. */
LLM_PRIVATE llm_status llm__mla_bind(llm_model *m);   /* 57_mla.c: kv_b from its MLX forms (optional in the table) */

static llm_status llm__load_hf(llm_model *m, const char *path, const llm_model_desc *desc) {
    char dir[4096], cfg_path[4096];
    if (llm__is_dir(path)) snprintf(dir, sizeof dir, "%s", path);
    else llm__path_dir(dir, sizeof dir, path);
    const char *cfg_name = desc && desc->config_file ? desc->config_file : "config.json";
    if (!llm__path_join(cfg_path, sizeof cfg_path, dir, cfg_name)) return llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", path);
    cJSON *root = NULL, *cfg = NULL;
    const llm__arch *arch = NULL;
    llm_status s = llm__json_load(cfg_path, &root);
    if (s) return s;
    s = llm__cfg_arch(cfg_path, root, m, &cfg, &arch);
    if (!s) s = llm__hparams_parse(cfg_path, cfg, &m->hp);
    if (!s && !arch) s = llm__arch_unsupported(cfg_path, m->hp.arch);
    if (!s && arch->configure) s = arch->configure(&m->hp, cfg, cfg_path);
    cJSON_Delete(root);
    if (s) return s;
    llm__read_generation_config(dir, &m->hp);
    if ((s = llm_safetensors_open(path, &m->st))) return s;
    if ((s = llm__model_alloc_layers(m)) || (s = llm__bind_names(m, arch->names))) return s;
    return llm__mla_bind(m);
}
#endif
