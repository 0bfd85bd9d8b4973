"""Lower an int8 network (.tflite or golden Network, a graph) to a schedule of engine layers and core steps.

Lowering rules (NHWC activations, batch 1; operator i of the .tflite = layer i of the golden Network):

* ``CONV_2D`` -> one engine layer (a dense conv). Stride must be equal in H and W, dilation 1.
  A strided conv whose kernel is larger than max_kernel (DS-CNN's 10x4 stride 2) -> a space-to-depth
  step on the core (padding with the input zero point, U x U tiles into channels) and a stride-1 VALID
  engine conv with a ceil(R/U) x ceil(S/U) kernel over U*U*C channels: the same sum of products.
* ``DEPTHWISE_CONV_2D`` -> one engine layer with block-diagonal weights and the driver's depthwise
  channel-group mapping (``driver.conv_layer.conv_from_depthwise``).
* ``CONV_2D`` / ``DEPTHWISE_CONV_2D`` followed by ``MAX_POOL_2D`` / ``AVERAGE_POOL_2D`` with a 2x2
  window and stride 2 that reads only the conv's output -> ONE engine layer with the fused pool (VALID;
  SAME only when the conv output is even, where it is the same thing). The pool's fused activation must
  not narrow the conv's clamp (for max pooling a narrower clamp is folded in: clamping commutes with max).
* a 2x2/2 pool that does not follow a conv -> an identity 1x1 depthwise conv (weight 1, multiplier
  2^30, shift 1: requantisation returns its input exactly) with the fused pool; any other pool
  (global average pools, 3x3 windows, a clamp the engine cannot apply after pooling) -> a core step.
* ``FULLY_CONNECTED`` -> a conv whose kernel covers the whole input when the flattened input is an
  HxWxC tensor with H, W <= max_kernel (NHWC flattening is the OHWI weight order), else a 1x1 conv on
  a 1x1 "image" with C = the input length, else an R x S x C' conv with K = R*S*C' and C' <= max_channels
  (``driver.network.fc_geometry``: FC 640 -> a 1x4 conv over 160 channels). The hardware uses the
  integer requantisation, like golden/ and TFLite Micro; LiteRT's reference FULLY_CONNECTED requantises
  in float (see golden/README.md), so the schedule carries a note.
* ``ADD`` (equal shapes) and ``SOFTMAX`` -> core steps (golden/add.py, golden/softmax.py semantics).
* ``RESHAPE`` -> nothing: NHWC bytes are already in flattening order; the next step reinterprets them.

Every step names the tensors it reads (``sources``: 0 = the network input, k + 1 = step k's output),
so skip connections keep their tensors alive (``Schedule.last_uses``).  Each engine layer is checked
against the accelerator configuration by the driver itself (``driver.passes.split_layer``: layers that
do not fit the buffers are split into passes, exactly as ``driver.program.program_for_layer`` will).
The first operator that cannot run raises :class:`CompileError` naming it, e.g. ``operator 2
(CONV_2D): the conv engine cannot run it: R = 7 is out of range: must be an integer in [1, 5]``.

At run time the host (firmware/net/net.c, the cocotb CPU model) runs the steps in order:
``EngineLayer.program(config, x)`` is the driver's custom-0 instruction program for input ``x``
(driver/program.py), ``Program.collect`` turns its responses into the output; core steps run
firmware/soc/tflite_ref.c.  ``Schedule.run_reference`` runs the same schedule with golden/ on every
step (not through the driver), to check the lowering against ``golden.run_network``.
"""

from dataclasses import dataclass, field

import numpy as np

from driver.conv_layer import ConvLayer, conv_from_depthwise
from driver.network import fc_geometry
from driver.passes import split_layer
from driver.program import command_overhead, program_for_layer
from golden.add import add_int8
from golden.conv import conv2d, resolve_padding
from golden.network import (
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
from golden.pool import avg_pool2d, max_pool2d
from golden.quant import activation_range
from golden.softmax import softmax_int8
from golden.tflite_import import UnsupportedModelError, load_tflite
from spec.config import AcceleratorConfig

__all__ = ["CompileError", "EngineLayer", "HostStep", "Schedule", "compile_network", "compile_tflite",
           "space_to_depth", "OP_NAMES"]

OP_NAMES = {Conv2D: "CONV_2D", DepthwiseConv2D: "DEPTHWISE_CONV_2D", FullyConnected: "FULLY_CONNECTED",
            MaxPool2D: "MAX_POOL_2D", AvgPool2D: "AVERAGE_POOL_2D", Reshape: "RESHAPE", Add: "ADD",
            Softmax: "SOFTMAX"}


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
    sources: tuple = ()           # the schedule tensors it reads (see Schedule)
    stated_macs: int = 0          # the operator's MACs when the engine layer computes more (zero taps)
    runs_on = "engine"

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
        if self.stated_macs:
            return self.stated_macs
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
class HostStep:
    """An operator the core runs in firmware because the engine has no unit for it.

    ``kind`` and ``params``:

    * ``"add"``: ADD of two equal-shape tensors; ``params["add"]`` = golden.add.AddParams, plus the
      clamp ``act_min``, ``act_max``;
    * ``"softmax"``: over the last axis of ``in_shapes[0]`` (rows x depth); ``input_multiplier``,
      ``input_left_shift``, ``diff_min`` (golden.softmax.softmax_params);
    * ``"avg_pool"`` / ``"max_pool"``: any window on [H][W][C]: ``filter`` (R, S), ``stride`` (U, V),
      ``pad`` (top, left), output (E, F) in ``out_shape``, clamp ``act_min``, ``act_max``;
    * ``"space_to_depth"``: the input of a strided conv whose kernel is larger than the engine's,
      regrouped in ``block`` x ``block`` tiles (:func:`space_to_depth`), ``pad`` = (top, left) rows and
      columns of ``pad_value`` (the input zero point) in front.
    """
    index: int
    ops: tuple
    op_names: tuple
    kind: str
    in_shapes: tuple
    out_shape: tuple
    params: dict
    sources: tuple = ()
    passes: int = 0
    runs_on = "core"
    macs = 0

    @property
    def name(self):
        return " + ".join(f"op{i} {n}" for i, n in zip(self.ops, self.op_names, strict=True)) or self.kind

    def describe(self):
        ins = " + ".join("x".join(map(str, s)) for s in self.in_shapes)
        extra = ""
        if self.kind.endswith("_pool"):
            extra = " {}x{}/{}".format(*self.params["filter"], self.params["stride"][0])
        elif self.kind == "space_to_depth":
            extra = f" block {self.params['block']}"
        return f"{self.kind}{extra} {ins} -> {'x'.join(map(str, self.out_shape))}"

    def ideal_cycles(self, config):
        return 0

    def reference(self, *xs):
        """golden/'s operator on the inputs (any int8 arrays with the right sizes)."""
        xs = [np.asarray(x, np.int8).reshape(s) for x, s in zip(xs, self.in_shapes, strict=True)]
        p = self.params
        if self.kind == "add":
            return add_int8(xs[0], xs[1], p["add"], p["act_min"], p["act_max"])
        if self.kind == "softmax":
            return softmax_int8(xs[0], p["input_multiplier"], p["input_left_shift"], p["diff_min"])
        if self.kind.endswith("_pool"):
            pt, pl = p["pad"]
            (R, S), (U, V) = p["filter"], p["stride"]
            H, W, _ = self.in_shapes[0]
            E, F, _ = self.out_shape
            pad = ((pt, max(0, (E - 1) * U + R - H - pt)), (pl, max(0, (F - 1) * V + S - W - pl)))
            fn = avg_pool2d if self.kind == "avg_pool" else max_pool2d
            return fn(xs[0][None], (R, S), (U, V), pad, p["act_min"], p["act_max"])[0]
        return space_to_depth(xs[0], p["block"], p["pad"], self.out_shape[:2], p["pad_value"])

    def static_cost(self, config, counters=True):
        return dict(passes=0, instructions=0, port_cycles=0, compute_cycles=0, mac_cycles=0, ideal_cycles=0,
                    macs=0)


def space_to_depth(x, block, pad, out_hw, pad_value):
    """[H][W][C] -> [Hb][Wb][block*block*C] with out[y][x][(dy*block + dx)*C + c] =
    x[y*block + dy - pt][x*block + dx - pl][c], or ``pad_value`` outside x (``pad`` = (pt, pl))."""
    pt, pl = pad
    Hb, Wb = out_hw
    H, W, C = x.shape
    xp = np.full((Hb * block, Wb * block, C), pad_value, np.int8)
    h, w = min(H, Hb * block - pt), min(W, Wb * block - pl)
    xp[pt:pt + h, pl:pl + w] = x[:h, :w]
    t = xp.reshape(Hb, block, Wb, block, C).transpose(0, 2, 1, 3, 4)
    return np.ascontiguousarray(t.reshape(Hb, Wb, block * block * C))


@dataclass
class Schedule:
    """The steps of a network in execution order: engine layers (:class:`EngineLayer`) and operators
    the core runs (:class:`HostStep`).  Tensor 0 is the network input, tensor k + 1 the output of
    ``layers[k]``; ``layers[k].sources`` names the tensors step k reads.  The network's output is the
    last step's output bytes reshaped to ``output_shape``."""
    config: AcceleratorConfig
    net: Network
    layers: list
    input_shape: tuple
    output_shape: tuple
    notes: list = field(default_factory=list)

    @property
    def engine_layers(self):
        return [s for s in self.layers if s.runs_on == "engine"]

    def check_input(self, x):
        x = np.asarray(x)
        if x.dtype != np.int8 or x.size != int(np.prod(self.input_shape)):
            raise ValueError(f"input must be int8 of shape {self.input_shape}, not {x.dtype} {x.shape}")
        return x.reshape(self.input_shape)

    def run_reference(self, x, return_all=False):
        """Run the schedule with golden/ on every step (host-side executor, no driver)."""
        tensors = [self.check_input(x)]
        for step in self.layers:
            tensors.append(step.reference(*(tensors[t] for t in step.sources)))
        y = np.asarray(tensors[-1]).reshape(self.output_shape)
        return (y, tensors[1:]) if return_all else y

    def finish(self, last_output):
        """The last step's output -> the network output (reshape)."""
        return np.asarray(last_output, np.int8).reshape(self.output_shape)

    def last_uses(self):
        """For every tensor, the index of the last step that reads it (-1: only the output reads it)."""
        last = [-1] * (len(self.layers) + 1)
        for k, step in enumerate(self.layers):
            for t in step.sources:
                last[t] = k
        return last

    def static_cost(self, counters=True):
        return [layer.static_cost(self.config, counters) for layer in self.layers]

    def table(self, costs=None):
        """A readable table of the schedule (with static cycle predictions for the engine layers)."""
        costs = costs or self.static_cost()
        lines = [f"{'#':>2s} {'operators':34s} {'runs on':7s} {'step':46s} {'MACs':>8s} {'pass':>4s} "
                 f"{'instr':>6s} {'port cyc':>8s} {'compute':>8s} {'ideal':>7s} {'util':>6s}"]
        for layer, c in zip(self.layers, costs, strict=True):
            if layer.runs_on == "core":
                lines.append(f"{layer.index:2d} {layer.name[:34]:34s} {'core':7s} "
                             f"{layer.describe()[:46]:46s} {0:8d}" + " ".join(f"{'-':>{w}s}" for w in
                                                                                (5, 6, 8, 8, 7, 6)))
                continue
            lines.append(f"{layer.index:2d} {layer.name[:34]:34s} {'engine':7s} {layer.describe()[:46]:46s} "
                         f"{c['macs']:8d} {c['passes']:4d} {c['instructions']:6d} {c['port_cycles']:8d} "
                         f"{c['compute_cycles']:8d} {c['ideal_cycles']:7.0f} "
                         f"{c['ideal_cycles'] / c['compute_cycles']:6.1%}")
        port = sum(c["port_cycles"] for c in costs)
        comp = sum(c["compute_cycles"] for c in costs)
        ideal = sum(c["ideal_cycles"] for c in costs)
        macs = sum(c["macs"] for c in costs)
        core = [layer.kind for layer in self.layers if layer.runs_on == "core"]
        lines.append(f"   total: {macs} MACs; engine {port} port + {comp} compute = {port + comp} cycles "
                     f"per inference; ideal {ideal:.0f} compute cycles ({ideal / max(comp, 1):.1%} of the "
                     f"compute cycles)" + (f"; on the core: {', '.join(core)}" if core else ""))
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


def _fused_act(conv_range, pool):
    """The clamp of a conv with the fused ``pool``, or None: the pool's own clamp must be a no-op, or
    (max pool) folded into the conv's, which is exact because clamping commutes with max."""
    lo, hi = conv_range
    plo, phi = activation_range(pool.activation, pool.quant.scale, pool.quant.zero_point)
    if plo <= lo and phi >= hi:
        return lo, hi
    if isinstance(pool, MaxPool2D) and max(lo, plo) <= min(hi, phi):
        return max(lo, plo), min(hi, phi)
    return None


def _flat(shape):
    """A golden tensor shape without its batch dimension (batch 1)."""
    shape = tuple(int(v) for v in shape)
    return shape[1:] if len(shape) > 1 else shape


class _Lowering:
    """Walks the golden network in order and emits the schedule's steps (see the module docstring)."""

    def __init__(self, net, config):
        self.net, self.config = net, config
        try:
            net.validate()
            outs = run_network(net, np.zeros(net.input_shape, np.int8), return_all=True)
        except ValueError as exc:
            raise CompileError(f"the network is not valid: {exc}") from None
        if len(net.input_shape) < 2 or int(net.input_shape[0]) != 1:
            raise CompileError(f"input shape {tuple(net.input_shape)}: only batch 1 is supported")
        self.gshape = [tuple(net.input_shape)] + [tuple(o.shape) for o in outs]
        self.tmap = {0: 0}                  # golden tensor -> schedule tensor
        self.spatial = {0: _flat(net.input_shape) if len(net.input_shape) == 4 else None}
        self.steps, self.notes, self.fused = [], [], set()

    def run(self):
        lower = {Reshape: self.reshape, FullyConnected: self.fully_connected, Add: self.add,
                 Softmax: self.softmax, MaxPool2D: self.pool, AvgPool2D: self.pool,
                 Conv2D: self.conv, DepthwiseConv2D: self.conv}
        for i, layer in enumerate(self.net.layers):
            if i in self.fused:
                continue
            fn = lower.get(type(layer))
            if fn is None:
                raise CompileError(f"operator {i} ({_op_name(layer)}) is not supported by the compiler")
            fn(i, layer, [self.tmap[g] for g in self.net.sources_of(i)])
        n = len(self.net.layers)
        if self.tmap[n] != len(self.steps):
            raise CompileError(f"operator {n - 1} ({_op_name(self.net.layers[-1])}): the network output "
                               f"must be the last step's output")
        return Schedule(config=self.config, net=self.net, layers=self.steps, notes=self.notes,
                        input_shape=tuple(self.net.input_shape), output_shape=self.gshape[-1])

    # --- emitting steps ----------------------------------------------------------------------------------
    def emit(self, step, ops, sources):
        step.index = len(self.steps)
        step.ops = tuple(ops)
        step.op_names = tuple(_op_name(self.net.layers[j]) for j in ops)
        step.sources = tuple(sources)
        if step.runs_on == "engine":
            step.passes = _check_fits(self.config, ops[0], self.net.layers[ops[0]], step)
        self.steps.append(step)
        t = len(self.steps)
        self.tmap[ops[-1] + 1] = t
        self.spatial[t] = tuple(step.out_shape) if len(step.out_shape) == 3 else None
        return t

    def host(self, i, kind, sources, in_shapes, out_shape, **params):
        return self.emit(HostStep(index=0, ops=(), op_names=(), kind=kind, in_shapes=tuple(in_shapes),
                                  out_shape=tuple(out_shape), params=params), [i], sources)

    def engine(self, ops, sources, **fields):
        eng = EngineLayer(index=0, ops=(), op_names=(), **fields)
        return self.emit(eng, ops, sources)

    # --- operators -----------------------------------------------------------------------------------------
    def reshape(self, i, layer, src):
        self.tmap[i + 1] = src[0]

    def add(self, i, layer, src):
        a, b = (self.gshape[g] for g in self.net.sources_of(i))
        if a != b:
            raise CompileError(f"operator {i} (ADD): input shapes {a} and {b} differ; the firmware adds "
                               f"equal shapes only")
        lo, hi = layer.act_range()
        self.host(i, "add", src, [_flat(a), _flat(b)], _flat(self.gshape[i + 1]), add=layer.params(),
                  act_min=lo, act_max=hi)

    def softmax(self, i, layer, src):
        shape = self.gshape[self.net.sources_of(i)[0]]
        depth = int(shape[-1])
        rows = int(np.prod(shape)) // depth
        mult, left_shift, diff_min = layer.params()
        self.host(i, "softmax", src, [(rows, depth)], (rows, depth), input_multiplier=mult,
                  input_left_shift=left_shift, diff_min=diff_min)

    def pool(self, i, layer, src):
        H, W, C = _hwc(self.gshape[self.net.sources_of(i)[0]], i, layer)
        plo, phi = activation_range(layer.activation, layer.quant.scale, layer.quant.zero_point)
        mode = "max" if isinstance(layer, MaxPool2D) else "avg"
        if _pool_fusable(layer, H, W) is None and (mode == "max" or (plo, phi) == (-128, 127)):
            # a 2x2/2 pool on the engine: an identity 1x1 depthwise conv (weight 1, multiplier 2^30,
            # shift 1: requantisation returns its input) with the fused pool
            zp = layer.quant.zero_point
            self.engine([i], src, kind="pool", in_shape=(H, W, C),
                        w=np.eye(C, dtype=np.int8).reshape(C, 1, 1, C), bias=np.zeros(C, np.int32),
                        multiplier=np.full(C, 2**30, np.int32), shift=np.ones(C, np.int32), input_zp=zp,
                        output_zp=zp, stride=1, padding=(0, 0, 0, 0), act_min=plo, act_max=phi, pool=mode,
                        depth_multiplier=1, out_shape=(H // 2, W // 2, C), conv_hw=(H, W))
            return
        (E, F), ((pt, _), (pl, _)) = resolve_padding(layer.padding, (H, W), layer.filter_size, layer.stride,
                                                     (1, 1))
        self.host(i, f"{mode}_pool", src, [(H, W, C)], (E, F, C), filter=tuple(layer.filter_size),
                  stride=tuple(layer.stride), pad=(pt, pl), act_min=plo, act_max=phi)

    def fully_connected(self, i, layer, src):
        in_shape = self.gshape[self.net.sources_of(i)[0]]
        K = layer.weights.shape[1]
        if int(np.prod(in_shape)) != K:
            rows = int(np.prod(in_shape)) / K
            raise _fail(i, layer, f"input shape {in_shape} flattens to {rows:g} rows of {K}: only one "
                                  f"row (batch 1) is supported")
        mult, shift, lo, hi = layer.requant()
        M = layer.out_channels
        shapes = []
        spatial = self.spatial.get(src[0])
        if spatial and int(np.prod(spatial)) == K and max(spatial[:2]) > 1 and max(spatial[:2]) <= \
                self.config.max_kernel:
            shapes.append(spatial)
        shapes.append((1, 1, K))
        try:
            shapes.append(fc_geometry(K, self.config))
        except ValueError:
            pass
        why = []
        for shape in dict.fromkeys(shapes):
            cand = EngineLayer(index=0, ops=(), op_names=(), kind="fc", in_shape=shape,
                               w=layer.weights.reshape(M, *shape),
                               bias=(np.asarray(layer.bias, np.int32) if layer.bias is not None
                                     else np.zeros(M, np.int32)),
                               multiplier=np.asarray(mult, np.int32), shift=np.asarray(shift, np.int32),
                               input_zp=layer.input.zero_point, output_zp=layer.output.zero_point,
                               stride=1, padding=(0, 0, 0, 0), act_min=lo, act_max=hi, pool="none",
                               depth_multiplier=0, out_shape=(1, 1, M), conv_hw=(1, 1))
            try:
                _check_fits(self.config, i, layer, cand)
            except CompileError as exc:
                why.append(f"as a {shape[0]}x{shape[1]} conv over {'x'.join(map(str, shape))}: "
                           f"{str(exc).split('cannot run it: ', 1)[1]}")
                continue
            self.emit(cand, [i], src)
            self.notes.append(f"operator {i} (FULLY_CONNECTED) runs on the integer requantisation path (like "
                              f"golden/ and TFLite Micro); LiteRT's reference FULLY_CONNECTED requantises in "
                              f"float and can differ by 1")
            return
        raise _fail(i, layer, "; ".join(why))

    def _fused_pool(self, i, E, F, lo, hi):
        """(pool mode, clamp) of a 2x2/2 pool that reads only conv ``i``'s output, else None."""
        net, j = self.net, i + 1
        if j >= len(net.layers) or net.sources_of(j) != (j,) or net.consumers(j) != [j]:
            return None
        pool = net.layers[j]
        if not isinstance(pool, (MaxPool2D, AvgPool2D)) or _pool_fusable(pool, E, F) is not None:
            return None
        clamp = _fused_act((lo, hi), pool)
        if clamp is None:
            return None
        self.fused.add(j)
        return ("max" if isinstance(pool, MaxPool2D) else "avg"), clamp

    def conv(self, i, layer, src):
        H, W, C = _hwc(self.gshape[self.net.sources_of(i)[0]], i, layer)
        if tuple(layer.dilation) != (1, 1):
            raise _fail(i, layer, f"dilation {tuple(layer.dilation)}: the engine has no dilation")
        if layer.stride[0] != layer.stride[1]:
            raise _fail(i, layer, f"stride {tuple(layer.stride)}: the engine has one stride U for both axes")
        U = int(layer.stride[0])
        _, R, S, _ = layer.weights.shape
        K = self.config.max_kernel
        depthwise = isinstance(layer, DepthwiseConv2D)
        mult, shift, lo, hi = layer.requant()
        bias = layer.bias if layer.bias is not None else np.zeros(layer.out_channels, np.int32)
        common = dict(bias=np.asarray(bias, np.int32), multiplier=np.asarray(mult, np.int32),
                      shift=np.asarray(shift, np.int32), input_zp=layer.input.zero_point,
                      output_zp=layer.output.zero_point)
        if max(R, S) > K and not depthwise and U > 1 and -(-max(R, S) // U) <= K:
            self.large_kernel(i, layer, src, (H, W, C), common, lo, hi)
            return
        x0 = np.zeros((H, W, C), np.int8)
        if depthwise:
            cl = conv_from_depthwise(x0, layer.weights, layer.depth_multiplier, stride=U,
                                     padding=layer.padding, **common)
        else:
            cl = ConvLayer(x=x0, w=layer.weights, stride=U, padding=layer.padding, **common)
        try:
            padding = cl.resolved_padding()
            E, F = cl.output_hw()
        except ValueError as exc:
            raise _fail(i, layer, str(exc)) from None
        fused = self._fused_pool(i, E, F, lo, hi)
        pool, (lo, hi) = fused if fused else ("none", (lo, hi))
        out_hw = (E // 2, F // 2) if fused else (E, F)
        self.engine([i, i + 1] if fused else [i], src, kind="depthwise" if depthwise else "conv",
                    in_shape=(H, W, C), w=cl.w, stride=U, padding=tuple(padding), act_min=lo, act_max=hi,
                    pool=pool, depth_multiplier=cl.depth_multiplier, out_shape=out_hw + (cl.w.shape[0],),
                    conv_hw=(E, F), **common)

    def large_kernel(self, i, layer, src, hwc, common, lo, hi):
        """A strided conv whose kernel exceeds max_kernel: space-to-depth by the stride U on the core,
        then a stride-1 VALID conv with a ceil(R/U) x ceil(S/U) kernel over U*U*C channels."""
        H, W, C = hwc
        U = int(layer.stride[0])
        M, R, S, _ = layer.weights.shape
        (E, F), ((pt, _), (pl, _)) = resolve_padding(layer.padding, (H, W), (R, S), (U, U), (1, 1))
        Rb, Sb = -(-R // U), -(-S // U)
        Hb, Wb = E - 1 + Rb, F - 1 + Sb
        wp = np.zeros((M, Rb * U, Sb * U, C), np.int8)
        wp[:, :R, :S, :] = layer.weights
        w = np.ascontiguousarray(wp.reshape(M, Rb, U, Sb, U, C).transpose(0, 1, 3, 2, 4, 5)
                                 .reshape(M, Rb, Sb, U * U * C))
        t = self.host(i, "space_to_depth", src, [hwc], (Hb, Wb, U * U * C), block=U, pad=(pt, pl),
                      pad_value=layer.input.zero_point)
        self.engine([i], [t], kind="conv", in_shape=(Hb, Wb, U * U * C), w=w, stride=1,
                    padding=(0, 0, 0, 0), act_min=lo, act_max=hi, pool="none", depth_multiplier=0,
                    out_shape=(E, F, M), conv_hw=(E, F), stated_macs=M * C * E * F * R * S, **common)


def compile_network(net: Network, config: AcceleratorConfig = None) -> Schedule:
    """Lower a golden Network (batch 1, NHWC) to a :class:`Schedule`; raises CompileError."""
    return _Lowering(net, config or AcceleratorConfig()).run()


def compile_tflite(model, config: AcceleratorConfig = None) -> Schedule:
    """.tflite (path or bytes) -> Schedule (golden.tflite_import.load_tflite, then compile_network)."""
    try:
        net = load_tflite(model)
    except UnsupportedModelError as exc:
        raise CompileError(f"the model cannot be imported: {exc}") from None
    return compile_network(net, config)
