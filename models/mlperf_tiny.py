"""Look-alikes of the four MLPerf Tiny int8 models (mlcommons/tiny), written with golden.tflite_build.

    python -m models.mlperf_tiny [--check] [--stats N] [--only NAME ...]

Each function returns a golden :class:`~golden.network.Network` with the published architecture of
one MLPerf Tiny reference model (layer list, shapes, strides, padding, fused ReLU, quantisation
scheme) but RANDOM weights from a fixed seed: they are stand-ins for the trained models, with the
same operators, sizes and MAC counts, not the published files.

* :func:`ic_resnet8`     Image Classification, ResNet-8, input 1x32x32x3, 12,501,632 MACs
* :func:`vww_mobilenet`  Visual Wake Words, MobileNetV1 0.25, input 1x96x96x3, 7,489,664 MACs
* :func:`kws_dscnn`      Keyword Spotting, DS-CNN, input 1x49x10x1, 2,656,768 MACs
* :func:`ad_autoencoder` Anomaly Detection, FC autoencoder, input 1x640, 264,192 MACs

:data:`MODELS` maps each name to (builder function, file name in models/); ``python -m
models.mlperf_tiny`` writes the four files (``--check``: write nothing, fail unless the committed
files are byte-identical to the regenerated ones).

Quantisation, as the TFLite converter writes it for a model calibrated on a representative set:

* weights int8 symmetric (zero point 0): per output channel (``max|w[m]| / 127``) for CONV_2D,
  DEPTHWISE_CONV_2D and the classifier FULLY_CONNECTED of IC / VWW / KWS; per tensor (``max|w| / 127``)
  for every FULLY_CONNECTED of the AD autoencoder;
* bias int32 ``round(b[m] / (input_scale * weight_scale[m]))``;
* activations int8 per tensor, calibrated layer by layer on ``CALIBRATION_INPUTS`` uniformly random
  int8 inputs: each layer's float-equivalent output (its int32 accumulator times
  ``input_scale * weight_scale[m]``, computed on the int8 outputs of the layers before it) gives the
  range ``[min(lo, 0), max(hi, 0)]`` -> ``scale = (max - min) / 255``, zero point
  ``round(-128 - min / scale)``; a fused ReLU gives ``min = 0``, so zero point -128 (the ReLU is the
  clamp at -128). AVERAGE_POOL_2D and RESHAPE keep their input's quantisation, ADD gets the range of
  the float sum, SOFTMAX the fixed output quantisation ``golden.network.SOFTMAX_OUTPUT`` (beta 1).

Random weights: He-normal (``std = sqrt(2 / fan_in)``) times a log-normal gain per output channel
(trained networks with folded batch norm have very different per-channel ranges). Each bias plays
folded batch norm's part: ``-mean + std * beta`` of that channel's accumulator on the calibration
set, ``beta ~ N(0, 0.5)``, so about half of every ReLU channel is active and no channel is dead or
constant. The classifier's weight scales are multiplied by one factor so that its logits vary across
inputs with a standard deviation of ``LOGIT_SPREAD`` (as a trained classifier's logits do, giving a
SOFTMAX output that is not flat).

Everything is deterministic: NumPy's seeded generator, integer accumulators and statistics
computed in int64; the same code and seed give the same bytes.
"""

import argparse
import hashlib
import math
import sys
import time
from pathlib import Path

import numpy as np

from golden.conv import (
    conv2d_accumulate,
    depthwise_conv2d_accumulate,
    fully_connected_accumulate,
)
from golden.network import (
    Add,
    AvgPool2D,
    Conv2D,
    DepthwiseConv2D,
    FullyConnected,
    Network,
    QuantParams,
    Reshape,
    Softmax,
    run_network,
)
from golden.tflite_build import build_tflite

__all__ = [
    "MODELS",
    "CALIBRATION_INPUTS",
    "LOGIT_SPREAD",
    "ic_resnet8",
    "vww_mobilenet",
    "kws_dscnn",
    "ad_autoencoder",
    "model_path",
    "generate",
    "tensor_shapes",
    "REFERENCE_MACS",
    "macs",
    "parameter_bytes",
    "largest_activation",
    "activation_stats",
    "calibration_summary",
    "main",
]

HERE = Path(__file__).resolve().parent
CALIBRATION_INPUTS = 64
LOGIT_SPREAD = 2.0          # standard deviation of the classifier's float logits across inputs
_CHANNEL_GAIN_SIGMA = 0.3   # log-normal spread of the per-channel weight gains
_BIAS_BETA_SIGMA = 0.5      # folded batch-norm offset, in units of the channel's standard deviation


def _range_quant(lo, hi):
    """Per-tensor int8 quantisation of the real range [lo, hi] (widened to hold 0), as the TFLite
    converter computes it: scale (max - min) / 255 as float32, zero point from min, nudged into
    [-128, 127] and rounded half away from zero."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if not hi > lo:
        raise ValueError(f"range [{lo}, {hi}] is empty: a calibrated tensor must not be constant 0")
    scale = float(np.float32((hi - lo) / 255.0))
    zp_from_min = -128.0 - lo / scale
    if zp_from_min <= -128.0:
        zp = -128
    elif zp_from_min >= 127.0:
        zp = 127
    else:
        zp = int(math.copysign(math.floor(abs(zp_from_min) + 0.5), zp_from_min))  # std::round
    return QuantParams(scale, zp)


class _Calibrator:
    """Builds a Network layer by layer, calibrating each layer on the int8 outputs of the ones before."""

    def __init__(self, input_shape, input_quant, seed, inputs=CALIBRATION_INPUTS):
        self.rng = np.random.default_rng(seed)
        self.net = Network(tuple(input_shape), input_quant)
        batch = (inputs, *input_shape[1:])
        self.values = [self.rng.integers(-128, 128, size=batch, dtype=np.int8)]  # per tensor, batched

    def quant(self, t):
        return self.net.tensor_quant(t)

    def _append(self, layer, sources, out):
        i = len(self.net.layers)
        self.net.layers.append(layer)
        if tuple(sources) != (i,):
            self.net.sources[i] = tuple(sources)
        self.values.append(out)
        return i + 1

    def _gains(self, m):
        return np.exp(self.rng.normal(0.0, _CHANNEL_GAIN_SIGMA, m))

    @staticmethod
    def _quantise(w, axis, per_channel):
        """Symmetric int8 weights: (int8 weights, float32 scales [M] or [1])."""
        if per_channel:
            other = tuple(a for a in range(w.ndim) if a != axis)
            scales = np.abs(w).max(axis=other) / 127.0
            shape = [1] * w.ndim
            shape[axis] = -1
            q = np.round(w / scales.reshape(shape))
        else:
            scales = np.array([np.abs(w).max() / 127.0])
            q = np.round(w / scales[0])
        return np.clip(q, -127, 127).astype(np.int8), scales.astype(np.float32)

    def _bias(self, acc):
        """Folded batch norm in accumulator units: int32 bias [M] from the accumulators [..., M] (no bias),
        and the per-channel standard deviation (accumulator units)."""
        m = acc.shape[-1]
        a = acc.reshape(-1, m).astype(np.int64)
        n = a.shape[0]
        mean = a.sum(axis=0) / n
        centred = a - np.round(mean).astype(np.int64)
        if int(np.abs(centred).max()) ** 2 * n >= 1 << 62:
            raise ValueError("accumulators too large for exact int64 statistics")
        var = (centred * centred).sum(axis=0) / n - (mean - np.round(mean)) ** 2
        std = np.sqrt(np.maximum(var, 0.0))
        beta = self.rng.normal(0.0, _BIAS_BETA_SIGMA, m)
        return np.round(-mean + std * beta).astype(np.int32), std

    @staticmethod
    def _real(acc, bias, in_scale, w_scales):
        """The float-equivalent output: (acc + bias) * input_scale * weight_scale[m]."""
        eff = np.float64(in_scale) * np.broadcast_to(w_scales, (acc.shape[-1],)).astype(np.float64)
        return (acc.astype(np.int64) + bias) * eff

    def conv(self, src, m, kernel, stride=1, relu=True):
        """CONV_2D SAME, per-channel weights [m][R][S][C]; returns the output tensor."""
        x, q = self.values[src], self.quant(src)
        r, s = kernel
        c = x.shape[-1]
        w = self.rng.standard_normal((m, r, s, c)) * math.sqrt(2.0 / (r * s * c))
        w *= self._gains(m)[:, None, None, None]
        wq, ws = self._quantise(w, 0, True)
        acc = conv2d_accumulate(x, wq, None, q.zero_point, (stride, stride), "SAME")
        bias, _ = self._bias(acc)
        out_q = self._out_quant(self._real(acc, bias, q.scale, ws), relu)
        layer = Conv2D(wq, bias, ws, q, out_q, (stride, stride), "SAME", activation=_act(relu))
        return self._append(layer, (src,), layer(x))

    def depthwise(self, src, kernel=(3, 3), stride=1, relu=True):
        """DEPTHWISE_CONV_2D SAME, depth multiplier 1, per-channel weights [1][R][S][C]."""
        x, q = self.values[src], self.quant(src)
        r, s = kernel
        c = x.shape[-1]
        w = self.rng.standard_normal((1, r, s, c)) * math.sqrt(2.0 / (r * s))
        w *= self._gains(c)
        wq, ws = self._quantise(w, 3, True)
        acc = depthwise_conv2d_accumulate(x, wq, None, q.zero_point, 1, (stride, stride), "SAME")
        bias, _ = self._bias(acc)
        out_q = self._out_quant(self._real(acc, bias, q.scale, ws), relu)
        layer = DepthwiseConv2D(wq, bias, ws, q, out_q, (stride, stride), "SAME", activation=_act(relu))
        return self._append(layer, (src,), layer(x))

    def fc(self, src, m, relu=True, per_channel=True, spread=None):
        """FULLY_CONNECTED [m][C]; ``spread``: scale the weights so the float outputs' standard deviation
        across inputs, averaged over the outputs, is ``spread`` (the classifier)."""
        x, q = self.values[src], self.quant(src)
        x2 = x.reshape(x.shape[0], -1)
        c = x2.shape[1]
        w = self.rng.standard_normal((m, c)) * math.sqrt(2.0 / c) * self._gains(m)[:, None]
        wq, ws = self._quantise(w, 0, per_channel)
        acc = fully_connected_accumulate(x2, wq, None, q.zero_point)
        bias, std = self._bias(acc)
        if spread is not None:
            eff = np.float64(q.scale) * np.broadcast_to(ws, (m,)).astype(np.float64)
            ws = (ws * (spread / float(np.mean(std * eff)))).astype(np.float32)
        out_q = self._out_quant(self._real(acc, bias, q.scale, ws), relu)
        layer = FullyConnected(wq, bias, ws, q, out_q, activation=_act(relu))
        return self._append(layer, (src,), layer(x2))

    def add(self, a, b, relu=True):
        """ADD of tensors a and b (input 1 = a), output quantised from the range of the float sum."""
        xa, xb, qa, qb = self.values[a], self.values[b], self.quant(a), self.quant(b)
        real = ((xa.astype(np.float64) - qa.zero_point) * qa.scale
                + (xb.astype(np.float64) - qb.zero_point) * qb.scale)
        layer = Add(qa, qb, self._out_quant(real, relu), activation=_act(relu))
        return self._append(layer, (a, b), layer(xa, xb))

    def avgpool(self, src, size):
        """AVERAGE_POOL_2D VALID with window = stride = ``size`` (a global pool here)."""
        layer = AvgPool2D(size, size, "VALID", self.quant(src))
        return self._append(layer, (src,), layer(self.values[src]))

    def flatten(self, src):
        """RESHAPE to [1, features]."""
        x = self.values[src]
        features = int(np.prod(x.shape[1:]))
        layer = Reshape((1, features), self.quant(src))
        return self._append(layer, (src,), x.reshape(x.shape[0], features))

    def softmax(self, src):
        layer = Softmax(self.quant(src), beta=1.0)
        return self._append(layer, (src,), layer(self.values[src]))

    @staticmethod
    def _out_quant(real, relu):
        return _range_quant(0.0 if relu else real.min(), real.max())


def _act(relu):
    return "RELU" if relu else "NONE"


# ---- the four architectures ---------------------------------------------------------------------------
def ic_resnet8(seed=8):
    """IC ResNet-8 (CIFAR-10), input 1x32x32x3 (real [0, 1]: scale 1/255, zero point -128).

    conv 3x3 3->16 ReLU; [conv 3x3 16->16 ReLU; conv 3x3 16->16; ADD(block input) ReLU];
    [conv 3x3/2 16->32 ReLU; conv 3x3 32->32; shortcut conv 1x1/2 16->32; ADD ReLU];
    [conv 3x3/2 32->64 ReLU; conv 3x3 64->64; shortcut conv 1x1/2 32->64; ADD ReLU];
    AVERAGE_POOL_2D 8x8; RESHAPE [1, 64]; FULLY_CONNECTED 64->10; SOFTMAX.
    """
    b = _Calibrator((1, 32, 32, 3), _range_quant(0.0, 1.0), seed)
    t = b.conv(0, 16, (3, 3))
    y = b.conv(t, 16, (3, 3))
    y = b.conv(y, 16, (3, 3), relu=False)
    t = b.add(y, t)
    for m in (32, 64):
        y = b.conv(t, m, (3, 3), stride=2)
        y = b.conv(y, m, (3, 3), relu=False)
        shortcut = b.conv(t, m, (1, 1), stride=2, relu=False)
        t = b.add(y, shortcut)
    t = b.avgpool(t, (8, 8))
    t = b.flatten(t)
    t = b.fc(t, 10, relu=False, spread=LOGIT_SPREAD)
    b.softmax(t)
    return b.net.validate()


# (pointwise output channels, depthwise stride) of MobileNetV1 0.25's 13 blocks
_VWW_BLOCKS = ((16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2),
               (128, 1), (128, 1), (128, 1), (128, 1), (128, 1), (256, 2), (256, 1))


def vww_mobilenet(seed=96):
    """VWW MobileNetV1 0.25, input 1x96x96x3 (real [-1, 1]: scale 2/255, zero point -1).

    conv 3x3/2 3->8 ReLU; 13 x [depthwise 3x3 (stride 2 in blocks 2, 4, 6, 12) ReLU; conv 1x1 ReLU],
    channels 8->16->32->32->64->64->128->128x5->256->256; AVERAGE_POOL_2D 3x3; RESHAPE [1, 256];
    FULLY_CONNECTED 256->2; SOFTMAX.
    """
    b = _Calibrator((1, 96, 96, 3), _range_quant(-1.0, 1.0), seed)
    t = b.conv(0, 8, (3, 3), stride=2)
    for m, stride in _VWW_BLOCKS:
        t = b.depthwise(t, (3, 3), stride)
        t = b.conv(t, m, (1, 1))
    t = b.avgpool(t, (3, 3))
    t = b.flatten(t)
    t = b.fc(t, 2, relu=False, spread=LOGIT_SPREAD)
    b.softmax(t)
    return b.net.validate()


def kws_dscnn(seed=49):
    """KWS DS-CNN, input 1x49x10x1 (MFCC-like real range [-123, 26]).

    conv 10x4/2 1->64 ReLU (25x5x64); 4 x [depthwise 3x3 ReLU; conv 1x1 64->64 ReLU];
    AVERAGE_POOL_2D 25x5; RESHAPE [1, 64]; FULLY_CONNECTED 64->12; SOFTMAX.
    """
    b = _Calibrator((1, 49, 10, 1), _range_quant(-123.0, 26.0), seed)
    t = b.conv(0, 64, (10, 4), stride=2)
    for _ in range(4):
        t = b.depthwise(t, (3, 3))
        t = b.conv(t, 64, (1, 1))
    t = b.avgpool(t, (25, 5))
    t = b.flatten(t)
    t = b.fc(t, 12, relu=False, spread=LOGIT_SPREAD)
    b.softmax(t)
    return b.net.validate()


_AD_WIDTHS = (128, 128, 128, 128, 8, 128, 128, 128, 128, 640)


def ad_autoencoder(seed=640):
    """AD FC autoencoder, input 1x640 (log-mel-like real range [-45, 15]), per-tensor quantisation.

    FULLY_CONNECTED 640->128->128->128->128->8->128->128->128->128->640, ReLU on all but the last.
    """
    b = _Calibrator((1, 640), _range_quant(-45.0, 15.0), seed)
    t = 0
    for k, m in enumerate(_AD_WIDTHS):
        t = b.fc(t, m, relu=k < len(_AD_WIDTHS) - 1, per_channel=False)
    return b.net.validate()


#: The reference architectures' MACs (the issue's and MLPerf Tiny's numbers): :func:`macs` of each
#: look-alike equals them (tests/test_mlperf_models.py), and bench/mlperf.py names a user's file after
#: the architecture with its MAC count.
REFERENCE_MACS = {"ic_resnet8": 12_501_632, "vww_mobilenet": 7_489_664, "kws_dscnn": 2_656_768,
                  "ad_autoencoder": 264_192}

MODELS = {
    "ic_resnet8": (ic_resnet8, "ic_resnet8_int8.tflite"),
    "vww_mobilenet": (vww_mobilenet, "vww_mobilenet_int8.tflite"),
    "kws_dscnn": (kws_dscnn, "kws_dscnn_int8.tflite"),
    "ad_autoencoder": (ad_autoencoder, "ad_autoencoder_int8.tflite"),
}


def model_path(name):
    """The committed .tflite of model ``name`` (a key of :data:`MODELS`)."""
    if name not in MODELS:
        raise ValueError(f"name = {name!r} is not a model (must be one of {', '.join(MODELS)})")
    return HERE / MODELS[name][1]


def generate(name):
    """(Network, .tflite bytes) of model ``name``, regenerated from its builder."""
    if name not in MODELS:
        raise ValueError(f"name = {name!r} is not a model (must be one of {', '.join(MODELS)})")
    net = MODELS[name][0]()
    return net, build_tflite(net)


# ---- sizes ----------------------------------------------------------------------------------------------
def tensor_shapes(net):
    """The shape of every tensor of ``net`` (tensor 0 = input, tensor i + 1 = output of layers[i])."""
    outs = run_network(net, np.zeros(net.input_shape, np.int8), return_all=True)
    return [tuple(net.input_shape)] + [o.shape for o in outs]


def macs(net):
    """Multiply-accumulates of the CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED layers of ``net``."""
    shapes = tensor_shapes(net)
    total = 0
    for i, layer in enumerate(net.layers):
        out = shapes[i + 1]
        if isinstance(layer, DepthwiseConv2D):
            total += int(np.prod(out)) * int(np.prod(layer.weights.shape[1:3]))
        elif isinstance(layer, Conv2D):
            total += int(np.prod(out)) * int(np.prod(layer.weights.shape[1:]))
        elif isinstance(layer, FullyConnected):
            total += int(np.prod(out)) * layer.weights.shape[1]
    return total


def parameter_bytes(net):
    """Bytes of the int8 weights and int32 biases of ``net``."""
    return sum(layer.weights.size + (0 if layer.bias is None else 4 * layer.bias.size)
               for layer in net.layers if isinstance(layer, (Conv2D, FullyConnected)))


def largest_activation(net):
    """(tensor index, bytes) of the largest int8 activation tensor of ``net`` (input included)."""
    sizes = [int(np.prod(s)) for s in tensor_shapes(net)]
    t = int(np.argmax(sizes))
    return t, sizes[t]


# ---- calibration statistics -----------------------------------------------------------------------------
def activation_stats(net, xs):
    """Per layer output over the int8 inputs ``xs`` (each of shape net.input_shape): a dict with
    ``layer``, ``op``, ``activation``, ``scale``, ``zero_point``, ``at_min`` / ``at_max`` (fractions of
    elements at -128 / 127) and ``distinct`` (distinct int8 values seen)."""
    outs = [run_network(net, x, return_all=True) for x in xs]
    stats = []
    for i, layer in enumerate(net.layers):
        v = np.concatenate([o[i].reshape(-1) for o in outs])
        stats.append(dict(
            layer=i, op=type(layer).__name__, activation=getattr(layer, "activation", "NONE"),
            scale=layer.output.scale, zero_point=layer.output.zero_point,
            at_min=float(np.mean(v == -128)), at_max=float(np.mean(v == 127)),
            distinct=int(np.unique(v).size)))
    return stats


def calibration_summary(net, xs):
    """Saturation and spread of ``net`` on the int8 inputs ``xs``, over the outputs of its CONV_2D,
    DEPTHWISE_CONV_2D, FULLY_CONNECTED and ADD layers: ``relu_zero`` (fraction at -128 of the tensors
    with a fused ReLU, where -128 is the real 0), ``at_min`` (fraction at -128 of the others),
    ``at_max`` (fraction at 127 of all), and ``distinct_logits`` (distinct values of the last
    FULLY_CONNECTED's output over all inputs)."""
    stats = activation_stats(net, xs)
    shapes = tensor_shapes(net)
    counted = [s for s in stats if s["op"] in ("Conv2D", "DepthwiseConv2D", "FullyConnected", "Add")]

    def frac(rows, key):
        sizes = [int(np.prod(shapes[s["layer"] + 1])) for s in rows]
        return float(np.dot([s[key] for s in rows], sizes) / max(sum(sizes), 1))

    relu = [s for s in counted if s["activation"] == "RELU"]
    other = [s for s in counted if s["activation"] != "RELU"]
    last_fc = [s for s in counted if s["op"] == "FullyConnected"][-1]
    return dict(relu_zero=frac(relu, "at_min"), at_min=frac(other, "at_min"),
                at_max=frac(counted, "at_max"), distinct_logits=last_fc["distinct"],
                logits=int(np.prod(shapes[last_fc["layer"] + 1])) * len(xs))


def _print_stats(name, net, count, seed):
    rng = np.random.default_rng(seed)
    xs = [rng.integers(-128, 128, size=net.input_shape, dtype=np.int8) for _ in range(count)]
    print(f"\n{name}: {count} random inputs (seed {seed})")
    print(f"{'layer':>5} {'op':<16} {'act':<5} {'scale':>10} {'zp':>5} {'at -128':>8} {'at 127':>8} "
          f"{'distinct':>8}")
    for s in activation_stats(net, xs):
        print(f"{s['layer']:>5} {s['op']:<16} {s['activation']:<5} {s['scale']:>10.4g} {s['zero_point']:>5} "
              f"{s['at_min']:>8.2%} {s['at_max']:>8.2%} {s['distinct']:>8}")
    c = calibration_summary(net, xs)
    print(f"summary: ReLU outputs at -128 (= 0) {c['relu_zero']:.2%}, other outputs at -128 "
          f"{c['at_min']:.3%}, outputs at 127 {c['at_max']:.3%}, "
          f"distinct logits {c['distinct_logits']} of {c['logits']}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="write nothing: fail unless the committed files equal the regenerated ones")
    ap.add_argument("--stats", type=int, default=0, metavar="N",
                    help="also print per-layer activation statistics on N random inputs")
    ap.add_argument("--only", nargs="*", choices=list(MODELS), default=list(MODELS))
    args = ap.parse_args(argv)
    status = 0
    print(f"{'model':<16} {'MACs':>12} {'file bytes':>10} {'param bytes':>11} {'largest act.':>12} "
          f"{'time':>6}  sha256")
    for name in args.only:
        t0 = time.time()
        net, blob = generate(name)
        path = model_path(name)
        sha = hashlib.sha256(blob).hexdigest()
        print(f"{name:<16} {macs(net):>12,} {len(blob):>10,} {parameter_bytes(net):>11,} "
              f"{largest_activation(net)[1]:>12,} {time.time() - t0:>5.1f}s  {sha[:16]}")
        if args.check:
            if not path.exists() or path.read_bytes() != blob:
                print(f"--check: {path} differs from the regenerated model", file=sys.stderr)
                status = 1
        else:
            path.write_bytes(blob)
        if args.stats:
            _print_stats(name, net, args.stats, seed=1)
    return status


if __name__ == "__main__":
    sys.exit(main())
