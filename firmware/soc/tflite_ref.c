/* Plain-C TFLite int8 reference kernels (see tflite_ref.h). */
#include "tflite_ref.h"

#define INT32_MIN_ (-2147483647 - 1)
#define INT32_MAX_ 2147483647

int32_t tfl_srdhm(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN_)
        return INT32_MAX_;
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t t = ab + (ab >= 0 ? (int64_t)(1 << 30) : (int64_t)(1 - (1 << 30)));
    if (t < 0)                       /* C division truncates toward zero: / 2^31 */
        t += ((int64_t)1 << 31) - 1;
    return (int32_t)(t >> 31);
}

int32_t tfl_rdbpot(int32_t x, int exponent)
{
    int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1u);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t tfl_mbqm(int32_t x, int32_t multiplier, int shift)
{
    int left = shift > 0 ? shift : 0;
    int right = shift > 0 ? 0 : -shift;
    return tfl_rdbpot(tfl_srdhm((int32_t)((uint32_t)x << left), multiplier), right);
}

static int clamp(int32_t v, int lo, int hi)
{
    return v < lo ? lo : (v > hi ? hi : (int)v);
}

int8_t tfl_requant(int32_t acc, int32_t bias, int32_t multiplier, int shift, int output_zp, int act_min,
                   int act_max)
{
    int32_t x = (int32_t)((uint32_t)acc + (uint32_t)bias);
    int32_t v = (int32_t)((uint32_t)tfl_mbqm(x, multiplier, shift) + (uint32_t)output_zp);
    return (int8_t)clamp(v, act_min, act_max);
}

void tfl_conv(const tfl_conv_t *p, const int8_t *x, int8_t *out)
{
    for (int e = 0; e < p->E; e++)
        for (int f = 0; f < p->F; f++)
            for (int m = 0; m < p->M; m++) {
                int c0 = 0, c1 = p->C;
                if (p->depth_multiplier > 0) {
                    c0 = m / p->depth_multiplier;
                    c1 = c0 + 1;
                }
                uint32_t acc = 0;                  /* int32 arithmetic that wraps like the reference */
                for (int r = 0; r < p->R; r++) {
                    int ih = e * p->stride - p->pad_top + r;
                    if (ih < 0 || ih >= p->H)
                        continue;
                    for (int s = 0; s < p->S; s++) {
                        int iw = f * p->stride - p->pad_left + s;
                        if (iw < 0 || iw >= p->W)
                            continue;
                        const int8_t *xp = &x[(ih * p->W + iw) * p->C];
                        const int8_t *wp = &p->w[((m * p->R + r) * p->S + s) * p->C];
                        for (int c = c0; c < c1; c++)
                            acc += (uint32_t)((int32_t)(xp[c] - p->input_zp) * (int32_t)wp[c]);
                    }
                }
                out[(e * p->F + f) * p->M + m] = tfl_requant((int32_t)acc, p->bias[m], p->multiplier[m],
                                                             p->shift[m], p->output_zp, p->act_min,
                                                             p->act_max);
            }
}

void tfl_pool2x2(const int8_t *in, int E, int F, int M, int mode, int act_min, int act_max, int8_t *out)
{
    int Eo = E / 2, Fo = F / 2;
    for (int e = 0; e < Eo; e++)
        for (int f = 0; f < Fo; f++)
            for (int m = 0; m < M; m++) {
                int32_t a = in[((2 * e) * F + 2 * f) * M + m], b = in[((2 * e) * F + 2 * f + 1) * M + m];
                int32_t c = in[((2 * e + 1) * F + 2 * f) * M + m];
                int32_t d = in[((2 * e + 1) * F + 2 * f + 1) * M + m];
                int32_t v;
                if (mode == TFL_POOL_MAX) {
                    v = a > b ? a : b;
                    v = v > c ? v : c;
                    v = v > d ? v : d;
                } else {                           /* (sum +- count/2) / count, C truncation */
                    int32_t sum = a + b + c + d;
                    v = sum > 0 ? (sum + 2) / 4 : (sum - 2) / 4;
                }
                out[(e * Fo + f) * M + m] = (int8_t)clamp(v, act_min, act_max);
            }
}
