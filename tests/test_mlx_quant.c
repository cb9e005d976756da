/* mlx quantization: llm_mlx_quantize / _dequantize / _dequantize_fp bit-exact against mlx
   (hashes printed by tests/tools/mlx_quant_ref.py, mlx 0.32.4), the quantized matmul
   kernels against dequantize + a double-precision dot, and the checks a model binder runs
   (llm__mlx_qmat_init) on hostile tensors. Uses internals (llm__qmat, llm__matmul_mlx). */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include "test.h"

#include <unistd.h>

#define ROWS 7
#define COLS 256

/* The generator of mlx_quant_ref.py: a 64-bit LCG, 24 random bits per element. */
static uint64_t lcg(uint64_t *s) { return *s = *s * 6364136223846793005ull + 1442695040888963407ull; }

/* [ROWS, COLS]: row 0 zeros, row 1 a constant, row 2 tiny, others of varied amplitude and
   offset (some rows all positive or all negative). Every step is exact in f32 except the
   offset add, one IEEE add as in numpy. */
static void test_matrix(uint64_t seed, float *w) {
    static const float offs[4] = { 0.0f, 0.0f, 1.5f, -1.25f };
    for (int r = 0; r < ROWS; r++) {
        float amp = ldexpf(1.0f, r % 7 - 3), off = offs[r % 4] * amp;
        for (int c = 0; c < COLS; c++) {
            float v = (float)((int64_t)(lcg(&seed) >> 40) - (1 << 23)) * ldexpf(1.0f, -23) * amp;
            w[r * COLS + c] = v + off;
        }
    }
    for (int c = 0; c < COLS; c++) {
        w[c] = 0;
        w[COLS + c] = -0.3f;
        w[2 * COLS + c] *= ldexpf(1.0f, -28);
    }
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ ((const uint8_t *)p)[i]) * 0x100000001b3ull;
    return h;
}
#define FNV0 0xcbf29ce484222325ull

static const struct { int bits, group; llm_dtype dt; uint64_t w, sb, deq; } affine_expect[] = {
    { 2,  32, LLM_DTYPE_F32,  0x8cb8cb870daea04du, 0x43a323b9ac27c39bu, 0x8224b60cf23ce265u },
    { 2,  32, LLM_DTYPE_F16,  0xc07c0fb98f2d4cc1u, 0xc1a43e977d3bd706u, 0x5ad038d850c32bdeu },
    { 2,  32, LLM_DTYPE_BF16, 0x4bc00e1971f3a6bdu, 0xed5399c856e73eb8u, 0x4d0d5b8e877e76fbu },
    { 2,  64, LLM_DTYPE_F32,  0x666d5d37199752aeu, 0x27cd9f86c90eab6au, 0x33bb2fd8d447cf55u },
    { 2,  64, LLM_DTYPE_F16,  0x666d5d37199752aeu, 0x7bb3244523897a6au, 0x4a85cdd35578d054u },
    { 2,  64, LLM_DTYPE_BF16, 0x80c8972cf3ba89a9u, 0x9876e389b36999b9u, 0x1b337572cbc4316au },
    { 2, 128, LLM_DTYPE_F32,  0xb63ce64753868a83u, 0xc9d40c6222bd2265u, 0xec0526e5485b4905u },
    { 2, 128, LLM_DTYPE_F16,  0xb63ce64753868a83u, 0xe6100c9ac3832ab4u, 0x4669648af805a187u },
    { 2, 128, LLM_DTYPE_BF16, 0xd84052332734e62fu, 0xc99a482fabc1101cu, 0xd6dcc267539edcfau },
    { 3,  32, LLM_DTYPE_F32,  0xad569367b07d4cbdu, 0x5b426b24bf83bee4u, 0xeab9dc6678e3dac8u },
    { 3,  32, LLM_DTYPE_F16,  0x2a6a70e2845f20c8u, 0x3568841cd097b1e0u, 0x11e42179bfe03c6au },
    { 3,  32, LLM_DTYPE_BF16, 0xb5b46bfed12ecc3cu, 0x14cd64331b3ef9cau, 0x61ae87fb5bb24693u },
    { 3,  64, LLM_DTYPE_F32,  0x417f27791eda27e7u, 0x85ab7c044cf5a791u, 0xe2b8befa40d5d0d3u },
    { 3,  64, LLM_DTYPE_F16,  0x61fb53c1263b784fu, 0x851083f77416319bu, 0xc0aa463fbd7ac4ceu },
    { 3,  64, LLM_DTYPE_BF16, 0x9d819aa263f55bdbu, 0x2f6248d7be5e6e51u, 0x80365e089a397d26u },
    { 3, 128, LLM_DTYPE_F32,  0x0a8504213bcb2eaeu, 0x1528255ec0ac70d8u, 0x26befb65f1471ef1u },
    { 3, 128, LLM_DTYPE_F16,  0x0a8504213bcb2eaeu, 0xe891ed8ee81d4385u, 0x838765812bca8d78u },
    { 3, 128, LLM_DTYPE_BF16, 0x8cf1c92c4a85dafcu, 0x430a02e066c1ddadu, 0xf52af59a91065371u },
    { 4,  32, LLM_DTYPE_F32,  0x614d6d601d42709au, 0x7c19a8298adf480bu, 0xa00477cf02224da9u },
    { 4,  32, LLM_DTYPE_F16,  0xeedde43a4b9518b2u, 0x039822bac965701cu, 0x2fd6ab40ce84a16au },
    { 4,  32, LLM_DTYPE_BF16, 0xc6e2e490e7c91228u, 0x0ca30903cc176b04u, 0x4f27550f9a99540eu },
    { 4,  64, LLM_DTYPE_F32,  0xc73660ef4fa56296u, 0x818bead23d9393b0u, 0xf4bd3705f44ceda3u },
    { 4,  64, LLM_DTYPE_F16,  0x43306e40ea7d30cdu, 0xfd641ec4b05fae98u, 0x9ea8adb1a306e558u },
    { 4,  64, LLM_DTYPE_BF16, 0xdf3475e119510c82u, 0xc8449afd8c2edeacu, 0xe6c486d0a81656a3u },
    { 4, 128, LLM_DTYPE_F32,  0xc4ea25d1d49aae06u, 0x42a6f72edc131064u, 0xae41a5e7f60cbcfeu },
    { 4, 128, LLM_DTYPE_F16,  0x30f93668c2c65ef3u, 0x550fab84b0fa8f60u, 0x259064805ae9421eu },
    { 4, 128, LLM_DTYPE_BF16, 0x8f4a288ed575d68cu, 0x0fe36b81676ce202u, 0x298b0d46c1977b60u },
    { 5,  32, LLM_DTYPE_F32,  0xac6f948b749c632du, 0x7b106fb9aedc4a5cu, 0x2163c0c23f89b229u },
    { 5,  32, LLM_DTYPE_F16,  0xac6f948b749c632du, 0xec4264e233465fe8u, 0xe17f09457a3e5ee1u },
    { 5,  32, LLM_DTYPE_BF16, 0x877c40d53a701307u, 0x15f26d594182496eu, 0xf9b239be197758d2u },
    { 5,  64, LLM_DTYPE_F32,  0x6e6d2b76f3d6b52fu, 0x194ebde3ec92a7a0u, 0x7e6abbd9a7ef614fu },
    { 5,  64, LLM_DTYPE_F16,  0x8f2df7cbc5e4ce42u, 0x3761054ea21e99f0u, 0xeae8c104f98f3a36u },
    { 5,  64, LLM_DTYPE_BF16, 0x213143ce89b94d67u, 0xc2469fd13e8ffb3fu, 0x8a790cb54bf9a274u },
    { 5, 128, LLM_DTYPE_F32,  0x1df56fa222800b54u, 0x3b03d715bf1ebc67u, 0x921c3b91210635f2u },
    { 5, 128, LLM_DTYPE_F16,  0x937e695e429b14d4u, 0x3b12e0bc858d9aa0u, 0x4bfd0eab0d9b3edeu },
    { 5, 128, LLM_DTYPE_BF16, 0x59a1c8156e8acde1u, 0x4dad3c8bd8ea10efu, 0xda03c7ec57907cbeu },
    { 6,  32, LLM_DTYPE_F32,  0x37bf1066dcf3fdcbu, 0x28d7eafd39e4c360u, 0xa2cc12c85dc8f46fu },
    { 6,  32, LLM_DTYPE_F16,  0x6f549c755062b838u, 0x4914220aab2faab9u, 0x46faf37bda41db58u },
    { 6,  32, LLM_DTYPE_BF16, 0x1d08965354090072u, 0x07b1494e1abcd8bbu, 0xa7e824958c9c6f85u },
    { 6,  64, LLM_DTYPE_F32,  0x99f9f05fe8597466u, 0xc22daafa16ca31f0u, 0xa5d63b0dec85ba3bu },
    { 6,  64, LLM_DTYPE_F16,  0xd4442611714fd166u, 0x1b0b76f79eadd609u, 0xdc41903516dec0b4u },
    { 6,  64, LLM_DTYPE_BF16, 0x8cc172417be72fbdu, 0xd0151860f0051adcu, 0xef20802960fec7b4u },
    { 6, 128, LLM_DTYPE_F32,  0x14d93c4ff2fe547eu, 0xf92f1df5b3b73eb5u, 0x6c39d5b56b54d08fu },
    { 6, 128, LLM_DTYPE_F16,  0x62affd8473633ae2u, 0xa402622701d75c4cu, 0x882fc4748289b5a3u },
    { 6, 128, LLM_DTYPE_BF16, 0xb943f1bf37affa2bu, 0x20b465771492f450u, 0x5b726f93c186aedbu },
    { 8,  32, LLM_DTYPE_F32,  0x260355997a64b668u, 0x46ba87392118ceeau, 0x1a3bb140f1f400fdu },
    { 8,  32, LLM_DTYPE_F16,  0x40ce346e069b520eu, 0x294ad97712f7308eu, 0xc335643bb8e4529eu },
    { 8,  32, LLM_DTYPE_BF16, 0xf1c8f4301cf5e3ebu, 0x339c15af889dff74u, 0x2554b299906fc675u },
    { 8,  64, LLM_DTYPE_F32,  0xa916663ad787cffcu, 0xa610258723484bfdu, 0xf32913be478172e9u },
    { 8,  64, LLM_DTYPE_F16,  0x428f73e69ff4169eu, 0x18f80d781f45c23au, 0x739018fcba3c0a1eu },
    { 8,  64, LLM_DTYPE_BF16, 0xcc8028a62ff59865u, 0xdbb87fd63ef5873eu, 0xd81c80ef7c5b537eu },
    { 8, 128, LLM_DTYPE_F32,  0x29898154e8717d0bu, 0x26185e530ef60159u, 0xb3b3bbb75882e59au },
    { 8, 128, LLM_DTYPE_F16,  0x30069b6b54f15fc8u, 0x195caefd68cbbb30u, 0xcf5066cabf2b32bbu },
    { 8, 128, LLM_DTYPE_BF16, 0xc4de9fb41f83c16fu, 0xa2991a3c11332ddfu, 0xe540a2afd5178939u },
};

static const uint64_t fp_expect[3] = {   /* mxfp4, nvfp4, mxfp8 */
    /* mxfp4 */ 0x5205e3247c0685afu,
    /* nvfp4 */ 0xe03f70bda8740262u,
    /* mxfp8 */ 0x0ecc98831b1cb8a5u,
};

static size_t dtype_bytes(llm_dtype dt) { return dt == LLM_DTYPE_F32 ? 4 : 2; }

/* Quantize the LCG matrix (rounded to the scale dtype first: mlx quantizes an array of
   that dtype) for every bits x group x dtype; compare the bytes and the dequantized values. */
static void test_affine_matches_mlx(void) {
    static float w[ROWS * COLS], deq[ROWS * COLS];
    static uint8_t packed[ROWS * COLS], sb[2 * ROWS * COLS / 32 * 4];
    int bad = 0;
    for (int64_t i = 0; i < LLM__COUNT(affine_expect); i++) {
        int bits = affine_expect[i].bits, gs = affine_expect[i].group;
        llm_dtype dt = affine_expect[i].dt;
        size_t ns = (size_t)ROWS * COLS / gs * dtype_bytes(dt);
        test_matrix(1000 + bits * 10 + gs, w);
        llm_convert(dt, deq, LLM_DTYPE_F32, w, ROWS * COLS);        /* round to dt (deq as a temporary) */
        llm_convert(LLM_DTYPE_F32, w, dt, deq, ROWS * COLS);
        CHECK_OK(llm_mlx_quantize(w, ROWS, COLS, bits, gs, dt, packed, sb, sb + ns));
        CHECK_OK(llm_mlx_dequantize(packed, sb, sb + ns, ROWS, COLS, bits, gs, dt, deq));
        uint64_t hw = fnv(FNV0, packed, llm_mlx_weight_bytes(ROWS, COLS, bits)), hs = fnv(FNV0, sb, 2 * ns);
        uint64_t hd = fnv(FNV0, deq, sizeof deq);
        if (hw != affine_expect[i].w || hs != affine_expect[i].sb || hd != affine_expect[i].deq) {
            printf("  bits %d group %d %s: weights %s, scales/biases %s, dequantized %s\n", bits, gs, llm_dtype_get(dt)->name,
                   hw == affine_expect[i].w ? "ok" : "DIFFER", hs == affine_expect[i].sb ? "ok" : "DIFFER",
                   hd == affine_expect[i].deq ? "ok" : "DIFFER");
            bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(LLM__COUNT(affine_expect), 6 * 3 * 3);
}

static uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* A few values spelled out (4-bit, group 64, f32), to read when a hash differs: row 3 is
   all-negative (the min is the edge, the scale positive), row 1 constant (the max is the
   edge, the scale stays -eps). */
static void test_affine_values(void) {
    static float w[ROWS * COLS];
    static uint32_t packed[ROWS * COLS / 8];
    static float scales[ROWS * COLS / 64], biases[ROWS * COLS / 64];
    test_matrix(1000 + 4 * 10 + 64, w);
    CHECK_OK(llm_mlx_quantize(w, ROWS, COLS, 4, 64, LLM_DTYPE_F32, packed, scales, biases));
    CHECK_EQ_INT(packed[3 * COLS / 8], 0x81a49b63);
    CHECK_EQ_INT(f32_bits(scales[3 * 4]), 0x3e0770b8);
    CHECK_EQ_INT(f32_bits(biases[3 * 4]), 0xc00fe7c4);
    CHECK_EQ_INT(f32_bits(scales[1 * 4]), 0xb3d6bf95);
    CHECK_EQ_INT(f32_bits(biases[1 * 4]), 0xbe99999a);
    CHECK_EQ_INT(packed[0], 0);          /* a zero row: q = 0, scale -eps, bias 0 */
    CHECK_EQ_INT(biases[0], 0);
    /* one row at a time (the embedding lookup) gives what the whole-matrix dequantize gives */
    static float all[ROWS * COLS], row[COLS];
    llm__qmat q = { (const uint8_t *)packed, scales, biases, ROWS, COLS, 4, 64, LLM_DTYPE_F32, -1 };
    CHECK_OK(llm_mlx_dequantize(packed, scales, biases, ROWS, COLS, 4, 64, LLM_DTYPE_F32, all));
    llm__mlx_row_f32(&q, 3, row);
    CHECK(memcmp(row, all + 3 * COLS, sizeof row) == 0);
}

/* The fp modes: LCG words and scales (no e4m3 NaN codes), dequantized by mlx. */
static void test_fp_matches_mlx(void) {
    static const int bits[3] = { 4, 4, 8 }, group[3] = { 32, 16, 32 };
    static uint32_t words[ROWS * COLS / 4];
    static uint8_t scales[ROWS * COLS / 16];
    static float out[ROWS * COLS];
    for (int m = 0; m < 3; m++) {
        uint64_t s = 7;
        for (int i = 0; i < ROWS * COLS * bits[m] / 32; i++) {
            uint32_t x = (uint32_t)(lcg(&s) >> 32);
            for (int k = 0; bits[m] == 8 && k < 4; k++)
                if (((x >> (8 * k)) & 0x7f) == 0x7f) x ^= 1u << (8 * k);
            words[i] = x;
        }
        s = 8;
        for (int i = 0; i < ROWS * COLS / group[m]; i++) {
            uint8_t x = (uint8_t)(lcg(&s) >> 56);
            scales[i] = group[m] == 16 ? ((x & 0x7f) != 0x7f ? x & 0x7f : 0x7e) : (uint8_t)(100 + x % 50);
        }
        CHECK_OK(llm_mlx_dequantize_fp((llm_mlx_fp_mode)m, words, scales, ROWS, COLS, out));
        CHECK_EQ_INT(fnv(FNV0, out, sizeof out), fp_expect[m]);
    }
    CHECK_NEAR(out[0], -0.00018310546875, 0);   /* mxfp8 d[0][0] as mlx prints it */
}

/* ---- quantizing to the fp modes ---- */

/* A uniform value in [-1, 1) with 24 random bits. */
static float rnd(uint64_t *s) { return (float)((int64_t)(lcg(s) >> 40) - (1 << 23)) * ldexpf(1.0f, -23); }


/* mx.quantize(w, mode=...) of LCG matrices held in f32, f16 and bf16 (mlx computes in the
   array's dtype: llm__mlx_quantize_fp_dt). Hashes from mlx_quant_ref.py. */
static const struct { llm_mlx_fp_mode mode; llm_dtype dt; uint64_t w, s; } fpq_expect[] = {
    { LLM_MLX_MXFP4, LLM_DTYPE_F32,  0x2df5f87605437509u, 0x98ebf5597331acbdu },
    { LLM_MLX_MXFP4, LLM_DTYPE_F16,  0x10d092bb81f0339bu, 0x497a72f0a46dcb6du },
    { LLM_MLX_MXFP4, LLM_DTYPE_BF16, 0x2ec14897b9458474u, 0x98ebf5597331acbdu },
    { LLM_MLX_NVFP4, LLM_DTYPE_F32,  0x9d5c89e67e8c24a3u, 0x57b6270ad09d2da4u },
    { LLM_MLX_NVFP4, LLM_DTYPE_F16,  0xaa8847dc7dd96099u, 0x128d7108854c24fau },
    { LLM_MLX_NVFP4, LLM_DTYPE_BF16, 0x211f5a7c798a4171u, 0xa6c8980938d52431u },
    { LLM_MLX_MXFP8, LLM_DTYPE_F32,  0xd0d57f071d23ada5u, 0x02e16bce9c25692du },
    { LLM_MLX_MXFP8, LLM_DTYPE_F16,  0x6fec4ef68ae69ee8u, 0x2485eea419c86dadu },
    { LLM_MLX_MXFP8, LLM_DTYPE_BF16, 0xbd9ee14ca2932fe5u, 0x02e16bce9c25692du },
};

static void test_fp_quantize_matches_mlx(void) {
    static float w[ROWS * COLS], tmp[ROWS * COLS];
    static uint8_t packed[ROWS * COLS], scales[ROWS * COLS / 16];
    int bad = 0;
    for (int i = 0; i < LLM__COUNT(fpq_expect); i++) {
        llm_mlx_fp_mode m = fpq_expect[i].mode;
        llm_dtype dt = fpq_expect[i].dt;
        test_matrix(2000 + 10 * (uint64_t)m + (uint64_t)i % 3, w);
        llm_convert(dt, tmp, LLM_DTYPE_F32, w, ROWS * COLS);        /* the values of the dt array */
        llm_convert(LLM_DTYPE_F32, w, dt, tmp, ROWS * COLS);
        CHECK_OK(llm__mlx_quantize_fp_dt(m, w, ROWS, COLS, dt, packed, scales));
        int bits = m == LLM_MLX_MXFP8 ? 8 : 4, group = m == LLM_MLX_NVFP4 ? 16 : 32;
        uint64_t hw = fnv(FNV0, packed, (size_t)ROWS * COLS * bits / 8), hs = fnv(FNV0, scales, (size_t)ROWS * COLS / group);
        if (hw != fpq_expect[i].w || hs != fpq_expect[i].s) {
            printf("  mode %d %s: weights %s, scales %s\n", (int)m, llm_dtype_get(dt)->name,
                   hw == fpq_expect[i].w ? "ok" : "DIFFER", hs == fpq_expect[i].s ? "ok" : "DIFFER");
            bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
}

/* Awkward rows (the inputs of mlx_quant_ref.py's edge_rows): fp4 ties at scale 1, zero
   groups with -0, huge values, subnormals (mxfp4's exponent wraps to the byte 0xff there, as
   in mlx), a NaN, an inf, e4m3 ties and saturation, a wide range. mlx's bytes in full. */
#define EDGE_ROWS 8
static const float edge_in[EDGE_ROWS][32] = {
    { 6, .25f, -.25f, .75f, -.75f, 1.25f, -1.25f, 1.75f, 2.5f, 3.5f, 5, -5, 0, -0.0f, .2f, -.3f,
      5.9f, 4.99f, 2.49f, 1.74f, .74f, .26f, -.26f, 3, -6, 1, -1, 1.5f, -1.5f, 2, 4, -4 },
    { 0, 0, 0, 0, 0, 0, 0, 0, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f },
#define X4(...) __VA_ARGS__, __VA_ARGS__, __VA_ARGS__, __VA_ARGS__
    { X4(FLT_MAX, -3e38f, 1, -1, 1e30f, 2e38f, 0, 5e37f) },
    { X4(1e-45f, -1e-45f, 3e-45f, 1e-40f, -2e-39f, 1.1754942e-38f, 0, 5e-44f) },
    { 1, 2, NAN, 3, X4(.5f, .5f, .5f, .5f, .5f, .5f, .5f) },
    { 1, INFINITY, 2, -3, X4(.5f, .5f, .5f, .5f, .5f, .5f, .5f) },
    { 448, 464, 460, -456, 240, 248, 232, 0.001953125f, 0.0029296875f, -0.0009765625f, 17, 19, 0.015625f, 448, 1, 2,
      448, 464, 460, -456, 240, 248, 232, 0.001953125f, 0.0029296875f, -0.0009765625f, 17, 19, 0.015625f, 448, 1, 2 },
    { X4(1e3f, 1e-3f, -1e3f, 1e-4f, 0.4f, 100, 7, 8) },
#undef X4
};
static const uint8_t edge_mxfp4_w[] = {
        0x07, 0x10, 0x29, 0x3a, 0x54, 0xe6, 0x00, 0x90, 0x67, 0x34, 0x11, 0x59, 0x2f, 0x3a, 0x4b, 0xe6, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0xe6, 0x00, 0x40, 0x10, 0xe6, 0x00, 0x40, 0x10, 0xe6, 0x00, 0x40, 0x10, 0xe6, 0x00, 0x40, 0x10, 0x00, 0x00, 0x69, 0x00, 0x00, 0x00, 0x69, 0x00, 0x00, 0x00, 0x69, 0x00, 0x00, 0x00, 0x69, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x65, 0xe6, 0x44, 0x04, 0x00, 0x00, 0x50, 0x00, 0x65, 0xe6, 0x44, 0x04, 0x00, 0x00, 0x50, 0x00, 0x06, 0x0e, 0x10, 0x00, 0x06, 0x0e, 0x10, 0x00, 0x06, 0x0e, 0x10, 0x00, 0x06, 0x0e, 0x10, 0x00 };
static const uint8_t edge_mxfp4_s[] = { 0x7f, 0x7f, 0xfd, 0xff, 0x80, 0x80, 0x86, 0x87 };
static const uint8_t edge_nvfp4_w[] = {
        0x07, 0x10, 0x29, 0x3a, 0x54, 0xe6, 0x00, 0x90, 0x67, 0x34, 0x11, 0x59, 0x2f, 0x3a, 0x4b, 0xe6, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77,
        0x77, 0xf7, 0x55, 0x05, 0x00, 0x00, 0x70, 0x00, 0x77, 0xf7, 0x55, 0x05, 0x00, 0x00, 0x70, 0x00, 0x07, 0x0f, 0x10, 0x00, 0x07, 0x0f, 0x10, 0x00, 0x07, 0x0f, 0x10, 0x00, 0x07, 0x0f, 0x10, 0x00 };
static const uint8_t edge_nvfp4_s[] = { 0x38, 0x38, 0x00, 0x00, 0x7e, 0x7e, 0x00, 0x00, 0x7e, 0x1b, 0x7e, 0x1b, 0x6a, 0x6a, 0x72, 0x72 };
static const uint8_t edge_mxfp8_w[] = {
        0x7c, 0x58, 0xd8, 0x64, 0xe4, 0x6a, 0xea, 0x6e, 0x72, 0x76, 0x7a, 0xfa, 0x00, 0x80, 0x55, 0xda, 0x7c, 0x7a, 0x72, 0x6e, 0x64, 0x58, 0xd8, 0x74, 0xfc, 0x68, 0xe8, 0x6c, 0xec, 0x70, 0x78, 0xf8,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x78, 0xf6, 0x00, 0x80, 0x00, 0x71, 0x00, 0x61, 0x78, 0xf6, 0x00, 0x80, 0x00, 0x71, 0x00, 0x61, 0x78, 0xf6, 0x00, 0x80, 0x00, 0x71, 0x00, 0x61, 0x78, 0xf6, 0x00, 0x80, 0x00, 0x71, 0x00, 0x61,
        0x00, 0x80, 0x00, 0x41, 0xe3, 0x78, 0x00, 0x01, 0x00, 0x80, 0x00, 0x41, 0xe3, 0x78, 0x00, 0x01, 0x00, 0x80, 0x00, 0x41, 0xe3, 0x78, 0x00, 0x01, 0x00, 0x80, 0x00, 0x41, 0xe3, 0x78, 0x00, 0x01,
        0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e,
        0x7e, 0x7e, 0x7e, 0xfe, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e,
        0x76, 0x76, 0x76, 0xf6, 0x6f, 0x70, 0x6e, 0x00, 0x01, 0x80, 0x50, 0x52, 0x04, 0x76, 0x30, 0x38, 0x76, 0x76, 0x76, 0xf6, 0x6f, 0x70, 0x6e, 0x00, 0x01, 0x80, 0x50, 0x52, 0x04, 0x76, 0x30, 0x38,
        0x78, 0x00, 0xf8, 0x00, 0x1d, 0x5c, 0x3e, 0x40, 0x78, 0x00, 0xf8, 0x00, 0x1d, 0x5c, 0x3e, 0x40, 0x78, 0x00, 0xf8, 0x00, 0x1d, 0x5c, 0x3e, 0x40, 0x78, 0x00, 0xf8, 0x00, 0x1d, 0x5c, 0x3e, 0x40 };
static const uint8_t edge_mxfp8_s[] = { 0x79, 0x7f, 0xf7, 0xf9, 0x80, 0x80, 0x80, 0x81 };

static void test_fp_quantize_edges(void) {
    static const uint8_t *const expect_w[3] = { edge_mxfp4_w, edge_nvfp4_w, edge_mxfp8_w };
    static const uint8_t *const expect_s[3] = { edge_mxfp4_s, edge_nvfp4_s, edge_mxfp8_s };
    static const size_t n_w[3] = { sizeof edge_mxfp4_w, sizeof edge_nvfp4_w, sizeof edge_mxfp8_w };
    static const size_t n_s[3] = { sizeof edge_mxfp4_s, sizeof edge_nvfp4_s, sizeof edge_mxfp8_s };
    uint8_t w[EDGE_ROWS * 32], s[EDGE_ROWS * 2];
    for (int m = 0; m < 3; m++) {
        CHECK_OK(llm_mlx_quantize_fp((llm_mlx_fp_mode)m, &edge_in[0][0], EDGE_ROWS, 32, w, s));
        for (size_t i = 0; i < n_w[m]; i++)
            if (w[i] != expect_w[m][i]) { printf("  mode %d: weight byte %zu (row %zu) is 0x%02x, mlx 0x%02x\n", m, i,
                                                 i / (n_w[m] / EDGE_ROWS), w[i], expect_w[m][i]); CHECK(0); break; }
        for (size_t i = 0; i < n_s[m]; i++) CHECK_EQ_INT(s[i], expect_s[m][i]);
    }
    CHECK_EQ_INT(edge_mxfp4_w[0], 0x07);         /* 6 -> code 7, .25 -> +0 (tie to the smaller) */
    CHECK_EQ_INT(edge_mxfp4_w[1], 0x10);         /* -.25 -> +0, .75 -> 0.5 (code 1) */
    CHECK(llm_mlx_quantize_fp((llm_mlx_fp_mode)3, &edge_in[0][0], 1, 32, w, s) == LLM_ERR_INVALID_ARG);
    CHECK(llm_mlx_quantize_fp(LLM_MLX_MXFP4, &edge_in[0][0], 1, 16, w, s) == LLM_ERR_INVALID_ARG);
}

/* Quantize -> llm_mlx_dequantize_fp on random rows of varied amplitude (2^-2 .. 2^7, every
   5th column x9): every element within half a step of its format: for fp4 max(scale/4,
   |w|/4) (the e2m1 grid 0, .5, 1, 1.5, 2, 3, 4, 6), for e4m3 max(scale/1024, |w|/16). The
   amplitudes keep nvfp4's e4m3 scale normal: without a global scale it flushes groups whose
   max is below about 6 * 2^-10 to zero and saturates above 6 * 448. */
static void test_fp_round_trip(void) {
    enum { R = 16, C = 128 };
    static float w[R * C], d[R * C];
    static uint8_t packed[R * C], scales[R * C / 16];
    uint64_t s = 21;
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) w[r * C + c] = rnd(&s) * ldexpf(1.0f, (r * 5) % 10 - 2) * (c % 5 ? 1.0f : 9.0f);
    for (int m = 0; m < 3; m++) {
        int group = m == LLM_MLX_NVFP4 ? 16 : 32, bad = 0;
        CHECK_OK(llm_mlx_quantize_fp((llm_mlx_fp_mode)m, w, R, C, packed, scales));
        CHECK_OK(llm_mlx_dequantize_fp((llm_mlx_fp_mode)m, packed, scales, R, C, d));
        for (int i = 0; i < R * C; i++) {
            uint8_t sb = scales[i / group];
            double sc = m == LLM_MLX_NVFP4 ? llm__fp8_e4m3(sb) : ldexp(1.0, sb - 127);
            double tol = m == LLM_MLX_MXFP8 ? fmax(sc / 1024, fabs(w[i]) / 16) : fmax(sc / 4, fabs(w[i]) / 4);
            bad += !(fabs((double)d[i] - w[i]) <= tol);
        }
        CHECK_EQ_INT(bad, 0);
    }
}

/* ---- GGUF MXFP4 (type 39) ---- */

/* LCG blocks (exponents 0, 1, 255, 127 in blocks 0..3) dequantized as gguf-py does
   (tests/tools/gguf_mxfp4_ref.py): e 0 gives subnormals, e 255 overflows to inf. The
   blocks also go through a GGUF file, where type 39 reads back as LLM_DTYPE_MXFP4. */
static void test_gguf_mxfp4(void) {
    enum { NB = 16 };
    uint8_t blocks[NB * 17];
    static float d[NB * 32];
    uint64_t s = 5;
    for (int i = 0; i < NB * 17; i++) blocks[i] = (uint8_t)(lcg(&s) >> 56);
    blocks[0] = 0, blocks[17] = 1, blocks[2 * 17] = 255, blocks[3 * 17] = 127;
    CHECK_OK(llm_dequantize(LLM_DTYPE_MXFP4, blocks, d, NB * 32));
    CHECK_EQ_INT(fnv(FNV0, d, sizeof d), 0xbbbcb4aaeee2196du);
    CHECK(d[0] == 8.816207631167156e-39f && d[1] == 5.877471754111438e-39f && d[96] == 0.5f && d[97] == 4.0f);
    CHECK(isinf(d[64]) && d[64] > 0 && isinf(d[65]) && d[65] < 0);
    CHECK_EQ_INT(llm_quantize(LLM_DTYPE_MXFP4, d, blocks, 32), LLM_ERR_UNSUPPORTED);
    CHECK_EQ_INT(llm_dtype_n_bytes(LLM_DTYPE_MXFP4, 64), 34);
    char path[] = "/tmp/llm_mxfp4_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    llm_tensor t = { "blk.0.ffn_down_exps.weight", LLM_DTYPE_MXFP4, 2, { 4, 128 }, blocks, sizeof blocks };
    llm_gguf *g = NULL;
    CHECK_OK(llm_gguf_write(path, NULL, 0, &t, 1));
    CHECK_OK(llm_gguf_open(path, &g));
    const llm_tensor *r = g ? llm_gguf_find_tensor(g, t.name) : NULL;
    CHECK(r && r->dtype == LLM_DTYPE_MXFP4 && r->n_bytes == sizeof blocks && !memcmp(r->data, blocks, sizeof blocks));
    llm_gguf_close(g);
    remove(path);
}

/* ---- matmul ---- */

/* One quantized matrix with its dequantized copy. */
typedef struct { llm__qmat q; uint8_t *w; void *scales, *biases; float *deq; } qmatrix;

static void qmatrix_make(qmatrix *m, int bits, int gs, llm_dtype dt, int64_t rows, int64_t cols, uint64_t seed) {
    float *w = malloc(rows * cols * sizeof *w);
    for (int64_t i = 0; i < rows * cols; i++) w[i] = rnd(&seed) * (1 + (i / cols) % 3);
    m->w = malloc(llm_mlx_weight_bytes(rows, cols, bits));
    m->scales = malloc(rows * cols / gs * 4);
    m->biases = malloc(rows * cols / gs * 4);
    m->deq = malloc(rows * cols * sizeof *w);
    CHECK_OK(llm_mlx_quantize(w, rows, cols, bits, gs, dt, m->w, m->scales, m->biases));
    /* the kernels use s*q + b unrounded (mlx rounds w to the scale dtype): compare with that */
    float *s32 = malloc(rows * cols / gs * 4), *b32 = malloc(rows * cols / gs * 4);
    llm_convert(LLM_DTYPE_F32, s32, dt, m->scales, rows * cols / gs);
    llm_convert(LLM_DTYPE_F32, b32, dt, m->biases, rows * cols / gs);
    CHECK_OK(llm_mlx_dequantize(m->w, s32, b32, rows, cols, bits, gs, LLM_DTYPE_F32, m->deq));
    free(s32); free(b32);
    m->q = (llm__qmat){ .w = m->w, .scales = m->scales, .biases = m->biases, .rows = rows, .cols = cols, .bits = bits,
                        .group_size = gs, .sdtype = dt, .fp_mode = -1 };
    free(w);
}

static void qmatrix_free(qmatrix *m) { free(m->w); free(m->scales); free(m->biases); free(m->deq); }

/* y = x . W^T through llm__matmul_mlx with `scratch_tokens` tokens' worth of scratch. */
static void run_matmul(llm_pool *pool, const llm__qmat *q, const float *x, int64_t n_tok, int64_t scratch_tokens, float *y) {
    size_t n = llm__mlx_scratch_bytes(q, scratch_tokens, llm_pool_n_threads(pool));
    float *scratch = malloc(n);
    llm__matmul_mlx(pool, scratch, n, y, q->rows, x, n_tok, q);
    free(scratch);
}

/* Worst |y - dot(x, deq)| allowed: float rounding on the reference path; on the int8 path
   also the activation rounding, max|x_blk|/254 per element of each 32-block (27_kernels_mlx.c). */
static double matmul_tol(const float *x, const float *w, int64_t k, bool int8) {
    double abs_dot = 0, round = 0;
    for (int64_t b = 0; b < k; b += 32) {
        double amax = 0, wsum = 0;
        for (int64_t i = b; i < b + 32; i++) {
            amax = fmax(amax, fabs(x[i]));
            wsum += fabs(w[i]);
            abs_dot += fabs((double)x[i] * w[i]);
        }
        round += amax / 254 * wsum;
    }
    return 1e-5 * abs_dot + 1e-6 + (int8 ? round * 1.001 : 0);
}

/* Every output of the kernel in force against a double dot with the dequantized matrix. */
static int check_outputs(const qmatrix *m, const float *x, int64_t n_tok, const float *y, bool int8, double *worst_rel) {
    int bad = 0;
    int64_t k = m->q.cols;
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t r = 0; r < m->q.rows; r++) {
            double want = 0;
            for (int64_t i = 0; i < k; i++) want += (double)x[t * k + i] * m->deq[r * k + i];
            double err = fabs(y[t * m->q.rows + r] - want), tol = matmul_tol(x + t * k, m->deq + r * k, k, int8);
            if (!(err <= tol) && bad++ < 3)
                printf("  y[%lld][%lld] = %.9g, want %.9g (tol %g)\n", (long long)t, (long long)r, y[t * m->q.rows + r], want, tol);
            *worst_rel = fmax(*worst_rel, err / tol);
        }
    return bad;
}

/* Every bit width and group size on awkward shapes, reference and (4/8-bit) AVX2 paths, with
   1 and 3 threads (bitwise equal) and with one-token scratch tiles (bitwise equal). */
static void test_matmul(void) {
    static const llm_dtype dts[3] = { LLM_DTYPE_F32, LLM_DTYPE_F16, LLM_DTYPE_BF16 };
    static const int64_t shapes[3][3] = { { 1, 4096, 1 }, { 3, 0, 4 }, { 33, 4096, 9 } };   /* rows, cols (0: small), tokens */
    llm_pool *pool1 = NULL, *pool3 = NULL;
    CHECK_OK(llm_pool_create(1, &pool1));
    CHECK_OK(llm_pool_create(3, &pool3));
    double worst[2] = { 0, 0 };
    int bad = 0, n = 0;
    for (int bits = 2; bits <= 8; bits++) {
        if (bits == 7) continue;
        for (int gs = 32; gs <= 128; gs *= 2)
            for (int sh = 0; sh < 3; sh++) {
                int64_t rows = shapes[sh][0], cols = shapes[sh][1] ? shapes[sh][1] : (gs == 128 ? 128 : 64), T = shapes[sh][2];
                qmatrix m;
                qmatrix_make(&m, bits, gs, dts[(bits + sh) % 3], rows, cols, 99 + bits * 7 + gs + sh);
                float *x = malloc(T * cols * sizeof *x), *y = malloc(T * rows * sizeof *y), *y3 = malloc(T * rows * sizeof *y);
                uint64_t s = 5 + sh;
                for (int64_t i = 0; i < T * cols; i++) x[i] = rnd(&s);
                for (int ref = 1; ref >= 0; ref--) {
                    llm_set_reference_kernels(ref);
                    run_matmul(pool1, &m.q, x, T, T, y);
                    bad += check_outputs(&m, x, T, y, !ref && llm__mlx_fast(&m.q), &worst[!ref && llm__mlx_fast(&m.q)]);
                    run_matmul(pool3, &m.q, x, T, 1, y3);
                    CHECK(memcmp(y, y3, T * rows * sizeof *y) == 0);
                    n++;
                }
                free(x); free(y); free(y3);
                qmatrix_free(&m);
            }
    }
    llm_set_reference_kernels(false);
    printf("  %d matmuls; worst error / tolerance: reference %.3f, int8 %.3f\n", n, worst[0], worst[1]);
    CHECK_EQ_INT(bad, 0);
    llm_pool_destroy(pool1);
    llm_pool_destroy(pool3);
}

/* The reference kernel on an mxfp4 matrix against llm_mlx_dequantize_fp. */
static void test_matmul_mxfp4(void) {
    enum { R = 5, K = 256, T = 2 };
    static uint32_t words[R * K / 8];
    static uint8_t scales[R * K / 32];
    static float deq[R * K], x[T * K], y[T * R];
    uint64_t s = 3;
    for (int i = 0; i < R * K / 8; i++) words[i] = (uint32_t)(lcg(&s) >> 32);
    for (int i = 0; i < R * K / 32; i++) scales[i] = (uint8_t)(120 + (lcg(&s) >> 60));
    for (int i = 0; i < T * K; i++) x[i] = rnd(&s);
    CHECK_OK(llm_mlx_dequantize_fp(LLM_MLX_MXFP4, words, scales, R, K, deq));
    llm_tensor tw = { "w", LLM_DTYPE_U32, 2, { R, K / 8 }, words, sizeof words };
    llm_tensor ts = { "w.scales", LLM_DTYPE_U8, 2, { R, K / 32 }, scales, sizeof scales };
    qmatrix m = { .deq = deq };
    CHECK_OK(llm__mlx_qmat_init("test", "w", &tw, &ts, NULL, "mxfp4", 4, 32, R, K, &m.q));
    double worst = 0;
    run_matmul(NULL, &m.q, x, T, T, y);
    CHECK_EQ_INT(check_outputs(&m, x, T, y, false, &worst), 0);
}

/* NaN and inf in weights or activations give garbage, not undefined behaviour (the
   sanitizer build checks the float-to-int conversions). */
static void test_nonfinite(void) {
    float w[2 * 64], x[64], y[2];
    uint64_t s = 11;
    for (int i = 0; i < 2 * 64; i++) w[i] = rnd(&s);
    for (int i = 0; i < 64; i++) x[i] = rnd(&s);
    w[3] = NAN;
    w[70] = INFINITY;
    x[5] = NAN;
    x[40] = -INFINITY;
    uint32_t packed[2 * 64 / 8];
    float scales[2], biases[2];
    CHECK_OK(llm_mlx_quantize(w, 2, 64, 4, 64, LLM_DTYPE_F32, packed, scales, biases));
    CHECK_EQ_INT((packed[0] >> 12) & 15, 0);     /* the NaN element */
    llm__qmat q = { (const uint8_t *)packed, scales, biases, 2, 64, 4, 64, LLM_DTYPE_F32, -1 };
    for (int ref = 0; ref < 2; ref++) {
        llm_set_reference_kernels(ref);
        run_matmul(NULL, &q, x, 1, 1, y);
    }
    llm_set_reference_kernels(false);
}

/* Per-module settings of an mlx_lm config: global values, an override object (its missing
   fields from its mode's defaults), false, and configs without a quantization section. */
static void test_config(void) {
    static const char json[] =
        "{\"model_type\": \"llama\", \"quantization\": {\"group_size\": 32, \"bits\": 3,"
        " \"model.layers.0.mlp.down_proj\": {\"group_size\": 64, \"bits\": 6},"
        " \"model.layers.1.mlp.down_proj\": {\"mode\": \"mxfp4\"},"
        " \"lm_head\": false, \"model.embed_tokens\": true}}";
    cJSON *c = NULL;
    CHECK_OK(llm__json_parse(json, sizeof json - 1, "config.json", &c));
    bool on;
    int bits, gs;
    const char *mode;
    llm__mlx_quant_params(c, "model.layers.3.self_attn.q_proj", &on, &bits, &gs, &mode);
    CHECK(on && bits == 3 && gs == 32 && !strcmp(mode, "affine"));
    llm__mlx_quant_params(c, "model.layers.0.mlp.down_proj", &on, &bits, &gs, &mode);
    CHECK(on && bits == 6 && gs == 64 && !strcmp(mode, "affine"));
    llm__mlx_quant_params(c, "model.layers.1.mlp.down_proj", &on, &bits, &gs, &mode);
    CHECK(on && bits == 4 && gs == 32 && !strcmp(mode, "mxfp4"));
    llm__mlx_quant_params(c, "lm_head", &on, &bits, &gs, &mode);
    CHECK(!on);
    llm__mlx_quant_params(c, "model.embed_tokens", &on, &bits, &gs, &mode);
    CHECK(on && bits == 3 && gs == 32);
    cJSON_Delete(c);
    static const char plain[] = "{\"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 4}}";
    CHECK_OK(llm__json_parse(plain, sizeof plain - 1, "config.json", &c));
    llm__mlx_quant_params(c, "lm_head", &on, &bits, &gs, &mode);
    CHECK(!on);
    cJSON_Delete(c);
    static const char both[] = "{\"quantization_config\": {\"group_size\": 128, \"bits\": 8}}";
    CHECK_OK(llm__json_parse(both, sizeof both - 1, "config.json", &c));
    llm__mlx_quant_params(c, "lm_head", &on, &bits, &gs, &mode);
    CHECK(on && bits == 8 && gs == 128);
    cJSON_Delete(c);
}

/* What a binder meets in a broken checkpoint: each mistake gives its own clear error. */
static void test_hostile(void) {
    static uint32_t w[4 * 16];
    static uint16_t sc[4 * 2], bi[4 * 2];
    llm_tensor tw = { "w", LLM_DTYPE_U32, 2, { 4, 16 }, w, sizeof w };          /* [4, 128] 4-bit */
    llm_tensor ts = { "w.scales", LLM_DTYPE_F16, 2, { 4, 2 }, sc, sizeof sc };  /* group 64 */
    llm_tensor tb = { "w.biases", LLM_DTYPE_F16, 2, { 4, 2 }, bi, sizeof bi };
    llm__qmat q;
    CHECK_OK(llm__mlx_qmat_init("m", "w", &tw, &ts, &tb, NULL, 4, 64, 4, 128, &q));
    CHECK_EQ_INT(q.sdtype, LLM_DTYPE_F16);
    CHECK_EQ_INT(llm__mlx_qmat_init("m", "w", &tw, &ts, &tb, "affine", 7, 64, 4, 128, &q), LLM_ERR_UNSUPPORTED);
    CHECK(strstr(llm_last_error(), "7-bit") != NULL);
    CHECK_EQ_INT(llm__mlx_qmat_init("m", "w", &tw, &ts, &tb, NULL, 4, 48, 4, 128, &q), LLM_ERR_UNSUPPORTED);
    CHECK_EQ_INT(llm__mlx_qmat_init("m", "w", &tw, &ts, &tb, NULL, 4, 64, 4, 96, &q), LLM_ERR_FORMAT);
    CHECK(strstr(llm_last_error(), "groups of 64") != NULL);
    /* scales [4, 2] where group 32 needs [4, 4] */
    CHECK_EQ_INT(llm__mlx_qmat_init("m", "w", &tw, &ts, &tb, NULL, 4, 32, 4, 128, &q), LLM_ERR_FORMAT);
    CHECK(strstr(llm_last_error(), "w.scales") != NULL);
    CHECK_EQ_INT(llm__mlx_qmat_init("m", "w", &tw, &ts, &tb, NULL, 8, 64, 4, 128, &q), LLM_ERR_FORMAT); /* weight too small */
    CHECK(strstr(llm_last_error(), "w.weight") != NULL);
    CHECK_EQ_INT(llm__mlx_qmat_init("m", "w", &tw, &ts, NULL, NULL, 4, 64, 4, 128, &q), LLM_ERR_FORMAT);
    CHECK(strstr(llm_last_error(), "biases") != NULL);
    CHECK_EQ_INT(llm__mlx_qmat_init("m", "w", &tw, &ts, &tb, "nf4", 4, 64, 4, 128, &q), LLM_ERR_UNSUPPORTED);
    CHECK_EQ_INT(llm__mlx_qmat_init("m", "w", &tw, &ts, &tb, "mxfp4", 4, 64, 4, 128, &q), LLM_ERR_UNSUPPORTED);
    llm_tensor tb32 = tb; tb32.dtype = LLM_DTYPE_F32;                            /* biases in another dtype */
    CHECK_EQ_INT(llm__mlx_qmat_init("m", "w", &tw, &ts, &tb32, NULL, 4, 64, 4, 128, &q), LLM_ERR_FORMAT);
    llm_tensor ts1 = ts; ts1.n_dims = 1;                                         /* scales 1-D */
    CHECK_EQ_INT(llm__mlx_qmat_init("m", "w", &tw, &ts1, &tb, NULL, 4, 64, 4, 128, &q), LLM_ERR_FORMAT);
    llm_tensor ts8 = ts; ts8.dtype = LLM_DTYPE_U8; ts8.n_bytes = 8;              /* u8 scales in affine mode */
    CHECK_EQ_INT(llm__mlx_qmat_init("m", "w", &tw, &ts8, &tb, NULL, 4, 64, 4, 128, &q), LLM_ERR_FORMAT);
    llm_tensor tws = tw; tws.n_bytes = 16;                                       /* a view shorter than its shape */
    CHECK_EQ_INT(llm__mlx_qmat_init("m", "w", &tws, &ts, &tb, NULL, 4, 64, 4, 128, &q), LLM_ERR_FORMAT);
    CHECK_EQ_INT(llm__mlx_qmat_init("m", "w", NULL, &ts, &tb, NULL, 4, 64, 4, 128, &q), LLM_ERR_FORMAT);
    /* the public functions check their arguments too */
    float f[128] = { 0 };
    CHECK_EQ_INT(llm_mlx_quantize(f, 1, 128, 7, 64, LLM_DTYPE_F32, w, sc, bi), LLM_ERR_INVALID_ARG);
    CHECK_EQ_INT(llm_mlx_quantize(f, 1, 96, 4, 64, LLM_DTYPE_F32, w, sc, bi), LLM_ERR_INVALID_ARG);
    CHECK_EQ_INT(llm_mlx_quantize(f, 1, 128, 4, 16, LLM_DTYPE_F32, w, sc, bi), LLM_ERR_INVALID_ARG);
    CHECK_EQ_INT(llm_mlx_quantize(f, 1, 128, 4, 64, LLM_DTYPE_I8, w, sc, bi), LLM_ERR_INVALID_ARG);
    CHECK_EQ_INT(llm_mlx_dequantize(w, sc, bi, 1, 128, 1, 64, LLM_DTYPE_F16, f), LLM_ERR_INVALID_ARG);
    CHECK_EQ_INT(llm_mlx_dequantize_fp((llm_mlx_fp_mode)9, w, (const uint8_t *)sc, 1, 128, f), LLM_ERR_INVALID_ARG);
    CHECK_EQ_INT(llm_mlx_dequantize_fp(LLM_MLX_MXFP4, w, (const uint8_t *)sc, 1, 40, f), LLM_ERR_INVALID_ARG);
    CHECK_EQ_INT(llm_mlx_weight_bytes(3, 100, 4), 0);
    CHECK_EQ_INT(llm_mlx_weight_bytes(3, 128, 3), 144);
}

int main(void) {
    RUN(test_affine_matches_mlx);
    RUN(test_affine_values);
    RUN(test_fp_matches_mlx);
    RUN(test_fp_quantize_matches_mlx);
    RUN(test_fp_quantize_edges);
    RUN(test_fp_round_trip);
    RUN(test_gguf_mxfp4);
    RUN(test_matmul);
    RUN(test_matmul_mxfp4);
    RUN(test_nonfinite);
    RUN(test_config);
    RUN(test_hostile);
    return TEST_MAIN_END();
}
