/* Plain-C TFLite int8 reference kernels (see tflite_ref.h). */
#include "tflite_ref.h"

#define INT32_MIN_ (-2147483647 - 1)
#define INT32_MAX_ 2147483647

/* a * b as int64 for a core without a multiplier: |a| times |b| four bits at a time from a table of
 * |a|'s 16 multiples (8 steps, where __muldi3 takes up to 64 rounds of 64-bit shift-and-add). */
static int64_t mul_32x32(int32_t a, int32_t b)
{
    uint64_t ua = (uint64_t)(a < 0 ? 0u - (uint32_t)a : (uint32_t)a), mult[16], r = 0;
    uint32_t ub = b < 0 ? 0u - (uint32_t)b : (uint32_t)b;
    mult[0] = 0;
    for (int i = 1; i < 16; i++)
        mult[i] = mult[i - 1] + ua;
    for (int i = 28; i >= 0; i -= 4)
        r = (r << 4) + mult[(ub >> i) & 15u];
    return (a < 0) != (b < 0) ? -(int64_t)r : (int64_t)r;     /* |a * b| <= 2^62 */
}

int32_t tfl_srdhm(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN_)
        return INT32_MAX_;
    int64_t ab = mul_32x32(a, b);
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

/* ---- ADD ------------------------------------------------------------------------------------------ */

static int32_t add32(int32_t a, int32_t b)     /* int32 addition that wraps like the reference */
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static int32_t sub32(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

/* One input of the add: (x + offset) * 2^left_shift, then MultiplyByQuantizedMultiplierSmallerThanOneExp
 * (= tfl_mbqm for a shift <= 0: RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(v, m), -shift)). */
static int32_t add_input(int8_t x, int32_t offset, int left_shift, int32_t multiplier, int shift)
{
    int32_t v = (int32_t)((uint32_t)add32(x, offset) << left_shift);
    return tfl_mbqm(v, multiplier, shift);
}

void tfl_add(const tfl_add_t *p, const int8_t *in1, const int8_t *in2, int8_t *out, int n)
{
    for (int i = 0; i < n; i++) {
        int32_t a = add_input(in1[i], p->input1_offset, p->left_shift, p->input1_multiplier, p->input1_shift);
        int32_t b = add_input(in2[i], p->input2_offset, p->left_shift, p->input2_multiplier, p->input2_shift);
        int32_t v = add32(tfl_mbqm(add32(a, b), p->output_multiplier, p->output_shift), p->output_offset);
        out[i] = (int8_t)clamp(v, p->act_min, p->act_max);
    }
}

/* ---- SOFTMAX: gemmlowp fixed point (fixedpoint.h) on int32 raw values ------------------------------
 * Qm.n below is gemmlowp's FixedPoint<int32_t, m> (n = 31 - m fractional bits). */

#define SOFTMAX_DIFF_BITS 5      /* kScaledDiffIntegerBits: the scaled difference is Q5.26 */
#define SOFTMAX_ACCUM_BITS 12    /* kAccumulationIntegerBits: the sum of exponentials is Q12.19 */

/* SaturatingRoundingMultiplyByPOT<exponent> for 0 < exponent < 31: a saturating left shift. */
static int32_t sat_shl(int32_t x, int exponent)
{
    int32_t threshold = (int32_t)((1u << (31 - exponent)) - 1u);
    if (x > threshold)
        return INT32_MAX_;
    if (x < -threshold)
        return INT32_MIN_;
    return (int32_t)((uint32_t)x << exponent);
}

/* RoundingHalfSum: (a + b + sign(a + b)) / 2 in 64 bits, C division (toward zero). */
static int32_t rounding_half_sum(int32_t a, int32_t b)
{
    int64_t t = (int64_t)a + (int64_t)b;
    t += t >= 0 ? 1 : -1;
    return (int32_t)(t >= 0 ? t >> 1 : -((-t) >> 1));
}

/* exp_on_interval_between_negative_one_quarter_and_0_excl: exp(a) for a in [-1/4, 0), Q0.31 in and
 * out; Taylor expansion around -1/8 (constants exp(-1/8) and 1/3 in Q0.31). */
static int32_t exp_quarter(int32_t a)
{
    const int32_t exp_minus_one_eighth = 1895147668, one_third = 715827883;
    int32_t x = add32(a, 1 << 28);                                 /* a + 1/8 */
    int32_t x2 = tfl_srdhm(x, x), x3 = tfl_srdhm(x2, x), x4 = tfl_srdhm(x2, x2);
    int32_t x4_over_4 = tfl_rdbpot(x4, 2);
    int32_t poly = tfl_rdbpot(add32(tfl_srdhm(add32(x4_over_4, x3), one_third), x2), 1);
    return add32(exp_minus_one_eighth, tfl_srdhm(exp_minus_one_eighth, add32(x, poly)));
}

/* exp_on_negative_values for a Q5.26 input a <= 0, result Q0.31: exp of a mod 1/4 (shifted into
 * [-1/4, 0)), then one multiplication by exp(-2^k) per set bit k of the rest (the barrel shifter).
 * With 5 integer bits all seven stages exist and gemmlowp's clamp at -32 is not compiled in. */
static int32_t exp_on_negative_q5_26(int32_t a)
{
    static const int32_t exp_minus_pot[7] = {     /* exp(-2^k), k = -2 .. 4, Q0.31 */
        1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242,
    };
    const int frac_bits = 31 - SOFTMAX_DIFF_BITS;
    const int32_t one_quarter = (int32_t)1 << (frac_bits - 2);
    int32_t a_mod_quarter_minus_quarter = sub32(a & (one_quarter - 1), one_quarter);
    int32_t result = exp_quarter(sat_shl(a_mod_quarter_minus_quarter, SOFTMAX_DIFF_BITS)); /* Rescale<0> */
    uint32_t remainder = (uint32_t)sub32(a_mod_quarter_minus_quarter, a);
    for (int k = 0; k < 7; k++)
        if (remainder & (1u << (frac_bits - 2 + k)))
            result = tfl_srdhm(result, exp_minus_pot[k]);
    return a == 0 ? INT32_MAX_ : result;                            /* exp(0) = One() */
}

/* one_over_one_plus_x_for_x_in_0_1: 1 / (1 + a), Q0.31 in and out; three Newton-Raphson steps in
 * Q2.29 from 48/17 - 32/17 * d, d = (1 + a) / 2. */
static int32_t one_over_one_plus_x(int32_t a)
{
    const int32_t f2_one = 1 << 29;
    int32_t half_denominator = rounding_half_sum(a, INT32_MAX_);
    int32_t x = add32(1515870810, tfl_srdhm(half_denominator, -1010580540));
    for (int i = 0; i < 3; i++) {
        int32_t one_minus_dx = sub32(f2_one, tfl_srdhm(half_denominator, x));
        x = add32(x, sat_shl(tfl_srdhm(x, one_minus_dx), 2));      /* Rescale<2> of a Q4.27 product */
    }
    return sat_shl(x, 1);                                           /* Rescale<0>(ExactMulByPot<-1>(x)) */
}

static int count_leading_zeros(uint32_t u)
{
    int n = 0;
    if (u == 0)
        return 32;
    for (int step = 16; step > 0; step >>= 1)
        if ((u >> (32 - step)) == 0) {
            n += step;
            u <<= step;
        }
    return n;
}

/* exp(beta * input_scale * diff) in Q0.31 for diff = x - row max (diff_min <= diff <= 0):
 * MultiplyByQuantizedMultiplierGreaterThanOne (tfl_mbqm with a shift >= 0) gives Q5.26. */
static int32_t softmax_exp(const tfl_softmax_t *p, int32_t diff)
{
    return exp_on_negative_q5_26(tfl_mbqm(diff, p->input_multiplier, p->input_left_shift));
}

int tfl_softmax(const tfl_softmax_t *p, const int8_t *in, int8_t *out, int rows, int depth)
{
    int status = 0;
    for (int i = 0; i < rows; i++, in += depth, out += depth) {
        int32_t max = -128;
        for (int c = 0; c < depth; c++)
            max = in[c] > max ? in[c] : max;

        int32_t sum = 0;                                            /* Q12.19, plain int32 adds */
        for (int c = 0; c < depth; c++)
            if (in[c] - max >= p->diff_min)
                sum = add32(sum, tfl_rdbpot(softmax_exp(p, in[c] - max), SOFTMAX_ACCUM_BITS));

        /* GetReciprocal: 1 / sum = scale * 2^-num_bits_over_unit, scale = 1 / (1 + x) in Q0.31 */
        int headroom_plus_one = count_leading_zeros((uint32_t)sum);
        int num_bits_over_unit = SOFTMAX_ACCUM_BITS - headroom_plus_one;
        uint32_t normalised = headroom_plus_one < 32 ? (uint32_t)sum << headroom_plus_one : 0;
        int32_t scale = one_over_one_plus_x((int32_t)(normalised - (1u << 31)));
        int exponent = num_bits_over_unit + 31 - 8;
        if (exponent < 0 || exponent > 31) {                        /* the reference's TFLITE_CHECK */
            for (int c = 0; c < depth; c++)
                out[c] = -128;
            status = -1;
            continue;
        }

        for (int c = 0; c < depth; c++) {
            int32_t v = -128;
            if (in[c] - max >= p->diff_min)
                v = tfl_rdbpot(tfl_srdhm(scale, softmax_exp(p, in[c] - max)), exponent) - 128;
            out[c] = (int8_t)clamp(v, -128, 127);
        }
    }
    return status;
}

void tfl_add_table(const tfl_add_table_t *p, const int8_t *in1, const int8_t *in2, int8_t *out, int n)
{
    const int32_t *t = p->thresholds;
    const int last = p->n_thresholds;
    for (int i = 0; i < n; i++) {
        int32_t s = p->in1[in1[i] + 128] + p->in2[in2[i] + 128];
        int k = p->start[(uint32_t)(s - p->base) >> p->shift];   /* thresholds below s's bucket */
        while (k < last && t[k] <= s)
            k++;
        out[i] = (int8_t)(p->act_min + k);
    }
}

/* ---- AVERAGE_POOL_2D ---------------------------------------------------------------------------- */

/* n / d for a quotient below 256 (the average of int8 values): 8 steps of long division instead of
 * the 32 of __udivsi3 (RV32I has no divider). */
static uint32_t div_small(uint32_t n, uint32_t d)
{
    uint32_t q = 0;
    for (int i = 7; i >= 0; i--)
        if (n >= d << i) {
            n -= d << i;
            q |= 1u << i;
        }
    return q;
}

/* Both pools of any window: max over the in-bounds taps, or their average rounded half away from zero. */
static int pool(const tfl_pool_t *p, const int8_t *in, int8_t *out, int max)
{
    const int C = p->C, row = p->W * p->C;                          /* input strides */
    int status = 0;
    /* loop nest E F C (R S): the in-bounds window rows [r0, r1) and columns [s0, s1) */
    for (int e = 0, y = -p->pad_top; e < p->E; e++, y += p->sh) {
        int r0 = y < 0 ? 0 : y, r1 = y + p->fh < p->H ? y + p->fh : p->H;
        for (int f = 0, x = -p->pad_left; f < p->F; f++, x += p->sw, out += C) {
            int s0 = x < 0 ? 0 : x, s1 = x + p->fw < p->W ? x + p->fw : p->W;
            if (r1 <= r0 || s1 <= s0) {                             /* no in-bounds tap */
                status = -1;
                continue;
            }
            int32_t count = (r1 - r0) * (s1 - s0), half = count / 2;
            const int8_t *window = in + r0 * row + s0 * C;
            for (int c = 0; c < C; c++) {
                int32_t acc = max ? -128 : 0;
                const int8_t *rp = window + c;
                for (int r = r0; r < r1; r++, rp += row) {
                    const int8_t *tp = rp;
                    for (int s = s0; s < s1; s++, tp += C) {
                        if (!max)
                            acc += *tp;
                        else if (*tp > acc)
                            acc = *tp;
                    }
                }
                int32_t v = acc;
                if (!max) {   /* (acc +- count/2) / count truncated = half away from zero; |acc| <= 128 count */
                    uint32_t q = div_small((uint32_t)(acc < 0 ? -acc : acc) + (uint32_t)half, (uint32_t)count);
                    v = acc < 0 ? -(int32_t)q : (int32_t)q;
                }
                out[c] = (int8_t)clamp(v, p->act_min, p->act_max);
            }
        }
    }
    return status;
}

int tfl_avg_pool(const tfl_pool_t *p, const int8_t *in, int8_t *out)
{
    return pool(p, in, out, 0);
}

int tfl_max_pool(const tfl_pool_t *p, const int8_t *in, int8_t *out)
{
    return pool(p, in, out, 1);
}

/* ---- space-to-depth (the input of a strided conv with a kernel larger than the engine's) ----------- */

void tfl_space_to_depth(const tfl_s2d_t *p, const int8_t *in, int8_t *out)
{
    const int B = p->block, C = p->C, row = p->W * p->C;          /* no multiplications in the loops */
    int line = -p->pad_top * row - p->pad_left * C;               /* offset of padded row y0, column 0 */
    for (int yb = 0, y0 = -p->pad_top; yb < p->Hb; yb++, y0 += B, line += B * row)
        for (int xb = 0, x0 = -p->pad_left, col = 0; xb < p->Wb; xb++, x0 += B, col += B * C)
            for (int y = y0, off = line + col; y < y0 + B; y++, off += row)
                for (int x = x0, o = off; x < x0 + B; x++, o += C) {
                    int inside = y >= 0 && y < p->H && x >= 0 && x < p->W;
                    for (int c = 0; c < C; c++)
                        *out++ = inside ? in[o + c] : (int8_t)p->pad_value;
                }
}
