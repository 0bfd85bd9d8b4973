"""Write a golden :class:`~golden.network.Network` as an int8 .tflite flatbuffer (no TensorFlow).

Uses the generated builder functions of the ``tflite`` package and ``flatbuffers``.  Weight tensors
get per-channel quantisation (quantized_dimension 0 for CONV_2D / FULLY_CONNECTED, 3 for
DEPTHWISE_CONV_2D) when the layer has one scale per output channel, per-tensor otherwise; bias
tensors are int32 with scale = input_scale * weight_scale[m] and zero point 0, as TFLite requires.

``run_litert(model, x)`` runs a model in the LiteRT interpreter with the reference kernels
(OpResolverType.BUILTIN_REF), which is what golden/ is bit-exact with.
"""

import flatbuffers
import numpy as np
import tflite

from .network import (
    Add,
    AvgPool2D,
    Conv2D,
    DepthwiseConv2D,
    FullyConnected,
    MaxPool2D,
    Network,
    Reshape,
    Softmax,
    run_network,
)

__all__ = ["build_tflite", "writer_for", "run_litert"]

_ACT = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3}
_PAD = {"SAME": 0, "VALID": 1}
_INT8, _INT32 = 9, 2
# (builtin code, operator version)
_OPS = {
    "CONV_2D": (3, 3),
    "DEPTHWISE_CONV_2D": (4, 3),
    "FULLY_CONNECTED": (9, 4),
    "MAX_POOL_2D": (17, 2),
    "AVERAGE_POOL_2D": (1, 2),
    "RESHAPE": (22, 1),
    "ADD": (0, 2),
    "SOFTMAX": (25, 2),
}


class _Writer:
    def __init__(self):
        self.b = flatbuffers.Builder(1024)
        self.buffers = [None]  # buffer 0 is the empty buffer
        self.tensors = []  # kwargs for tensor tables, built at the end
        self.ops = []
        self.opcodes = []

    # --- vectors -----------------------------------------------------------------------------------
    def _vec(self, vals, prepend, size):
        vals = list(vals)
        self.b.StartVector(size, len(vals), size)
        for v in reversed(vals):
            prepend(v)
        return self.b.EndVector()

    def ivec(self, vals):
        return self._vec([int(v) for v in vals], self.b.PrependInt32, 4)

    def i64vec(self, vals):
        return self._vec([int(v) for v in vals], self.b.PrependInt64, 8)

    def fvec(self, vals):
        return self._vec([float(v) for v in vals], self.b.PrependFloat32, 4)

    def bytes_vec(self, data: bytes):
        """uint8 vector whose data is 16-byte aligned (int32 bias data is read in place)."""
        b = self.b
        b.StartVector(1, len(data), 16)
        b.head = b.Head() - len(data)
        b.Bytes[b.Head() : b.Head() + len(data)] = data
        return b.EndVector()

    # --- graph -------------------------------------------------------------------------------------
    def tensor(self, name, shape, ttype, scales=None, zero_points=None, qdim=0, data=None):
        buf = 0
        if data is not None:
            self.buffers.append(np.ascontiguousarray(data).tobytes())
            buf = len(self.buffers) - 1
        self.tensors.append(
            dict(
                name=name,
                shape=tuple(int(v) for v in shape),
                type=ttype,
                buffer=buf,
                scales=scales,
                zero_points=zero_points,
                qdim=qdim,
            )
        )
        return len(self.tensors) - 1

    def op(self, kind, inputs, outputs, options_type, options_fn):
        if kind not in self.opcodes:
            self.opcodes.append(kind)
        self.ops.append((self.opcodes.index(kind), inputs, outputs, options_type, options_fn))

    def finish(self, inputs, outputs):
        b = self.b
        buf_offs = []
        for data in self.buffers:
            dvec = self.bytes_vec(data) if data else None
            tflite.BufferStart(b)
            if dvec is not None:
                tflite.BufferAddData(b, dvec)
            buf_offs.append(tflite.BufferEnd(b))
        t_offs = []
        for t in self.tensors:
            name = b.CreateString(t["name"])
            shape = self.ivec(t["shape"])
            q = None
            if t["scales"] is not None:
                sc = self.fvec(t["scales"])
                zp = self.i64vec(t["zero_points"])
                tflite.QuantizationParametersStart(b)
                tflite.QuantizationParametersAddScale(b, sc)
                tflite.QuantizationParametersAddZeroPoint(b, zp)
                tflite.QuantizationParametersAddQuantizedDimension(b, t["qdim"])
                q = tflite.QuantizationParametersEnd(b)
            tflite.TensorStart(b)
            tflite.TensorAddShape(b, shape)
            tflite.TensorAddType(b, t["type"])
            tflite.TensorAddBuffer(b, t["buffer"])
            tflite.TensorAddName(b, name)
            if q is not None:
                tflite.TensorAddQuantization(b, q)
            t_offs.append(tflite.TensorEnd(b))
        op_offs = []
        for opcode_index, ins, outs, opt_type, opt_fn in self.ops:
            iv, ov = self.ivec(ins), self.ivec(outs)
            opt = opt_fn(b, self) if opt_fn else None
            tflite.OperatorStart(b)
            tflite.OperatorAddOpcodeIndex(b, opcode_index)
            tflite.OperatorAddInputs(b, iv)
            tflite.OperatorAddOutputs(b, ov)
            if opt is not None:
                tflite.OperatorAddBuiltinOptionsType(b, opt_type)
                tflite.OperatorAddBuiltinOptions(b, opt)
            op_offs.append(tflite.OperatorEnd(b))

        def offs_vec(offs):
            b.StartVector(4, len(offs), 4)
            for o in reversed(offs):
                b.PrependUOffsetTRelative(o)
            return b.EndVector()

        tv, ov_ = offs_vec(t_offs), offs_vec(op_offs)
        iv, outv = self.ivec(inputs), self.ivec(outputs)
        sg_name = b.CreateString("main")
        tflite.SubGraphStart(b)
        tflite.SubGraphAddTensors(b, tv)
        tflite.SubGraphAddInputs(b, iv)
        tflite.SubGraphAddOutputs(b, outv)
        tflite.SubGraphAddOperators(b, ov_)
        tflite.SubGraphAddName(b, sg_name)
        sg = tflite.SubGraphEnd(b)
        code_offs = []
        for kind in self.opcodes:
            code, version = _OPS[kind] if kind in _OPS else (getattr(tflite.BuiltinOperator, kind), 1)
            tflite.OperatorCodeStart(b)
            tflite.OperatorCodeAddDeprecatedBuiltinCode(b, code)
            tflite.OperatorCodeAddBuiltinCode(b, code)
            tflite.OperatorCodeAddVersion(b, version)
            code_offs.append(tflite.OperatorCodeEnd(b))
        codes = offs_vec(code_offs)
        sgs = offs_vec([sg])
        bufs = offs_vec(buf_offs)
        desc = b.CreateString("golden.tflite_build")
        tflite.ModelStart(b)
        tflite.ModelAddVersion(b, 3)
        tflite.ModelAddOperatorCodes(b, codes)
        tflite.ModelAddSubgraphs(b, sgs)
        tflite.ModelAddDescription(b, desc)
        tflite.ModelAddBuffers(b, bufs)
        b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
        return bytes(b.Output())


def _act_q(q):
    return [q.scale], [q.zero_point]


def _weights(wr, name, layer, qdim, need_bias=True):
    m = layer.out_channels
    ws = np.asarray(layer.weight_scales, dtype=np.float32)
    w_idx = wr.tensor(
        name + "/weights",
        layer.weights.shape,
        _INT8,
        ws.tolist(),
        [0] * ws.size,
        qdim if ws.size > 1 else 0,
        layer.weights,
    )
    bias = layer.bias
    if bias is None:
        if not need_bias:
            return [w_idx, -1]
        bias = np.zeros(m, np.int32)  # LiteRT's int8 CONV_2D / DEPTHWISE_CONV_2D require the bias input
    # bias scale = input_scale * weight_scale[m] (float32, as the converter writes it)
    bs = (np.float64(layer.input.scale) * np.broadcast_to(ws, (m,)).astype(np.float64)).astype(np.float32)
    bs = bs if ws.size > 1 else bs[:1]
    b_idx = wr.tensor(name + "/bias", bias.shape, _INT32, bs.tolist(), [0] * bs.size, 0, bias)
    return [w_idx, b_idx]


def build_tflite(net: Network) -> bytes:
    """Serialise ``net`` as a .tflite model (bytes); one operator per layer, weights as constant buffers."""
    wr, inputs, outputs = writer_for(net)
    return wr.finish(inputs, outputs)


def writer_for(net: Network):
    """The unfinished writer for ``net`` (tests edit its tensors/ops to make malformed models)."""
    net.validate()
    shapes = [o.shape for o in run_network(net, np.zeros(net.input_shape, np.int8), return_all=True)]
    wr = _Writer()
    ids = [wr.tensor("input", net.input_shape, _INT8, *_act_q(net.input))]  # golden tensor -> index
    for i, (layer, shape) in enumerate(zip(net.layers, shapes, strict=True)):
        name = f"l{i}_{type(layer).__name__}"
        srcs = [ids[t] for t in net.sources_of(i)]
        cur = srcs[0]
        out = wr.tensor(name, shape, _INT8, *_act_q(layer.output))
        act = _ACT[layer.activation.upper()] if hasattr(layer, "activation") else 0
        if isinstance(layer, DepthwiseConv2D):
            ins = [cur, *_weights(wr, name, layer, 3)]

            def opts(b, _w, layer=layer, act=act):
                tflite.DepthwiseConv2DOptionsStart(b)
                tflite.DepthwiseConv2DOptionsAddPadding(b, _PAD[layer.padding])
                tflite.DepthwiseConv2DOptionsAddStrideH(b, layer.stride[0])
                tflite.DepthwiseConv2DOptionsAddStrideW(b, layer.stride[1])
                tflite.DepthwiseConv2DOptionsAddDepthMultiplier(b, layer.depth_multiplier)
                tflite.DepthwiseConv2DOptionsAddFusedActivationFunction(b, act)
                tflite.DepthwiseConv2DOptionsAddDilationHFactor(b, layer.dilation[0])
                tflite.DepthwiseConv2DOptionsAddDilationWFactor(b, layer.dilation[1])
                return tflite.DepthwiseConv2DOptionsEnd(b)

            wr.op("DEPTHWISE_CONV_2D", ins, [out], 2, opts)
        elif isinstance(layer, Conv2D):
            ins = [cur, *_weights(wr, name, layer, 0)]

            def opts(b, _w, layer=layer, act=act):
                tflite.Conv2DOptionsStart(b)
                tflite.Conv2DOptionsAddPadding(b, _PAD[layer.padding])
                tflite.Conv2DOptionsAddStrideH(b, layer.stride[0])
                tflite.Conv2DOptionsAddStrideW(b, layer.stride[1])
                tflite.Conv2DOptionsAddFusedActivationFunction(b, act)
                tflite.Conv2DOptionsAddDilationHFactor(b, layer.dilation[0])
                tflite.Conv2DOptionsAddDilationWFactor(b, layer.dilation[1])
                return tflite.Conv2DOptionsEnd(b)

            wr.op("CONV_2D", ins, [out], 1, opts)
        elif isinstance(layer, FullyConnected):
            ins = [cur, *_weights(wr, name, layer, 0, need_bias=False)]

            def opts(b, _w, act=act):
                tflite.FullyConnectedOptionsStart(b)
                tflite.FullyConnectedOptionsAddFusedActivationFunction(b, act)
                tflite.FullyConnectedOptionsAddKeepNumDims(b, False)
                return tflite.FullyConnectedOptionsEnd(b)

            wr.op("FULLY_CONNECTED", ins, [out], 8, opts)
        elif isinstance(layer, (MaxPool2D, AvgPool2D)):

            def opts(b, _w, layer=layer, act=act):
                tflite.Pool2DOptionsStart(b)
                tflite.Pool2DOptionsAddPadding(b, _PAD[layer.padding])
                tflite.Pool2DOptionsAddStrideH(b, layer.stride[0])
                tflite.Pool2DOptionsAddStrideW(b, layer.stride[1])
                tflite.Pool2DOptionsAddFilterHeight(b, layer.filter_size[0])
                tflite.Pool2DOptionsAddFilterWidth(b, layer.filter_size[1])
                tflite.Pool2DOptionsAddFusedActivationFunction(b, act)
                return tflite.Pool2DOptionsEnd(b)

            wr.op("MAX_POOL_2D" if isinstance(layer, MaxPool2D) else "AVERAGE_POOL_2D", [cur], [out], 5, opts)
        elif isinstance(layer, Reshape):
            shp = wr.tensor(name + "/shape", (len(shape),), _INT32, data=np.array(shape, np.int32))

            def opts(b, w, shape=shape):
                v = w.ivec(shape)
                tflite.ReshapeOptionsStart(b)
                tflite.ReshapeOptionsAddNewShape(b, v)
                return tflite.ReshapeOptionsEnd(b)

            wr.op("RESHAPE", [cur, shp], [out], 17, opts)
        elif isinstance(layer, Add):

            def opts(b, _w, act=act):
                tflite.AddOptionsStart(b)
                tflite.AddOptionsAddFusedActivationFunction(b, act)
                return tflite.AddOptionsEnd(b)

            wr.op("ADD", srcs, [out], tflite.BuiltinOptions.AddOptions, opts)
        elif isinstance(layer, Softmax):

            def opts(b, _w, beta=layer.beta):
                tflite.SoftmaxOptionsStart(b)
                tflite.SoftmaxOptionsAddBeta(b, beta)
                return tflite.SoftmaxOptionsEnd(b)

            wr.op("SOFTMAX", [cur], [out], tflite.BuiltinOptions.SoftmaxOptions, opts)
        else:
            raise ValueError(f"layers[{i}] = {type(layer).__name__} is not supported by build_tflite")
        ids.append(out)
    return wr, [ids[0]], [ids[-1]]


def run_litert(model: bytes, x: np.ndarray, reference: bool = True) -> np.ndarray:
    """Run a single-input, single-output model in LiteRT (reference kernels by default)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kind = OpResolverType.BUILTIN_REF if reference else OpResolverType.BUILTIN
    interp = Interpreter(model_content=model, experimental_op_resolver_type=kind)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"]).copy()
