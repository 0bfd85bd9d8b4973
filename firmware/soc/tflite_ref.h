/* Plain-C TFLite int8 reference kernels for the RV32I core (no M extension): the software side of
 * the SoC firmware (conv_soc.c: one layer; firmware/net/net.c: a whole network), so the speedup is
 * measured against one implementation.
 *
 * Numerics: TFLite's reference_integer_ops::ConvPerChannel (acc = sum w * (x - input_zp) over the
 * in-image taps, + bias, MultiplyByQuantizedMultiplier with double rounding -- not the
 * TFLITE_SINGLE_ROUNDING variant --, + output_zp, clamp), int32 wrap-around where the reference
 * wraps; 2x2 stride-2 VALID MaxPool / AveragePool (sum rounded half away from zero) + clamp. */
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

#endif
