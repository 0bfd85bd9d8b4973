"""An explicit description of a quantised int8 network, in golden/'s layout, and ``run_network``.

A :class:`Network` is an input shape + input quantisation + a list of layers.  Every layer carries
its own input and output quantisation (scale as a float32 value, zero point) so it can be run or
handed to a hardware test on its own; ``Network.validate()`` checks that consecutive layers agree.
Integer requantisation parameters are derived exactly as LiteRT derives them (``layer.requant()``:
per-channel multiplier/shift from input_scale * weight_scale[m] / output_scale in double, and the
fused-activation clamp from the output quantisation in float32).

Layers (weights in golden's layout, see golden/__init__.py):

- :class:`Conv2D`          weights int8 [M][R][S][C], bias int32 [M] or None, weight_scales [M] or [1]
- :class:`DepthwiseConv2D` weights int8 [1][R][S][C*depth_multiplier], bias [C*dm], scales [C*dm] or [1]
- :class:`FullyConnected`  weights int8 [M][C]; the input is flattened to [-1, C] like TFLite
- :class:`MaxPool2D`, :class:`AvgPool2D`  (output quantisation = input quantisation)
- :class:`Reshape`         new shape (one entry may be -1)

padding is "SAME" or "VALID" (what a .tflite file can express); activation is "NONE", "RELU",
"RELU6" or "RELU_N1_TO_1".
"""

from dataclasses import dataclass, field

import numpy as np

from . import conv as _conv
from . import pool as _pool
from .quant import activation_range, conv_multipliers
from .validate import check_array, check_pair, check_scalar

__all__ = [
    "QuantParams",
    "Conv2D",
    "DepthwiseConv2D",
    "FullyConnected",
    "MaxPool2D",
    "AvgPool2D",
    "Reshape",
    "Network",
    "run_network",
]


@dataclass(frozen=True)
class QuantParams:
    """Per-tensor activation quantisation: real = scale * (q - zero_point); scale is a float32 value."""

    scale: float
    zero_point: int

    def __post_init__(self):
        s = float(np.float32(self.scale))
        if not (np.isfinite(s) and s > 0):
            raise ValueError(f"scale = {self.scale!r} is out of range: must be a finite float32 > 0")
        object.__setattr__(self, "scale", s)
        object.__setattr__(self, "zero_point", check_scalar("zero_point", self.zero_point, -128, 127))


def _scales(name, scales, m):
    s = np.asarray(scales, dtype=np.float32).reshape(-1)
    if s.size not in (1, m):
        raise ValueError(f"{name} has {s.size} entries; must have 1 (per-tensor) or {m} (per-channel)")
    if not (np.isfinite(s).all() and (s > 0).all()):
        raise ValueError(f"{name} = {s.tolist()} is out of range: every scale must be a finite float32 > 0")
    return s


def _check_padding(padding):
    if not (isinstance(padding, str) and padding.upper() in ("SAME", "VALID")):
        raise ValueError(f"padding = {padding!r} is not allowed (must be 'SAME' or 'VALID')")
    return padding.upper()


@dataclass
class _Layer:
    def _check_input(self, x):
        check_array("x", x, np.int8)


@dataclass
class Conv2D(_Layer):
    """CONV_2D: O[n][e][f][m] = act(requant(B[m] + sum_{r,s,c} W[m][r][s][c] * (I[n][.][.][c] - zp_in)))."""

    weights: np.ndarray
    bias: np.ndarray | None
    weight_scales: np.ndarray
    input: QuantParams
    output: QuantParams
    stride: tuple = (1, 1)
    padding: str = "VALID"
    dilation: tuple = (1, 1)
    activation: str = "NONE"

    def __post_init__(self):
        check_array("weights", self.weights, np.int8, 4)
        m = self.weights.shape[0]
        self._check_common(m)

    def _check_common(self, m):
        """Checks shared by every conv-type layer with ``m`` output channels."""
        if self.bias is not None:
            check_array("bias", self.bias, np.int32, 1, (m,))
        self.weight_scales = _scales("weight_scales", self.weight_scales, m)
        self.stride = check_pair("stride", self.stride, 1, 1 << 20)
        self.dilation = check_pair("dilation", self.dilation, 1, 1 << 20)
        self.padding = _check_padding(self.padding)
        activation_range(self.activation, self.output.scale, self.output.zero_point)

    @property
    def out_channels(self):
        return self.weights.shape[0]

    def requant(self):
        """(multiplier int32 [M], shift int32 [M], act_min, act_max) exactly as LiteRT derives them."""
        ws = np.broadcast_to(self.weight_scales, (self.out_channels,))
        mult, shift = conv_multipliers(self.input.scale, ws, self.output.scale)
        return (mult, shift, *activation_range(self.activation, self.output.scale, self.output.zero_point))

    def __call__(self, x):
        mult, shift, lo, hi = self.requant()
        return _conv.conv2d(
            x,
            self.weights,
            self.bias,
            mult,
            shift,
            self.input.zero_point,
            self.output.zero_point,
            self.stride,
            self.padding,
            self.dilation,
            lo,
            hi,
        )


@dataclass
class DepthwiseConv2D(Conv2D):
    """DEPTHWISE_CONV_2D: weights [1][R][S][C*depth_multiplier]; output channel o = c*dm + k."""

    depth_multiplier: int = 1

    def __post_init__(self):
        check_array("weights", self.weights, np.int8, 4)
        if self.weights.shape[0] != 1:
            raise ValueError(
                f"weights.shape = {self.weights.shape}: depthwise weights must be [1][R][S][C*dm]"
            )
        self.depth_multiplier = check_scalar("depth_multiplier", self.depth_multiplier, 1, 1 << 20)
        m = self.weights.shape[3]
        if m % self.depth_multiplier:
            raise ValueError(
                f"weights.shape = {self.weights.shape}: last axis must be a multiple of "
                f"depth_multiplier = {self.depth_multiplier}"
            )
        self._check_common(m)

    @property
    def out_channels(self):
        return self.weights.shape[3]

    def __call__(self, x):
        mult, shift, lo, hi = self.requant()
        return _conv.depthwise_conv2d(
            x,
            self.weights,
            self.bias,
            mult,
            shift,
            self.input.zero_point,
            self.output.zero_point,
            self.depth_multiplier,
            self.stride,
            self.padding,
            self.dilation,
            lo,
            hi,
        )


@dataclass
class FullyConnected(_Layer):
    """FULLY_CONNECTED (integer requantisation path): x flattened to [-1][C], weights [M][C] -> [N][M]."""

    weights: np.ndarray
    bias: np.ndarray | None
    weight_scales: np.ndarray
    input: QuantParams
    output: QuantParams
    activation: str = "NONE"

    def __post_init__(self):
        check_array("weights", self.weights, np.int8, 2)
        m = self.weights.shape[0]
        if self.bias is not None:
            check_array("bias", self.bias, np.int32, 1, (m,))
        self.weight_scales = _scales("weight_scales", self.weight_scales, m)
        activation_range(self.activation, self.output.scale, self.output.zero_point)

    out_channels = property(lambda self: self.weights.shape[0])
    requant = Conv2D.requant

    def __call__(self, x):
        self._check_input(x)
        c = self.weights.shape[1]
        if x.size % c:
            raise ValueError(f"x.shape = {x.shape} cannot be flattened to [-1, {c}] (C = {c} from weights)")
        mult, shift, lo, hi = self.requant()
        return _conv.fully_connected(
            x.reshape(-1, c),
            self.weights,
            self.bias,
            mult,
            shift,
            self.input.zero_point,
            self.output.zero_point,
            lo,
            hi,
        )


@dataclass
class _Pool(_Layer):
    filter_size: tuple
    stride: tuple
    padding: str
    quant: QuantParams
    activation: str = "NONE"

    def __post_init__(self):
        self.filter_size = check_pair("filter_size", self.filter_size, 1, 1 << 20)
        self.stride = check_pair("stride", self.stride, 1, 1 << 20)
        self.padding = _check_padding(self.padding)
        activation_range(self.activation, self.quant.scale, self.quant.zero_point)

    input = property(lambda self: self.quant)
    output = property(lambda self: self.quant)

    def act_range(self):
        return activation_range(self.activation, self.quant.scale, self.quant.zero_point)


@dataclass
class MaxPool2D(_Pool):
    """MAX_POOL_2D over in-bounds taps."""

    def __call__(self, x):
        return _pool.max_pool2d(x, self.filter_size, self.stride, self.padding, *self.act_range())


@dataclass
class AvgPool2D(_Pool):
    """AVERAGE_POOL_2D, rounding half away from zero, dividing by the in-bounds tap count."""

    def __call__(self, x):
        return _pool.avg_pool2d(x, self.filter_size, self.stride, self.padding, *self.act_range())


@dataclass
class Reshape(_Layer):
    """RESHAPE: new shape (may contain one -1); quantisation unchanged."""

    shape: tuple
    quant: QuantParams

    def __post_init__(self):
        self.shape = tuple(int(v) for v in self.shape)
        if sum(v == -1 for v in self.shape) > 1 or any(v < -1 or v == 0 for v in self.shape):
            raise ValueError(f"shape = {self.shape} is not allowed (positive sizes and at most one -1)")

    input = property(lambda self: self.quant)
    output = property(lambda self: self.quant)

    def __call__(self, x):
        self._check_input(x)
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise ValueError(
                f"shape = {self.shape} does not match x.shape = {x.shape} ({x.size} elements)"
            ) from None


@dataclass
class Network:
    """input_shape (e.g. NHWC), input quantisation and the layers, run in order."""

    input_shape: tuple
    input: QuantParams
    layers: list = field(default_factory=list)

    def validate(self):
        """Consecutive layers must agree on quantisation (scale and zero point)."""
        q = self.input
        for i, layer in enumerate(self.layers):
            if layer.input != q:
                raise ValueError(
                    f"layers[{i}] ({type(layer).__name__}).input = {layer.input} does not match "
                    f"the previous output quantisation {q}"
                )
            q = layer.output
        return self

    @property
    def output(self):
        return self.layers[-1].output if self.layers else self.input


def run_network(net, x, return_all=False):
    """Run ``net`` on int8 input ``x`` (shape net.input_shape) with golden/; returns the int8 output
    (or the list of every layer's output when ``return_all``)."""
    net.validate()
    check_array("x", x, np.int8, shape=tuple(net.input_shape))
    outs = []
    for layer in net.layers:
        x = layer(x)
        outs.append(x)
    return outs if return_all else x
