/* mlx_model_check: an mlx_lm-quantized checkpoint (made by mlx_model_check.py, which says how to
   run both) bound the way a model binder would (llm__mlx_quant_params + llm__mlx_qmat_init),
   dequantized row by row (must equal mlx bit for bit) and multiplied on both kernel paths
   (relative error vs a double dot with mlx's weights). */
#define LLM_IMPLEMENTATION
#include "llm.h"

int main(int argc, char **argv) {
    llm_safetensors *st, *ref;
    char p[3][4096];
    if (argc < 2) { printf("usage: %s <dir from mlx_model_check.py>\n", argv[0]); return 1; }
    snprintf(p[0], sizeof p[0], "%s/model.safetensors", argv[1]);
    snprintf(p[1], sizeof p[1], "%s/ref.safetensors", argv[1]);
    snprintf(p[2], sizeof p[2], "%s/config.json", argv[1]);
    if (llm_safetensors_open(p[0], &st) || llm_safetensors_open(p[1], &ref)) {
        printf("open: %s\n", llm_last_error()); return 1;
    }
    cJSON *config;
    if (llm__json_load(p[2], &config)) { printf("%s\n", llm_last_error()); return 1; }
    int bad = 0;
    for (int64_t i = 0; i < llm_safetensors_n_tensors(ref); i++) {
        const llm_tensor *r = llm_safetensors_tensor(ref, i);
        char n[256];
        bool on; int bits, gs; const char *mode;
        llm__mlx_quant_params(config, r->name, &on, &bits, &gs, &mode);
        snprintf(n, sizeof n, "%s.weight", r->name); const llm_tensor *w = llm_safetensors_find(st, n);
        snprintf(n, sizeof n, "%s.scales", r->name); const llm_tensor *s = llm_safetensors_find(st, n);
        snprintf(n, sizeof n, "%s.biases", r->name); const llm_tensor *b = llm_safetensors_find(st, n);
        llm__qmat q;
        if (!on || llm__mlx_qmat_init(argv[1], r->name, w, s, b, mode, bits, gs, r->shape[0], r->shape[1], &q)) {
            printf("%s: %s\n", r->name, llm_last_error()); bad++; continue;
        }
        int64_t R = r->shape[0], C = r->shape[1];
        float *row = malloc(C * 4), *x = malloc(C * 4), *y = malloc(R * 4);
        int64_t diff = 0;
        for (int64_t j = 0; j < R; j++) {
            llm__mlx_row_f32(&q, j, row);
            diff += memcmp(row, (float *)r->data + j * C, C * 4) != 0;
        }
        for (int64_t c = 0; c < C; c++) x[c] = sinf((float)c);
        double worst = 0;
        for (int ref_k = 1; ref_k >= 0; ref_k--) {
            llm_set_reference_kernels(ref_k);
            size_t sb = llm__mlx_scratch_bytes(&q, 1, 1);
            void *scr = malloc(sb);
            llm__matmul_mlx(NULL, scr, sb, y, R, x, 1, &q);
            free(scr);
            for (int64_t j = 0; j < R; j++) {
                double want = 0, mag = 0;
                for (int64_t c = 0; c < C; c++) { want += x[c] * (double)((float *)r->data)[j * C + c]; mag += fabs(x[c] * (double)((float *)r->data)[j * C + c]); }
                worst = fmax(worst, fabs(y[j] - want) / (mag + 1e-9));
            }
        }
        printf("%-36s %d-bit g%-3d %-5s [%lld, %lld] rows differing from mlx: %lld, matmul worst rel err %.2e\n", r->name, bits, gs,
               llm__dtypes[q.sdtype].name, (long long)R, (long long)C, (long long)diff, worst);
        bad += diff != 0;
        free(row); free(x); free(y);
    }
    printf("%d problems\n", bad);
    return bad != 0;
}
