/* What every firmware that checks the generated layer (layer_data.h: L_* shape and quantisation
 * macros, layer_* arrays) shares: the layer in plain C on the core, through the TFLite int8
 * reference kernel (tflite_ref.c), and the output checksum. Used by conv_soc.c and board/main.c.
 * NO_SW_REFERENCE leaves the plain-C layer out (short runs for slow simulations). */
#ifndef LAYER_CHECK_H
#define LAYER_CHECK_H

#include <stdint.h>

#include "layer_data.h"
#include "tflite_ref.h"

#ifndef NO_SW_REFERENCE
static void layer_conv_sw(int8_t *out)
{
    static const tfl_conv_t p = {
        .H = L_H, .W = L_W, .C = L_C, .M = L_M, .R = L_R, .S = L_S, .stride = L_STRIDE,
        .pad_top = L_PAD_TOP, .pad_left = L_PAD_LEFT, .E = L_E, .F = L_F, .depth_multiplier = 0,
        .input_zp = L_IN_ZP, .output_zp = L_OUT_ZP, .act_min = L_ACT_MIN, .act_max = L_ACT_MAX,
        .w = layer_w, .bias = layer_bias, .multiplier = layer_mult, .shift = layer_shift,
    };
    tfl_conv(&p, layer_x, out);
}
#endif

/* firmware.layer_image.checksum: h = rotl(h, 5) ^ byte, so a testbench can check the outputs
 * against golden/ without reading the RAM. */
static uint32_t layer_checksum(const int8_t *out)
{
    uint32_t h = 0x811c9dc5u;
    for (int i = 0; i < L_OUT_SIZE; i++)
        h = ((h << 5) | (h >> 27)) ^ (uint8_t)out[i];
    return h;
}

#endif
