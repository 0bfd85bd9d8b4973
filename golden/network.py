"""An explicit description of a quantised int8 network, in golden/'s layout, and ``run_network``.

A :class:`Network` is an input shape + input quantisation + a list of layers in execution order
(a topological order of the graph).  Tensor 0 is the network input and tensor i + 1 is the output of
``layers[i]``.  A layer reads the previous layer's output unless ``Network.sources`` names its input
tensors (``sources[i] = (t, ...)``, each t <= i): that is how a tensor gets several consumers and how
ADD joins two branches (a ResNet block: ``sources = {3: (3, 1)}`` adds layer 2's output to layer 0's).
The network output is the last layer's output.  Every layer carries its own input and output
quantisation (scale as a float32 value, zero point) so it can be run or handed to a hardware test on
its own; ``Network.validate()`` checks that every layer agrees with the tensors it reads.
Integer requantisation parameters are derived exactly as LiteRT derives them (``layer.requant()``:
per-channel multiplier/shift from input_scale * weight_scale[m] / output_scale in double, and the
fused-activation clamp from the output quantisation in float32).

Layers (weights in golden's layout, see golden/__init__.py):

- :class:`Conv2D`          weights int8 [M][R][S][C], bias int32 [M] or None, weight_scales [M] or [1]
- :class:`DepthwiseConv2D` weights int8 [1][R][S][C*depth_multiplier], bias [C*dm], scales [C*dm] or [1]
- :class:`FullyConnected`  weights int8 [M][C]; the input is flattened to [-1, C] like TFLite
- :class:`MaxPool2D`, :class:`AvgPool2D`  (output quantisation = input quantisation)
- :class:`Reshape`         new shape (one entry may be -1)
- :class:`Add`             two inputs, each with its own quantisation (golden/add.py)
- :class:`Softmax`         over the last axis; output scale 1/256, zero point -128 (golden/softmax.py)

padding is "SAME" or "VALID" (what a .tflite file can express); activation is "NONE", "RELU",
"RELU6" or "RELU_N1_TO_1".
"""

from dataclasses import dataclass, field

import numpy as np

from . import conv as _conv
from . import pool as _pool
from .add import add_int8, add_params
from .quant import activation_range, conv_multipliers
from .softmax import softmax_int8, softmax_params
from .validate import check_array, check_pair, check_scalar

__all__ = [
    "QuantParams",
    "Conv2D",
    "DepthwiseConv2D",
    "FullyConnected",
    "MaxPool2D",
    "AvgPool2D",
    "Reshape",
    "Add",
    "Softmax",
    "SOFTMAX_OUTPUT",
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

    @property
    def input_quants(self):
        """The quantisation of each input tensor, in operand order."""
        return (self.input,)


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
class Add(_Layer):
    """ADD of two int8 tensors with their own quantisation, TFLite's integer kernel (golden/add.py)."""

    input1: QuantParams
    input2: QuantParams
    output: QuantParams
    activation: str = "NONE"

    def __post_init__(self):
        activation_range(self.activation, self.output.scale, self.output.zero_point)
        self.params()

    input = property(lambda self: self.input1)
    input_quants = property(lambda self: (self.input1, self.input2))

    def params(self):
        """The integer parameters (golden.add.AddParams) as TFLite's Prepare derives them."""
        a, b, o = self.input1, self.input2, self.output
        return add_params(a.scale, a.zero_point, b.scale, b.zero_point, o.scale, o.zero_point)

    def act_range(self):
        return activation_range(self.activation, self.output.scale, self.output.zero_point)

    def __call__(self, x1, x2):
        return add_int8(x1, x2, self.params(), *self.act_range())


SOFTMAX_OUTPUT = QuantParams(1.0 / 256.0, -128)


@dataclass
class Softmax(_Layer):
    """SOFTMAX over the last axis, TFLite's int8 fixed-point kernel (golden/softmax.py).

    TFLite requires the int8 output quantisation :data:`SOFTMAX_OUTPUT` (scale 1/256, zero point -128).
    """

    input: QuantParams
    beta: float = 1.0
    output: QuantParams = SOFTMAX_OUTPUT

    def __post_init__(self):
        if self.output != SOFTMAX_OUTPUT:
            raise ValueError(
                f"output = {self.output} is not allowed: an int8 SOFTMAX output must be quantised "
                f"{SOFTMAX_OUTPUT} (scale 1/256, zero point -128)"
            )
        b = float(np.float32(self.beta))
        if not (np.isfinite(b) and b > 0):
            raise ValueError(f"beta = {self.beta!r} is out of range: must be a finite float32 > 0")
        self.beta = b
        self.params()

    def params(self):
        """(input_multiplier, input_left_shift, diff_min) as TFLite Micro's CalculateSoftmaxParams."""
        return softmax_params(self.beta, self.input.scale)

    def __call__(self, x):
        self._check_input(x)
        return softmax_int8(x, *self.params())


@dataclass
class Network:
    """input_shape (e.g. NHWC), input quantisation, the layers in execution order and, for layers
    that do not read the previous layer's output, their input tensors (see the module docstring)."""

    input_shape: tuple
    input: QuantParams
    layers: list = field(default_factory=list)
    sources: dict = field(default_factory=dict)

    def sources_of(self, i):
        """The tensors layer ``i`` reads (tensor 0 = network input, tensor j + 1 = output of layer j)."""
        return tuple(self.sources.get(i, (i,)))

    def tensor_quant(self, t):
        """The quantisation of tensor ``t``."""
        return self.input if t == 0 else self.layers[t - 1].output

    def consumers(self, t):
        """The indices of the layers that read tensor ``t``."""
        return [i for i in range(len(self.layers)) if t in self.sources_of(i)]

    def validate(self):
        """Every layer reads earlier tensors, as many as it has operands, with matching quantisation."""
        for i in self.sources:
            if not (isinstance(i, int) and 0 <= i < len(self.layers)):
                raise ValueError(
                    f"sources has key {i!r}: must be a layer index in [0, {len(self.layers) - 1}]"
                )
        for i, layer in enumerate(self.layers):
            src = self.sources_of(i)
            quants = layer.input_quants
            if len(src) != len(quants):
                raise ValueError(
                    f"layers[{i}] ({type(layer).__name__}) has {len(quants)} inputs but sources[{i}] = {src}"
                )
            for k, (t, q) in enumerate(zip(src, quants, strict=True)):
                if not (isinstance(t, int) and 0 <= t <= i):
                    raise ValueError(
                        f"sources[{i}][{k}] = {t!r} is out of range: must be a tensor in [0, {i}] "
                        "(0 = network input, j + 1 = output of layers[j])"
                    )
                if q != self.tensor_quant(t):
                    raise ValueError(
                        f"layers[{i}] ({type(layer).__name__}) input {k} quantisation {q} does not "
                        f"match tensor {t}'s quantisation {self.tensor_quant(t)}"
                    )
        return self

    @property
    def output(self):
        return self.layers[-1].output if self.layers else self.input


def run_network(net, x, return_all=False):
    """Run ``net`` on int8 input ``x`` (shape net.input_shape) with golden/; returns the int8 output
    (or the list of every layer's output when ``return_all``)."""
    net.validate()
    check_array("x", x, np.int8, shape=tuple(net.input_shape))
    tensors = [x]
    for i, layer in enumerate(net.layers):
        tensors.append(layer(*(tensors[t] for t in net.sources_of(i))))
    return tensors[1:] if return_all else tensors[-1]
