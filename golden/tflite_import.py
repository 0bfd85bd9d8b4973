"""Read an int8 .tflite model into a golden :class:`~golden.network.Network` (using the ``tflite`` package).

Supported: one subgraph whose operators, in file order, each read the model input or earlier
operators' outputs (a graph: a tensor may feed several operators; ADD joins two), with CONV_2D,
DEPTHWISE_CONV_2D, FULLY_CONNECTED, MAX_POOL_2D, AVERAGE_POOL_2D, RESHAPE, ADD (two activation
inputs of equal shape) and SOFTMAX (int8 output quantised 1/256, -128);
int8 activations quantised per tensor; int8 weights with zero point 0, quantised per tensor or per
output channel (quantized_dimension 0 for CONV_2D / FULLY_CONNECTED, 3 for DEPTHWISE_CONV_2D);
int32 bias; fused activation NONE / RELU / RELU6 / RELU_N1_TO_1.

Anything else raises :class:`UnsupportedModelError` (a ValueError) naming the first unsupported
operator, tensor type or quantisation scheme, e.g.
``operator 3 (SOFTMAX) is not supported (supported: CONV_2D, ...)``.

The weights keep TFLite's layout, which is golden's: CONV_2D OHWI [M][R][S][C], DEPTHWISE [1][R][S][C*dm],
FULLY_CONNECTED [M][C].  Note that golden's FullyConnected uses the integer requantisation path.
"""

import numpy as np
import tflite

from .network import (
    SOFTMAX_OUTPUT,
    Add,
    AvgPool2D,
    Conv2D,
    DepthwiseConv2D,
    FullyConnected,
    MaxPool2D,
    Network,
    QuantParams,
    Reshape,
    Softmax,
)

__all__ = ["UnsupportedModelError", "load_tflite", "SUPPORTED_OPERATORS"]

SUPPORTED_OPERATORS = (
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "FULLY_CONNECTED",
    "MAX_POOL_2D",
    "AVERAGE_POOL_2D",
    "RESHAPE",
    "ADD",
    "SOFTMAX",
)
_TYPE_NAMES = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
_OP_NAMES = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
_ACT_NAMES = {v: k for k, v in vars(tflite.ActivationFunctionType).items() if not k.startswith("_")}
_PADDING = {tflite.Padding.SAME: "SAME", tflite.Padding.VALID: "VALID"}


_HINTS = {
    "QUANTIZE": ": the model has float inputs or requantises between tensors; convert it with "
    "inference_input_type = inference_output_type = tf.int8",
    "DEQUANTIZE": ": the model has float outputs or float weights; convert it as a full-integer int8 model",
    "MEAN": ": write global average pooling as AVERAGE_POOL_2D over the whole input (Keras AveragePooling2D)",
}


class UnsupportedModelError(ValueError):
    """The .tflite model uses an operator, type or quantisation scheme golden/ does not support."""


class _Reader:
    def __init__(self, buf):
        self.buf = buf
        self.model = tflite.Model.GetRootAs(buf, 0)
        if self.model.SubgraphsLength() != 1:
            raise UnsupportedModelError(
                f"model has {self.model.SubgraphsLength()} subgraphs; exactly 1 is supported"
            )
        self.sg = self.model.Subgraphs(0)

    def op_name(self, op):
        code = self.model.OperatorCodes(op.OpcodeIndex())
        c = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if c == tflite.BuiltinOperator.CUSTOM:
            return f"CUSTOM:{(code.CustomCode() or b'').decode(errors='replace')}"
        return _OP_NAMES.get(c, f"builtin code {c}")

    def tensor(self, idx):
        return self.sg.Tensors(idx)

    def tname(self, idx):
        return (self.tensor(idx).Name() or b"").decode(errors="replace")

    def data(self, idx, where):
        t = self.tensor(idx)
        b = self.model.Buffers(t.Buffer())
        if b.Offset() > 1:  # data stored after the flatbuffer (large models)
            raw = bytes(self.buf[b.Offset() : b.Offset() + b.Size()])
        elif b.DataLength():
            raw = b.DataAsNumpy().tobytes()
        else:
            raise UnsupportedModelError(
                f"tensor {idx} '{self.tname(idx)}' ({where}) has no constant data; "
                "weights and bias must be constant"
            )
        dtype = {tflite.TensorType.INT8: np.int8, tflite.TensorType.INT32: np.int32}[t.Type()]
        return np.frombuffer(raw, dtype=dtype).reshape(tuple(t.ShapeAsNumpy())).copy()

    def check_type(self, idx, ttype, where):
        t = self.tensor(idx).Type()
        if t != ttype:
            raise UnsupportedModelError(
                f"tensor {idx} '{self.tname(idx)}' ({where}) has type {_TYPE_NAMES.get(t, t)}; "
                f"only {_TYPE_NAMES[ttype]} is supported here"
            )

    def quant(self, idx, where):
        q = self.tensor(idx).Quantization()
        if q is None or q.ScaleLength() == 0:
            raise UnsupportedModelError(
                f"tensor {idx} '{self.tname(idx)}' ({where}) is not quantised "
                "(no scale); only int8 quantised models are supported"
            )
        if q.DetailsType() != 0:
            raise UnsupportedModelError(
                f"tensor {idx} '{self.tname(idx)}' ({where}) uses custom quantisation "
                "details; only affine (scale, zero point) quantisation is supported"
            )
        scales = q.ScaleAsNumpy().astype(np.float32)
        zps = (
            q.ZeroPointAsNumpy().astype(np.int64) if q.ZeroPointLength() else np.zeros(scales.size, np.int64)
        )
        return scales, zps, q.QuantizedDimension()

    def act_quant(self, idx, where):
        self.check_type(idx, tflite.TensorType.INT8, where)
        scales, zps, _ = self.quant(idx, where)
        if scales.size != 1:
            raise UnsupportedModelError(
                f"tensor {idx} '{self.tname(idx)}' ({where}) is quantised per axis "
                f"({scales.size} scales); activations must be quantised per tensor"
            )
        return QuantParams(float(scales[0]), int(zps[0]))

    def weights(self, idx, where, channel_axis, m):
        self.check_type(idx, tflite.TensorType.INT8, where)
        scales, zps, qdim = self.quant(idx, where)
        if (zps != 0).any():
            raise UnsupportedModelError(
                f"tensor {idx} '{self.tname(idx)}' ({where}) has weight zero points "
                f"{zps.tolist()[:8]}; only symmetric weights (zero point 0) are supported"
            )
        if scales.size not in (1, m) or (scales.size > 1 and qdim != channel_axis):
            raise UnsupportedModelError(
                f"tensor {idx} '{self.tname(idx)}' ({where}) has {scales.size} scales on quantized_dimension "
                f"{qdim}; supported: per-tensor (1 scale) or per-channel ({m} scales on dimension "
                f"{channel_axis})"
            )
        return self.data(idx, where), scales

    def bias(self, op, where):
        if op.InputsLength() < 3 or op.Inputs(2) < 0:
            return None
        idx = op.Inputs(2)
        self.check_type(idx, tflite.TensorType.INT32, where + " bias")
        return self.data(idx, where + " bias").reshape(-1)


def _options(op, cls):
    table = op.BuiltinOptions()
    opts = cls()
    if table is None:
        raise UnsupportedModelError(f"operator has no {cls.__name__}")
    opts.Init(table.Bytes, table.Pos)
    return opts


def _activation(opts, where):
    a = opts.FusedActivationFunction()
    name = _ACT_NAMES.get(a, str(a))
    if name not in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"):
        raise UnsupportedModelError(
            f"{where}: fused activation {name} is not supported (supported: NONE, RELU, RELU6, RELU_N1_TO_1)"
        )
    return name


def _conv(r, op, where, x, q, out_q):
    o = _options(op, tflite.Conv2DOptions)
    w, ws = r.weights(op.Inputs(1), where + " weights", 0, r.tensor(op.Inputs(1)).Shape(0))
    return Conv2D(
        w,
        r.bias(op, where),
        ws,
        q,
        out_q,
        (o.StrideH(), o.StrideW()),
        _PADDING[o.Padding()],
        (o.DilationHFactor(), o.DilationWFactor()),
        _activation(o, where),
    )


def _depthwise(r, op, where, x, q, out_q):
    o = _options(op, tflite.DepthwiseConv2DOptions)
    m = r.tensor(op.Inputs(1)).Shape(3)
    w, ws = r.weights(op.Inputs(1), where + " weights", 3, m)
    c = int(r.tensor(x).Shape(3))
    dm = o.DepthMultiplier() or m // c
    if m != c * dm:
        raise UnsupportedModelError(
            f"{where}: {m} output channels != {c} input channels * depth_multiplier {dm}"
        )
    return DepthwiseConv2D(
        w,
        r.bias(op, where),
        ws,
        q,
        out_q,
        (o.StrideH(), o.StrideW()),
        _PADDING[o.Padding()],
        (o.DilationHFactor(), o.DilationWFactor()),
        _activation(o, where),
        depth_multiplier=dm,
    )


def _fully_connected(r, op, where, x, q, out_q):
    o = _options(op, tflite.FullyConnectedOptions)
    if o.WeightsFormat() != tflite.FullyConnectedOptionsWeightsFormat.DEFAULT:
        raise UnsupportedModelError(
            f"{where}: weights_format {o.WeightsFormat()} is not supported (DEFAULT only)"
        )
    if o.KeepNumDims() and r.tensor(x).ShapeLength() != 2:
        raise UnsupportedModelError(
            f"{where}: keep_num_dims with a rank-{r.tensor(x).ShapeLength()} input is not supported"
        )
    w, ws = r.weights(op.Inputs(1), where + " weights", 0, r.tensor(op.Inputs(1)).Shape(0))
    return FullyConnected(w, r.bias(op, where), ws, q, out_q, _activation(o, where))


def _same_quant(where, q, out_q, what):
    if out_q != q:
        raise UnsupportedModelError(
            f"{where}: output quantisation {out_q} differs from the input's {q}; "
            f"{what} must keep scale and zero point"
        )


def _pool(cls):
    def make(r, op, where, x, q, out_q):
        o = _options(op, tflite.Pool2DOptions)
        _same_quant(where, q, out_q, "pooling")
        return cls(
            (o.FilterHeight(), o.FilterWidth()),
            (o.StrideH(), o.StrideW()),
            _PADDING[o.Padding()],
            q,
            _activation(o, where),
        )

    return make


def _reshape(r, op, where, x, q, out_q):
    _same_quant(where, q, out_q, "RESHAPE")
    return Reshape(tuple(int(v) for v in r.tensor(op.Outputs(0)).ShapeAsNumpy()), q)


def _softmax(r, op, where, x, q, out_q):
    o = _options(op, tflite.SoftmaxOptions)
    if out_q != SOFTMAX_OUTPUT:
        raise UnsupportedModelError(
            f"{where}: output quantisation {out_q} is not supported; an int8 SOFTMAX output must be "
            f"quantised {SOFTMAX_OUTPUT} (scale 1/256, zero point -128)"
        )
    return Softmax(q, float(o.Beta()))


def _add(r, op, where, x, q, out_q):
    o = _options(op, tflite.AddOptions)
    q2 = r.act_quant(op.Inputs(1), where + " input 2")
    s1, s2 = (tuple(r.tensor(op.Inputs(k)).ShapeAsNumpy()) for k in (0, 1))
    if s1 != s2:
        raise UnsupportedModelError(
            f"{where}: input shapes {list(s1)} and {list(s2)} differ; only ADD of equal shapes is supported"
        )
    return Add(q, q2, out_q, _activation(o, where))


_MAKERS = {
    "CONV_2D": _conv,
    "DEPTHWISE_CONV_2D": _depthwise,
    "FULLY_CONNECTED": _fully_connected,
    "MAX_POOL_2D": _pool(MaxPool2D),
    "AVERAGE_POOL_2D": _pool(AvgPool2D),
    "RESHAPE": _reshape,
    "SOFTMAX": _softmax,
    "ADD": _add,
}
# activation operands of each operator (the rest are constants: weights, bias, shape)
_ACT_INPUTS = {"ADD": 2}


def _read_buffer(model):
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytearray(model)
    with open(model, "rb") as f:
        return bytearray(f.read())


def load_tflite(model) -> Network:
    """Read a .tflite model (path, bytes or bytearray) into a golden Network (validated)."""
    r = _Reader(_read_buffer(model))
    sg = r.sg
    # first: every operator must be supported (error names the first one that is not)
    for i in range(sg.OperatorsLength()):
        name = r.op_name(sg.Operators(i))
        if name not in SUPPORTED_OPERATORS:
            raise UnsupportedModelError(
                f"operator {i} ({name}) is not supported{_HINTS.get(name, '')} "
                f"(supported: {', '.join(SUPPORTED_OPERATORS)})"
            )
    if sg.InputsLength() != 1 or sg.OutputsLength() != 1:
        raise UnsupportedModelError(
            f"model has {sg.InputsLength()} inputs and {sg.OutputsLength()} outputs; "
            "exactly one of each is supported"
        )
    first = sg.Inputs(0)
    net = Network(tuple(int(v) for v in r.tensor(first).ShapeAsNumpy()), r.act_quant(first, "model input"))
    produced = {first: 0}  # .tflite tensor index -> golden tensor id
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        name = r.op_name(op)
        where = f"operator {i} ({name})"
        if op.OutputsLength() != 1:
            raise UnsupportedModelError(f"{where} has {op.OutputsLength()} outputs; exactly 1 is supported")
        srcs = []
        for k in range(_ACT_INPUTS.get(name, 1)):
            t = op.Inputs(k)
            if t not in produced:
                raise UnsupportedModelError(
                    f"{where} input {k} is tensor {t} '{r.tname(t)}', which is neither the model input nor "
                    "an earlier operator's output (constant operands are supported only as weights, bias "
                    "and shapes)"
                )
            srcs.append(produced[t])
        x = op.Inputs(0)
        q = net.tensor_quant(srcs[0])
        out_q = r.act_quant(op.Outputs(0), where + " output")
        net.layers.append(_MAKERS[name](r, op, where, x, q, out_q))
        if srcs != [i]:
            net.sources[i] = tuple(srcs)
        produced[op.Outputs(0)] = i + 1
    if sg.OperatorsLength() == 0 or sg.Outputs(0) != sg.Operators(sg.OperatorsLength() - 1).Outputs(0):
        raise UnsupportedModelError(
            f"the model output is tensor {sg.Outputs(0)} '{r.tname(sg.Outputs(0))}', not the last operator's "
            "output; the operators must end with the one that writes the model output"
        )
    return net.validate()
