/* ---- >>mlx-model: MLX-quantized matrices in the model ----
   mlx_lm.convert -q replaces a module's <name>.weight [rows, cols] by three tensors
   (08_api_quant.h has the layout):
     <name>.weight  u32 [rows, cols*bits/32]     (a stack of experts: [E, rows, cols*bits/32])
     <name>.scales  [rows, cols/group_size]      f32/f16/bf16 (affine) or u8 (mxfp4/nvfp4/mxfp8)
     <name>.biases  like the scales              (affine only)
   A module is quantized iff its .scales exist (mlx_lm's own rule when it loads a model), and
   bits and group size follow from the shapes once the logical [rows, cols] is known: they
   are the values config.json's "quantization" block gives the module (the global ones or a
   mixed recipe's per-module override), so binding needs no config. The mode is affine when
   biases exist, else the fp mode with those bits and group size.
   Each such matrix becomes an llm_tensor of dtype LLM_DTYPE_MLX_AFFINE whose data is an
   llm__qmat owned by the model and whose shape is the logical [rows, cols]: llm__matmul
   sends it to llm__matmul_mlx, the embedding lookup dequantizes one row (llm__mlx_row_f32),
   and tied embeddings share the tensor as the output matrix. */
#include "10_internal.h"

static const char *llm__mlx_mode_of(const llm_tensor *scales, const llm_tensor *biases, int bits, int group_size) {
    if (biases || scales->dtype != LLM_DTYPE_U8) return "affine";
    if (bits == 8) return "mxfp8";
    return group_size == 16 ? "nvfp4" : "mxfp4";
}

/* Bits and group size a 2-D weight [rows, cols*bits/32] and scales [rows, cols/G] imply;
   0 where they do not divide (llm__mlx_qmat_init then rejects the tensors with a reason). */
static void llm__mlx_infer(const llm_tensor *w, const llm_tensor *scales, int64_t cols, int *bits, int *group_size) {
    int64_t wc = w->n_dims == 2 ? w->shape[1] : 0, sc = scales->n_dims == 2 ? scales->shape[1] : 0;
    *bits = wc > 0 && wc <= ((int64_t)1 << 40) && (wc * 32) % cols == 0 ? (int)LLM__MIN(wc * 32 / cols, 64) : 0;
    *group_size = sc > 0 && cols % sc == 0 ? (int)LLM__MIN(cols / sc, 1 << 20) : 0;
}

/* The tensor of dtype LLM_DTYPE_MLX_AFFINE for the (2-D) w, scales, biases of module `base`. */
static llm_status llm__mlx_make(llm_model *m, const char *base, const llm_tensor *w, const llm_tensor *scales,
                                const llm_tensor *biases, int64_t rows, int64_t cols, const llm_tensor **out) {
    int bits, gs;
    llm__mlx_infer(w, scales, cols, &bits, &gs);
    llm__qmat q;
    llm_status s = llm__mlx_qmat_init(m->path, base, w, scales, biases, llm__mlx_mode_of(scales, biases, bits, gs), bits, gs,
                                      rows, cols, &q);
    if (s) return s;
    llm__qmat *qp = (llm__qmat *)llm__model_own(m, sizeof *qp);
    llm_tensor *t = (llm_tensor *)llm__model_own(m, sizeof *t);
    if (!qp || !t) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
    *qp = q;
    *t = (llm_tensor){ .name = w->name, .dtype = LLM_DTYPE_MLX_AFFINE, .n_dims = 2, .shape = { rows, cols }, .data = qp,
                       .n_bytes = w->n_bytes + scales->n_bytes + (biases ? biases->n_bytes : 0) };
    *out = t;
    return LLM_OK;
}

/* Split "<base>.weight" into base; false when the name does not end so. */
static bool llm__mlx_base(const char *name, char *base, size_t cap) {
    size_t n = strlen(name);
    if (n < 7 || strcmp(name + n - 7, ".weight") || n - 7 >= cap) return false;
    memcpy(base, name, n - 7);
    base[n - 7] = '\0';
    return true;
}

/* The scales and biases beside <base>.weight; NULL when absent. */
static void llm__mlx_params_of(const llm_model *m, const char *base, const llm_tensor **scales, const llm_tensor **biases) {
    char n[600];
    snprintf(n, sizeof n, "%s.scales", base);
    *scales = llm__model_tensor(m, n);
    snprintf(n, sizeof n, "%s.biases", base);
    *biases = llm__model_tensor(m, n);
}

/* Called by llm__bind_mat for a u32 tensor `name` (w): the quantized matrix [rows, cols]. */
static llm_status llm__bind_mlx(llm_model *m, const char *name, const llm_tensor *w, int64_t rows, int64_t cols,
                                const llm_tensor **out) {
    char base[512];
    const llm_tensor *scales, *biases;
    if (!llm__mlx_base(name, base, sizeof base))
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is u32, which only MLX-quantized '.weight' tensors may be", m->path, name);
    llm__mlx_params_of(m, base, &scales, &biases);
    if (!scales)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is u32 but '%s.scales' is missing (not an MLX-quantized matrix)",
                         m->path, name, base);
    return llm__mlx_make(m, base, w, scales, biases, rows, cols, out);
}

/* A 2-D view of matrix e of a stack [E, r, c] (any dtype with a flat layout). */
static llm_tensor llm__mlx_slice(const llm_tensor *t, int64_t e) {
    llm_tensor v = *t;
    size_t bytes = t->n_bytes / (size_t)t->shape[0];
    v.n_dims = 2;
    v.shape[0] = t->shape[1];
    v.shape[1] = t->shape[2];
    v.data = (uint8_t *)t->data + (size_t)e * bytes;
    v.n_bytes = bytes;
    return v;
}

/* Expert e of a quantized stack `name` (mlx_lm's switch_mlp: weight u32 [E, rows, cols*bits/32],
   scales and biases [E, rows, cols/G]) as a [rows, cols] matrix. */
static llm_status llm__bind_mlx_expert(llm_model *m, const char *name, const llm_tensor *w, int64_t e, int64_t rows, int64_t cols,
                                       const llm_tensor **out) {
    char base[512];
    const llm_tensor *scales, *biases;
    if (!llm__mlx_base(name, base, sizeof base)) return llm__fail(LLM_ERR_FORMAT, "%s: '%s' is not a .weight", m->path, name);
    llm__mlx_params_of(m, base, &scales, &biases);
    int64_t E = w->shape[0];
    if (!scales || scales->n_dims != 3 || scales->shape[0] != E || (biases && (biases->n_dims != 3 || biases->shape[0] != E)))
        return llm__fail(LLM_ERR_FORMAT, "%s: the quantized stack '%s' needs '%s.scales' (and biases) [%lld, rows, groups]",
                         m->path, name, base, (long long)E);
    llm_tensor ws = llm__mlx_slice(w, e), ss = llm__mlx_slice(scales, e), bs = biases ? llm__mlx_slice(biases, e) : ws;
    return llm__mlx_make(m, base, &ws, &ss, biases ? &bs : NULL, rows, cols, out);
}

/* Rows [row0, row0 + n_rows) of a quantized matrix (a fused qkv split into its parts). */
static const llm_tensor *llm__mlx_rows(llm_model *m, const llm_tensor *t, int64_t row0, int64_t n_rows) {
    const llm__qmat *q = (const llm__qmat *)t->data;
    llm__qmat *v = (llm__qmat *)llm__model_own(m, sizeof *v);
    llm_tensor *vt = (llm_tensor *)llm__model_own(m, sizeof *vt);
    if (!v || !vt) return NULL;
    int64_t ng = q->cols / q->group_size;
    size_t ps = (size_t)llm__dtypes[q->sdtype].block_bytes;
    *v = *q;
    v->rows = n_rows;
    v->w = q->w + (size_t)row0 * (size_t)(q->cols * q->bits / 8);
    v->scales = (const uint8_t *)q->scales + (size_t)(row0 * ng) * ps;
    v->biases = q->biases ? (const uint8_t *)q->biases + (size_t)(row0 * ng) * ps : NULL;
    *vt = *t;
    vt->shape[0] = n_rows;
    vt->data = v;
    return vt;
}
