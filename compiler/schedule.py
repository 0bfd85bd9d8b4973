"""Lower an int8 network (.tflite or golden Network) to a schedule of conv-engine layers.

Lowering rules (NHWC activations, batch 1; operator i of the .tflite = layer i of the golden Network):

* ``CONV_2D`` -> one engine layer (a dense conv). Stride must be equal in H and W, dilation 1.
* ``DEPTHWISE_CONV_2D`` -> one engine layer with block-diagonal weights and the driver's depthwise
  channel-group mapping (``driver.conv_layer.conv_from_depthwise``).
* ``CONV_2D`` / ``DEPTHWISE_CONV_2D`` followed by ``MAX_POOL_2D`` / ``AVERAGE_POOL_2D`` with a 2x2
  window and stride 2 -> ONE engine layer with the fused pool (VALID; SAME only when the conv output
  is even, where it is the same thing). The pool's fused activation must not narrow the conv's clamp
  (for max pooling a narrower clamp is folded in: clamping commutes with max).
* a 2x2/2 pool that does not follow a conv -> an identity 1x1 depthwise conv (weight 1, multiplier
  2^30, shift 1: requantisation returns its input exactly) with the fused pool.
* ``FULLY_CONNECTED`` -> a conv whose kernel covers the whole input when the flattened input is an
  HxWxC tensor with H, W <= max_kernel (NHWC flattening is the OHWI weight order), else a 1x1 conv on
  a 1x1 "image" with C = the input length (``conv_from_fc``). The hardware uses the integer
  requantisation; LiteRT's reference FULLY_CONNECTED requantises in float (see golden/README.md), so
  the schedule carries a note: write classifiers as a CONV_2D over the whole input instead.
* ``RESHAPE`` -> nothing: NHWC bytes are already in flattening order; the next layer reinterprets them.

Each engine layer is checked against the accelerator configuration by the driver itself
(``driver.passes.split_layer``: layers that do not fit the buffers are split into passes, exactly as
``driver.program.program_for_layer`` will). The first operator the engine cannot run raises
:class:`CompileError` naming it, e.g. ``operator 2 (CONV_2D): the conv engine cannot run it: R = 7 is
out of range: must be an integer in [1, 5]``.

At run time the host (firmware, the cocotb CPU model) runs the layers in order, feeding each layer's
output back as the next layer's input: ``EngineLayer.program(config, x)`` is the driver's custom-0
instruction program for input ``x`` (driver/program.py), ``Program.collect`` turns its responses into
the output. ``Schedule.run_reference`` runs the same schedule with golden/'s conv and pool on every
engine layer (not through the driver), to check the lowering against ``golden.run_network``.
"""

from dataclasses import dataclass, field

import numpy as np

from driver.conv_layer import ConvLayer, conv_from_depthwise
from driver.passes import split_layer
from driver.program import command_overhead, program_for_layer
from golden.conv import conv2d
from golden.network import (
    AvgPool2D,
    Conv2D,
    DepthwiseConv2D,
    FullyConnected,
    MaxPool2D,
    Network,
    Reshape,
    run_network,
)
from golden.pool import avg_pool2d, max_pool2d
from golden.quant import activation_range
from golden.tflite_import import UnsupportedModelError, load_tflite
from spec.config import AcceleratorConfig

__all__ = ["CompileError", "EngineLayer", "Schedule", "compile_network", "compile_tflite", "OP_NAMES"]

OP_NAMES = {Conv2D: "CONV_2D", DepthwiseConv2D: "DEPTHWISE_CONV_2D", FullyConnected: "FULLY_CONNECTED",
            MaxPool2D: "MAX_POOL_2D", AvgPool2D: "AVERAGE_POOL_2D", Reshape: "RESHAPE"}


class CompileError(ValueError):
    """The network cannot run on the accelerator; the message names the first operator that cannot."""


def _op_name(layer):
    return OP_NAMES.get(type(layer), type(layer).__name__)


@dataclass
class EngineLayer:
    """One conv-engine layer (one or more passes): the ConvLayer parameters without the input.

    ``ops``: the network operators it implements (indices); ``in_shape`` (H, W, C): how the engine
    reads the previous output bytes; ``out_shape`` (E', F', M): what it writes (after pooling).
    ``w`` is dense OHWI ([M][R][S][C]; depthwise expanded, with ``depth_multiplier`` > 0).
    """
    index: int
    ops: tuple
    op_names: tuple
    kind: str                     # "conv", "depthwise", "fc", "pool"
    in_shape: tuple
    w: np.ndarray
    bias: np.ndarray
    multiplier: np.ndarray
    shift: np.ndarray
    input_zp: int
    output_zp: int
    stride: int
    padding: tuple                # (top, bottom, left, right)
    act_min: int
    act_max: int
    pool: str                     # "none", "max", "avg"
    depth_multiplier: int
    out_shape: tuple
    conv_hw: tuple = ()           # (E, F) before pooling
    passes: int = 1

    @property
    def name(self):
        return " + ".join(f"op{i} {n}" for i, n in zip(self.ops, self.op_names, strict=True))

    def describe(self):
        H, W, C = self.in_shape
        M, R, S, _ = self.w.shape
        pool = f" +{self.pool}2x2" if self.pool != "none" else ""
        pad = f" pad{''.join(map(str, self.padding))}" if any(self.padding) else ""
        return (f"{self.kind} {H}x{W}x{C} {R}x{S}/{self.stride}{pad}{pool} "
                f"-> {'x'.join(map(str, self.out_shape))}")

    def conv_layer(self, x):
        """The driver's ConvLayer for input ``x`` (any int8 array with H*W*C elements, NHWC order)."""
        x = np.asarray(x)
        if x.dtype != np.int8 or x.size != int(np.prod(self.in_shape)):
            raise ValueError(f"{self.name}: input must be int8 with {int(np.prod(self.in_shape))} elements "
                             f"({self.in_shape}), not {x.dtype} {x.shape}")
        return ConvLayer(x=np.ascontiguousarray(x.reshape(self.in_shape)), w=self.w, bias=self.bias,
                         multiplier=self.multiplier, shift=self.shift, input_zp=self.input_zp,
                         output_zp=self.output_zp, stride=self.stride, padding=self.padding,
                         act_min=self.act_min, act_max=self.act_max, pool=self.pool,
                         depth_multiplier=self.depth_multiplier)

    def program(self, config, x, counters=True, known_state=None):
        """The custom-0 instruction program (driver/program.py) that runs this layer on input ``x``."""
        return program_for_layer(config, self.conv_layer(x), counters=counters, known_state=known_state)

    def reference(self, x):
        """golden/'s conv (+ pool) on this engine layer: the output [E'][F'][M] the engine must produce."""
        layer = self.conv_layer(x)
        pt, pb, pl, pr = self.padding
        out = conv2d(layer.x[None], self.w, self.bias, self.multiplier, self.shift, self.input_zp,
                     self.output_zp, (self.stride, self.stride), ((pt, pb), (pl, pr)),
                     act_min=self.act_min, act_max=self.act_max)
        if self.pool == "max":
            out = max_pool2d(out, (2, 2), (2, 2), "VALID", self.act_min, self.act_max)
        elif self.pool == "avg":
            out = avg_pool2d(out, (2, 2), (2, 2), "VALID", self.act_min, self.act_max)
        return out[0]

    @property
    def macs(self):
        """Multiply-accumulates of the layer as stated (N = 1): M*C*E*F*R*S, depthwise M*E*F*R*S."""
        M, R, S, C = self.w.shape
        E, F = self.conv_hw
        return M * (1 if self.depth_multiplier else C) * E * F * R * S

    def ideal_cycles(self, config):
        """N*M*C*E*F*R*S / (rows*cols)."""
        return self.macs / config.macs

    def static_cost(self, config, counters=True):
        """Port and compute cycles of one run, without simulation (driver.program.command_overhead:
        the command table's port cycles and spec.cycle_model's exact engine cycles)."""
        x = np.zeros(self.in_shape, np.int8)
        stats = command_overhead(config, self.conv_layer(x), counters=counters)
        stats["ideal_cycles"] = self.ideal_cycles(config)
        stats["macs"] = self.macs
        return stats


@dataclass
class Schedule:
    """The engine layers of a network, in order; the network's output is the last layer's output bytes
    reshaped to ``output_shape``."""
    config: AcceleratorConfig
    net: Network
    layers: list
    input_shape: tuple
    output_shape: tuple
    notes: list = field(default_factory=list)

    def check_input(self, x):
        x = np.asarray(x)
        if x.dtype != np.int8 or x.size != int(np.prod(self.input_shape)):
            raise ValueError(f"input must be int8 of shape {self.input_shape}, not {x.dtype} {x.shape}")
        return x.reshape(self.input_shape)

    def run_reference(self, x, return_all=False):
        """Run the schedule with golden/ on every engine layer (host-side executor, no driver)."""
        x = self.check_input(x)
        outs = []
        for layer in self.layers:
            x = layer.reference(x)
            outs.append(x)
        y = np.asarray(x).reshape(self.output_shape)
        return (y, outs) if return_all else y

    def finish(self, last_output):
        """The last engine layer's output -> the network output (reshape)."""
        return np.asarray(last_output, np.int8).reshape(self.output_shape)

    def static_cost(self, counters=True):
        return [layer.static_cost(self.config, counters) for layer in self.layers]

    def table(self, costs=None):
        """A readable table of the schedule (with static cycle predictions)."""
        costs = costs or self.static_cost()
        lines = [f"{'#':>2s} {'operators':34s} {'engine layer':46s} {'pass':>4s} {'instr':>6s} "
                 f"{'port cyc':>8s} {'compute':>8s} {'ideal':>7s} {'util':>6s}"]
        for layer, c in zip(self.layers, costs, strict=True):
            lines.append(f"{layer.index:2d} {layer.name[:34]:34s} {layer.describe()[:46]:46s} "
                         f"{c['passes']:4d} {c['instructions']:6d} {c['port_cycles']:8d} "
                         f"{c['compute_cycles']:8d} {c['ideal_cycles']:7.0f} "
                         f"{c['ideal_cycles'] / c['compute_cycles']:6.1%}")
        port = sum(c["port_cycles"] for c in costs)
        comp = sum(c["compute_cycles"] for c in costs)
        ideal = sum(c["ideal_cycles"] for c in costs)
        lines.append(f"   total: {port} port + {comp} compute = {port + comp} cycles per inference; "
                     f"ideal {ideal:.0f} compute cycles ({ideal / comp:.1%} of the compute cycles)")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _fail(i, layer, msg):
    return CompileError(f"operator {i} ({_op_name(layer)}): the conv engine cannot run it: {msg}")


def _check_fits(config, i, layer, eng):
    """The driver's own check (split into passes if needed); returns the number of passes."""
    try:
        plan = split_layer(config, eng.conv_layer(np.zeros(eng.in_shape, np.int8)))
    except ValueError as exc:
        raise _fail(i, layer, str(exc)) from None
    return len(plan.passes)


def _hwc(shape, i, layer):
    shape = tuple(int(v) for v in shape)
    if len(shape) != 4 or shape[0] != 1:
        raise _fail(i, layer, f"input shape {shape}: only NHWC tensors with batch 1 are supported")
    return shape[1:]


def _pool_fusable(pool, E, F):
    """None if ``pool`` can be fused after a conv with output E x F, else the reason."""
    if tuple(pool.filter_size) != (2, 2) or tuple(pool.stride) != (2, 2):
        fs, st = pool.filter_size, pool.stride
        return (f"{fs[0]}x{fs[1]} pooling with stride {st[0]}x{st[1]}: the engine pools only 2x2 windows "
                f"with stride 2, fused after a conv")
    if pool.padding == "SAME" and (E % 2 or F % 2):
        return (f"SAME 2x2 pooling of an odd {E}x{F} input (a partial window at the edge): the engine's "
                f"fused pooling is VALID")
    return None


def _fused_act(conv_range, pool, i, layer):
    """The clamp of a conv with the fused ``pool``: the pool's own clamp must be a no-op, or (max pool)
    folded into the conv's, which is exact because clamping commutes with max."""
    lo, hi = conv_range
    plo, phi = activation_range(pool.activation, pool.quant.scale, pool.quant.zero_point)
    if plo <= lo and phi >= hi:
        return lo, hi
    if isinstance(pool, MaxPool2D) and max(lo, plo) <= min(hi, phi):
        return max(lo, plo), min(hi, phi)
    raise _fail(i, layer, f"fused activation {pool.activation} of the pooling clamps to [{plo}, {phi}] "
                          f"inside the conv's [{lo}, {hi}]: the engine clamps only before pooling")


def compile_network(net: Network, config: AcceleratorConfig = None) -> Schedule:
    """Lower a golden Network (batch 1, NHWC) to a :class:`Schedule`; raises CompileError."""
    config = config or AcceleratorConfig()
    try:
        net.validate()
        shapes = [o.shape for o in run_network(net, np.zeros(net.input_shape, np.int8), return_all=True)]
    except ValueError as exc:
        raise CompileError(f"the network is not valid: {exc}") from None
    if int(np.prod(net.input_shape)) != int(np.prod(net.input_shape[1:])) or len(net.input_shape) < 2:
        raise CompileError(f"input shape {tuple(net.input_shape)}: only batch 1 is supported")
    in_shapes = [tuple(net.input_shape)] + [tuple(s) for s in shapes[:-1]]
    layers, notes = [], []
    last_spatial = None      # the most recent (H, W, C) whose bytes are the current tensor
    if len(net.input_shape) == 4:
        last_spatial = tuple(int(v) for v in net.input_shape[1:])
    i = 0
    n = len(net.layers)
    while i < n:
        layer = net.layers[i]
        in_shape = in_shapes[i]
        if isinstance(layer, Reshape):
            i += 1
            continue
        ops = [i]
        if isinstance(layer, (Conv2D, DepthwiseConv2D)):
            H, W, C = _hwc(in_shape, i, layer)
            if tuple(layer.dilation) != (1, 1):
                raise _fail(i, layer, f"dilation {tuple(layer.dilation)}: the engine has no dilation")
            if layer.stride[0] != layer.stride[1]:
                raise _fail(i, layer, f"stride {tuple(layer.stride)}: the engine has one stride U for "
                                      f"both axes")
            mult, shift, lo, hi = layer.requant()
            common = dict(bias=(layer.bias if layer.bias is not None
                                else np.zeros(layer.out_channels, np.int32)),
                          multiplier=mult, shift=shift, input_zp=layer.input.zero_point,
                          output_zp=layer.output.zero_point, stride=int(layer.stride[0]),
                          padding=layer.padding)
            x0 = np.zeros((H, W, C), np.int8)
            if isinstance(layer, DepthwiseConv2D):
                cl = conv_from_depthwise(x0, layer.weights, layer.depth_multiplier, **common)
                kind = "depthwise"
            else:
                cl = ConvLayer(x=x0, w=layer.weights, **common)
                kind = "conv"
            try:
                padding = cl.resolved_padding()
                E, F = cl.output_hw()
            except ValueError as exc:
                raise _fail(i, layer, str(exc)) from None
            pool = "none"
            nxt = net.layers[i + 1] if i + 1 < n else None
            if isinstance(nxt, (MaxPool2D, AvgPool2D)) and _pool_fusable(nxt, E, F) is None:
                lo, hi = _fused_act((lo, hi), nxt, i + 1, nxt)
                pool = "max" if isinstance(nxt, MaxPool2D) else "avg"
                ops.append(i + 1)
            eng = EngineLayer(index=len(layers), ops=(), op_names=(), kind=kind, in_shape=(H, W, C), w=cl.w,
                              bias=np.asarray(common["bias"], np.int32),
                              multiplier=np.asarray(mult, np.int32), shift=np.asarray(shift, np.int32),
                              input_zp=common["input_zp"], output_zp=common["output_zp"],
                              stride=common["stride"], padding=tuple(padding), act_min=lo, act_max=hi,
                              pool=pool, depth_multiplier=cl.depth_multiplier,
                              out_shape=((E // 2, F // 2) if pool != "none" else (E, F)) + (cl.w.shape[0],),
                              conv_hw=(E, F))
        elif isinstance(layer, FullyConnected):
            K = layer.weights.shape[1]
            if int(np.prod(in_shape)) != K:
                rows = int(np.prod(in_shape)) / K
                raise _fail(i, layer, f"input shape {in_shape} flattens to {rows:g} rows of {K}: only one "
                                      f"row (batch 1) is supported")
            mult, shift, lo, hi = layer.requant()
            M = layer.out_channels
            candidates = []
            if last_spatial and int(np.prod(last_spatial)) == K and max(last_spatial[:2]) > 1:
                Hs, Ws, Cs = last_spatial
                if Hs <= config.max_kernel and Ws <= config.max_kernel:
                    candidates.append(((Hs, Ws, Cs), layer.weights.reshape(M, Hs, Ws, Cs)))
            candidates.append(((1, 1, K), layer.weights.reshape(M, 1, 1, K)))
            eng, why = None, []
            for shape, w in candidates:
                cand = EngineLayer(index=len(layers), ops=(), op_names=(), kind="fc", in_shape=shape, w=w,
                                   bias=(np.asarray(layer.bias, np.int32) if layer.bias is not None
                                         else np.zeros(M, np.int32)),
                                   multiplier=np.asarray(mult, np.int32), shift=np.asarray(shift, np.int32),
                                   input_zp=layer.input.zero_point, output_zp=layer.output.zero_point,
                                   stride=1, padding=(0, 0, 0, 0), act_min=lo, act_max=hi, pool="none",
                                   depth_multiplier=0, out_shape=(1, 1, M), conv_hw=(1, 1))
                try:
                    _check_fits(config, i, layer, cand)
                except CompileError as exc:
                    why.append(f"as a {shape[0]}x{shape[1]} conv over {'x'.join(map(str, shape))}: "
                               f"{str(exc).split('cannot run it: ', 1)[1]}")
                    continue
                eng = cand
                break
            if eng is None:
                raise _fail(i, layer, "; ".join(why))
            notes.append(f"operator {i} (FULLY_CONNECTED) runs on the integer requantisation path (like "
                         f"golden/ and TFLite Micro); LiteRT's reference FULLY_CONNECTED requantises in "
                         f"float and can differ by 1: write the classifier as a CONV_2D covering its input")
        elif isinstance(layer, (MaxPool2D, AvgPool2D)):
            H, W, C = _hwc(in_shape, i, layer)
            why = _pool_fusable(layer, H, W)
            if why:
                raise _fail(i, layer, why)
            plo, phi = activation_range(layer.activation, layer.quant.scale, layer.quant.zero_point)
            if isinstance(layer, AvgPool2D) and (plo, phi) != (-128, 127):
                raise _fail(i, layer, f"fused activation {layer.activation} after average pooling: the "
                                      f"engine clamps only before pooling")
            zp = layer.quant.zero_point
            eng = EngineLayer(index=len(layers), ops=(), op_names=(), kind="pool", in_shape=(H, W, C),
                              w=np.eye(C, dtype=np.int8).reshape(C, 1, 1, C),
                              bias=np.zeros(C, np.int32), multiplier=np.full(C, 2**30, np.int32),
                              shift=np.ones(C, np.int32), input_zp=zp, output_zp=zp, stride=1,
                              padding=(0, 0, 0, 0), act_min=plo, act_max=phi,
                              pool="max" if isinstance(layer, MaxPool2D) else "avg", depth_multiplier=1,
                              out_shape=(H // 2, W // 2, C), conv_hw=(H, W))
        else:
            raise CompileError(f"operator {i} ({_op_name(layer)}) is not supported by the compiler")
        eng.ops = tuple(ops)
        eng.op_names = tuple(_op_name(net.layers[j]) for j in ops)
        eng.passes = _check_fits(config, i, layer, eng)
        layers.append(eng)
        last_spatial = eng.out_shape
        i = ops[-1] + 1
    return Schedule(config=config, net=net, layers=layers, input_shape=tuple(net.input_shape),
                    output_shape=tuple(shapes[-1]) if shapes else tuple(net.input_shape), notes=notes)


def compile_tflite(model, config: AcceleratorConfig = None) -> Schedule:
    """.tflite (path or bytes) -> Schedule (golden.tflite_import.load_tflite, then compile_network)."""
    try:
        net = load_tflite(model)
    except UnsupportedModelError as exc:
        raise CompileError(f"the model cannot be imported: {exc}") from None
    return compile_network(net, config)
