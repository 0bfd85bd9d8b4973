/* Plain-C TFLite int8 reference kernels for the RV32I core (no M extension): the software side of
 * the SoC firmware (conv_soc.c: one layer; firmware/net/net.c: a whole network), so the speedup is
 * measured against one implementation.
 *
 * Numerics: TFLite's reference_integer_ops::ConvPerChannel (acc = sum w * (x - input_zp) over the
 * in-image taps, + bias, MultiplyByQuantizedMultiplier with double rounding -- not the
 * TFLITE_SINGLE_ROUNDING variant --, + output_zp, clamp), int32 wrap-around where the reference
 * wraps; 2x2 stride-2 VALID MaxPool / AveragePool (sum rounded half away from zero) + clamp.
 * The operators the conv engine has no unit for, as TFLite Micro's int8 reference kernels compute them:
 * ADD (reference_integer_ops::AddElementwise), SOFTMAX (reference_ops::Softmax<int8_t, int8_t> with
 * gemmlowp's fixed-point exp and reciprocal) and AVERAGE_POOL_2D of any window
 * (reference_integer_ops::AveragePool). Their parameters are computed on the host, as TFLite Micro's
 * Prepare computes them (golden/). */
#ifndef TFLITE_REF_H
#define TFLITE_REF_H

#include <stdint.h>

#define TFL_POOL_NONE 0
#define TFL_POOL_MAX 1
#define TFL_POOL_AVG 2

/* One conv layer: NHWC input [H][W][C], OHWI weights [M][R][S][C], output [E][F][M].
 * depth_multiplier k > 0: depthwise (expanded to OHWI), output channel m reads input channel m / k. */
typedef struct {
    int H, W, C, M, R, S, stride, pad_top, pad_left, E, F, depth_multiplier;
    int input_zp, output_zp, act_min, act_max;
    const int8_t *w;
    const int32_t *bias, *multiplier, *shift;
} tfl_conv_t;

/* gemmlowp SaturatingRoundingDoublingHighMul / RoundingDivideByPOT, TFLite
 * MultiplyByQuantizedMultiplier (double rounding; the left shift wraps in int32). */
int32_t tfl_srdhm(int32_t a, int32_t b);
int32_t tfl_rdbpot(int32_t x, int exponent);
int32_t tfl_mbqm(int32_t x, int32_t multiplier, int shift);

/* One output element from its int32 accumulator: acc + bias (int32 wrap), MultiplyByQuantizedMultiplier,
 * + output_zp, clamp to [act_min, act_max]. Also what the firmware does with the accelerator's raw
 * accumulators when the engine has no requantiser (AcceleratorConfig.output_requant = 0). */
int8_t tfl_requant(int32_t acc, int32_t bias, int32_t multiplier, int shift, int output_zp, int act_min,
                   int act_max);

/* Conv + requantisation + clamp: out[E][F][M]. */
void tfl_conv(const tfl_conv_t *p, const int8_t *x, int8_t *out);

/* 2x2 stride-2 VALID pooling of in[E][F][M] (TFL_POOL_MAX / TFL_POOL_AVG), clamped:
 * out[E/2][F/2][M]. */
void tfl_pool2x2(const int8_t *in, int E, int F, int M, int mode, int act_min, int act_max, int8_t *out);

/* Elementwise int8 ADD of two tensors of the same shape (TFLite's quantised add, no broadcasting).
 * Offsets are the negated input zero points and the output zero point; the multipliers and shifts
 * come from QuantizeMultiplierSmallerThanOneExp (shift in [-31, 0]): with twice_max = 2 * max(s1, s2),
 * input k uses s_k / twice_max, the output twice_max / (2^left_shift * s_out), left_shift = 20. */
typedef struct {
    int32_t input1_offset, input2_offset, output_offset;
    int left_shift;
    int32_t input1_multiplier, input2_multiplier, output_multiplier;
    int input1_shift, input2_shift, output_shift;
    int act_min, act_max;
} tfl_add_t;

/* Per element: v_k = (x_k + offset_k) << left_shift, scaled by its multiplier (RoundingDivideByPOT of
 * SaturatingRoundingDoublingHighMul), summed, scaled by the output multiplier, + output_offset,
 * clamped to [act_min, act_max]. out may alias in1 or in2. */
void tfl_add(const tfl_add_t *p, const int8_t *in1, const int8_t *in2, int8_t *out, int n);

/* The same ADD through tables (golden/add.py add_tables: exact, computed on the host), for a core
 * without a multiplier: s = in1[a + 128] + in2[b + 128]; the output is act_min plus the number of
 * the n_thresholds ascending thresholds <= s, counted from start[(s - base) >> shift] (the thresholds
 * below s's bucket) by a short scan: no multiplication, no division. */
typedef struct {
    const int32_t *in1, *in2, *thresholds, *start;
    int n_thresholds, act_min, shift;
    int32_t base;
} tfl_add_table_t;

void tfl_add_table(const tfl_add_table_t *p, const int8_t *in1, const int8_t *in2, int8_t *out, int n);

/* int8 SOFTMAX over rows of `depth` elements; the output has scale 1/256 and zero point -128.
 * Parameters as TFLite Micro's CalculateSoftmaxParams makes them: (input_multiplier,
 * input_left_shift) = QuantizeMultiplierGreaterThanOne(min(beta * input_scale * 2^26, 2^31 - 1)),
 * diff_min = -floor(31 * 2^26 / 2^input_left_shift). */
typedef struct {
    int32_t input_multiplier;
    int input_left_shift;
    int32_t diff_min;
} tfl_softmax_t;

/* Softmax of in[rows][depth] into out[rows][depth] (in and out must not overlap). Elements whose
 * difference to the row maximum is below diff_min output -128 and are left out of the sum. Returns 0,
 * or -1 if some row's sum of exponentials reaches 512 (2^9 elements at the maximum), where the
 * reference aborts (TFLITE_CHECK on its output shift); that row's output is then all -128. */
int tfl_softmax(const tfl_softmax_t *p, const int8_t *in, int8_t *out, int rows, int depth);

/* AVERAGE_POOL_2D / MAX_POOL_2D of in[H][W][C] into out[E][F][C]: window fh x fw, stride sh x sw,
 * the window of output (e, f) starts at input row e * sh - pad_top, column f * sw - pad_left. Only
 * in-bounds taps count: their maximum, or (sum +- count / 2) / count with C truncation (half away
 * from zero); then clamped to [act_min, act_max]. Returns 0, or -1 if some window has no in-bounds
 * tap (the reference fails there too; that output is left unwritten). */
typedef struct {
    int H, W, C, fh, fw, sh, sw, pad_top, pad_left, E, F, act_min, act_max;
} tfl_pool_t;

int tfl_avg_pool(const tfl_pool_t *p, const int8_t *in, int8_t *out);
int tfl_max_pool(const tfl_pool_t *p, const int8_t *in, int8_t *out);

/* Space-to-depth of in[H][W][C] into out[Hb][Wb][block * block * C]:
 * out[yb][xb][(dy * block + dx) * C + c] = in[yb * block + dy - pad_top][xb * block + dx - pad_left][c],
 * or pad_value (the input zero point) outside in. A stride-U conv with a kernel larger than the engine's
 * is a stride-1 conv with a ceil(R/U) x ceil(S/U) kernel over this tensor (compiler/schedule.py). */
typedef struct {
    int H, W, C, block, pad_top, pad_left, Hb, Wb, pad_value;
} tfl_s2d_t;

void tfl_space_to_depth(const tfl_s2d_t *p, const int8_t *in, int8_t *out);

#endif
