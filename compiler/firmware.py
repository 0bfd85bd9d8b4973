"""Compiler back end: a whole :class:`~compiler.schedule.Schedule` -> C data for the SoC firmware.

``network_header(schedule)`` writes ``net_data.h``, which firmware/net/net.c (a generic driver loop)
runs step by step: engine layers on the accelerator through the generated command header
``cnn_accel.h``, core steps (ADD, SOFTMAX, pools, space-to-depth) with firmware/soc/tflite_ref.c:

  * the steps in order (``net_steps``: kind, parameter index, the buffer slots it reads and the slot
    it writes) and the slots (:func:`allocate_slots`: a tensor keeps its slot until its last reader
    has run; the network input is read in place from ``net_io``);
  * the parameters of every core step (``tfl_add_table_t`` with golden.add.add_tables' tables,
    ``tfl_softmax_t``, ``tfl_pool_t``, ``tfl_s2d_t``) as golden/ derives them;

  * per pass of every engine layer (firmware/pass_data.py, the per-pass emitter shared with the
    single-layer firmware: driver/passes.py ``split_layer``, each pass planned by
    driver/conv_layer.plan_conv, exactly as driver/program.py plans it): the REG_WRITEs of the
    registers that changed since the previous pass, the parameter images that changed (weights in the
    sequencer's row order, biases with ``-input_zp * sum(W)`` folded in, multipliers, shifts) as
    ``uint32_t`` arrays, the input window the pass reads from the layer's input activation
    ([y0, y1) x [x0, x1) x [c0, c1) of [H][W][C]) and the output window it writes into the layer's
    output ([e0, e1) x [f0, f1) x [m0, m1) of [E'][F'][M]);
  * with ``sw=True`` (``NET_WITH_SW``) per engine layer the same layer for the plain-C TFLite reference
    (firmware/soc/tflite_ref.c): OHWI weights, biases (not folded), multipliers, shifts, zero points,
    clamp, fused pool, so the firmware can run the whole network on the core too (``FLAG_SW``);
  * the input tensor lives in ``net_io`` (firmware/net/net.c), a
    ``.data`` object with a magic word, which the host overwrites in the DMEM image
    (:meth:`NetFirmware.dmem_with_input`), so one build runs every image.

What changes from pass to pass is decided here, at compile time, because none of it depends on the
input: only the input windows are data (gathered by the firmware from the previous layer's output).

``build_network_firmware(schedule, ...)`` generates ``cnn_accel.h`` + ``net_data.h`` and builds the
firmware with firmware/build.py; it raises :class:`FirmwareSizeError` (naming the sizes needed) when
the network's code or data plus the stack reserve do not fit the SoC's RAMs.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from driver.c_header import c_header
from firmware.pass_data import PassEmitter, c_array, c_hex
from golden.add import add_tables
from spec.config import SocConfig

from .schedule import Schedule

__all__ = ["NET_IO_MAGIC", "FLAG_ACCEL", "FLAG_SW", "STACK_RESERVE", "FirmwareSizeError", "NetFirmware",
           "allocate_slots", "network_header", "build_network_firmware", "NET_SOURCES"]

FIRMWARE_DIR = Path(__file__).resolve().parent.parent / "firmware"
NET_DIR = FIRMWARE_DIR / "net"
SOC_DIR = FIRMWARE_DIR / "soc"
NET_SOURCES = [NET_DIR / "net.c", SOC_DIR / "tflite_ref.c", SOC_DIR / "uart.c", SOC_DIR / "muldi3.c"]

NET_IO_MAGIC = 0x3154454E          # "NET1" little endian: marks net_io in the DMEM image
FLAG_ACCEL = 1                     # net_io.flags: run the network on the accelerator
FLAG_SW = 2                        # ... and in plain C on the core (then compare the logits)
STACK_RESERVE = 2048               # bytes of DMEM kept free above .bss for the stack
POOL_CODES = {"none": 0, "max": 1, "avg": 2}     # TFL_POOL_* of tflite_ref.h
STEP_CODES = {"engine": 0, "add": 1, "softmax": 2, "avg_pool": 3, "max_pool": 4, "space_to_depth": 5}
SLOT_INPUT = 0xFFFF                # net_step_t.src*: the network input in net_io
RC_CORE = 0x40000000               # net.c's return code when a core kernel refuses its input, | step


class FirmwareSizeError(ValueError):
    """The network's firmware does not fit the SoC's RAMs."""


@dataclass
class NetworkPlan:
    """Everything net_data.h holds, as Python values (the host also uses it: sizes, per-layer MACs)."""
    schedule: Schedule
    passes: list                                   # firmware.pass_data.PassData of every pass
    arrays: dict = field(default_factory=dict)     # C name -> (ctype, values, per_line, fmt)
    slots: list = field(default_factory=list)      # slot of every step's output
    slot_bytes: list = field(default_factory=list)  # bytes of every slot
    index: list = field(default_factory=list)      # per step: its index in net_layers or its core table
    core: dict = field(default_factory=dict)       # core table -> C initialisers, in step order
    sw: bool = True

    @property
    def in_size(self):
        return int(np.prod(self.schedule.input_shape))

    @property
    def out_size(self):
        return int(np.prod(self.schedule.output_shape))

    @property
    def activation_bytes(self):
        return sum(self.slot_bytes)


def _nbytes(shape):
    return int(np.prod(shape))


def allocate_slots(schedule: Schedule):
    """A buffer slot for every step's output: (slot per step, bytes per slot).  A step never writes a
    slot it reads; a tensor's slot is free again once the last step that reads it has run; the network
    output keeps its slot.  Slots are reused first-fit, largest first, so big tensors share."""
    last = schedule.last_uses()
    n = len(schedule.layers)
    slots, slot_bytes, owner = [], [], []          # owner: tensor held by each slot
    for k, step in enumerate(schedule.layers):
        size = 4 * -(-_nbytes(step.out_shape) // 4)
        reads = {slots[t - 1] for t in step.sources if t > 0}
        free = [j for j, t in enumerate(owner) if t is None or (last[t] < k and t != n)]
        free = [j for j in free if j not in reads]
        j = max(free, key=lambda j: slot_bytes[j], default=None)
        if j is None:
            slot_bytes.append(0)
            owner.append(None)
            j = len(owner) - 1
        slot_bytes[j] = max(slot_bytes[j], size)
        owner[j] = k + 1
        slots.append(j)
    return slots, slot_bytes


def plan_network(schedule: Schedule, sw=True) -> NetworkPlan:
    """The passes of every engine layer with what each must (re)load (deduplicated parameter images),
    the core steps' parameters and the buffer slots."""
    cfg = schedule.config
    emitter = PassEmitter(cfg, "net", input_images=False)
    index, core, li = [], {t: [] for t in _CORE_TABLES}, 0
    for layer in schedule.layers:
        if layer.runs_on != "engine":
            table, init = _core_params(layer, emitter.arrays)
            index.append(len(core[table]))
            core[table].append(init)
            continue
        index.append(li)
        emitter.add_layer(layer.conv_layer(np.zeros(layer.in_shape, np.int8)))
        if sw:  # the plain-C reference's parameters (as the layer is stated: OHWI, bias not folded)
            emitter.arrays[f"sw_w_{li}"] = ("int8_t", layer.w.reshape(-1).tolist(), 32, str)
            emitter.arrays[f"sw_bias_{li}"] = ("int32_t", np.asarray(layer.bias).tolist(), 8, str)
            emitter.arrays[f"sw_mult_{li}"] = ("int32_t", np.asarray(layer.multiplier).tolist(), 8, str)
            emitter.arrays[f"sw_shift_{li}"] = ("int32_t", np.asarray(layer.shift).tolist(), 8, str)
        li += 1
    slots, slot_bytes = allocate_slots(schedule)
    return NetworkPlan(schedule=schedule, passes=emitter.passes, arrays=emitter.arrays, slots=slots,
                       slot_bytes=slot_bytes, index=index, core=core, sw=sw)


def _core_params(step, arrays):
    """(table, C initialiser) of a core step's parameters; arrays it needs go into ``arrays``."""
    p = step.params
    if step.kind == "add":
        # the table form of ADD (golden.add.add_tables): no 64-bit multiplications on the core
        t = add_tables(p["add"], p["act_min"], p["act_max"])
        names = {k: f"net_add{step.index}_{k}" for k in ("in1", "in2", "thresholds", "start")}
        for k, name in names.items():
            arrays[name] = ("int32_t", getattr(t, k).tolist(), 8, str)
        return "net_add", (f"{{{names['in1']}, {names['in2']}, {names['thresholds']}, {names['start']}, "
                           f"{len(t.thresholds)}, {t.act_min}, {t.shift}, {t.base}}}")
    if step.kind == "softmax":
        rows, depth = step.in_shapes[0]
        return "net_softmax", (f"{{{{{p['input_multiplier']}, {p['input_left_shift']}, {p['diff_min']}}}, "
                               f"{rows}, {depth}}}")
    if step.kind.endswith("_pool"):
        H, W, C = step.in_shapes[0]
        E, F, _ = step.out_shape
        (R, S), (U, V), (pt, pl) = p["filter"], p["stride"], p["pad"]
        return "net_pool", (f"{{{H}, {W}, {C}, {R}, {S}, {U}, {V}, {pt}, {pl}, {E}, {F}, {p['act_min']}, "
                            f"{p['act_max']}}}")
    H, W, C = step.in_shapes[0]
    Hb, Wb, _ = step.out_shape
    pt, pl = p["pad"]
    return "net_s2d", f"{{{H}, {W}, {C}, {p['block']}, {pt}, {pl}, {Hb}, {Wb}, {p['pad_value']}}}"


_CORE_TABLES = {"net_add": "tfl_add_table_t", "net_softmax": "net_softmax_t", "net_pool": "tfl_pool_t",
                "net_s2d": "tfl_s2d_t"}


def network_header(schedule: Schedule, name="network", sw=True):
    """The text of net_data.h (see the module docstring) and its :class:`NetworkPlan`."""
    plan = plan_network(schedule, sw)
    steps = schedule.layers
    layers = schedule.engine_layers
    if not layers:
        raise ValueError(f"{name}: the schedule has no engine layer; there is nothing for the accelerator")
    out_words = max(p.out_words for p in plan.passes)
    in_words = max(p.in_words for p in plan.passes)
    conv_sizes = [layer.conv_hw[0] * layer.conv_hw[1] * layer.w.shape[0] for layer in layers]
    macs = sum(step.macs for step in steps)
    step_rows = []
    for k, step in enumerate(steps):
        srcs = [SLOT_INPUT if t == 0 else plan.slots[t - 1] for t in step.sources]
        srcs += srcs[:1] * (2 - len(srcs))
        code = STEP_CODES["engine" if step.runs_on == "engine" else step.kind]
        step_rows.append(f"    {{{code}, {plan.index[k]}, {srcs[0]}, {srcs[1]}, {plan.slots[k]}, "
                         f"{_nbytes(step.out_shape)}u}},  /* {k}: {step.name}: {step.describe()} */")

    out = []
    a = out.append
    a(f"/* net_data.h: {name} compiled by compiler/firmware.py for the accelerator configuration "
      f"{schedule.config.name}: do not edit. */")
    a("#ifndef NET_DATA_H\n#define NET_DATA_H\n\n#include <stdint.h>\n#include \"cnn_accel.h\"\n"
      "#include \"tflite_ref.h\"\n")
    defines = dict(NET_STEPS=len(steps), NET_LAYERS=len(layers), NET_PASSES=len(plan.passes),
                   NET_IN_SIZE=plan.in_size, NET_OUT_SIZE=plan.out_size, NET_OUT_WORDS_MAX=out_words,
                   NET_IN_WORDS_MAX=in_words, NET_SW_CONV_BYTES=4 * -(-max(conv_sizes) // 4), NET_MACS=macs,
                   NET_SLOTS=len(plan.slot_bytes), NET_SLOT_INPUT=SLOT_INPUT, NET_RC_CORE=RC_CORE,
                   NET_OUTPUT_SLOT=plan.slots[-1])
    for k, v in defines.items():
        a(f"#define {k} {int(v)}u")
    a(f"#define NET_WITH_SW {int(sw)}")
    for kind, code in STEP_CODES.items():
        a(f"#define NET_STEP_{kind.upper()} {code}u")
    a(f"#define NET_IO_MAGIC {c_hex(NET_IO_MAGIC)}")
    a(f"#define NET_FLAG_ACCEL {FLAG_ACCEL}u\n#define NET_FLAG_SW {FLAG_SW}u\n")
    a("typedef struct { uint32_t reg, value; } net_reg_t;")
    a("typedef struct { uint32_t space, n; const uint32_t *words; } net_image_t;")
    a("/* One engine run: registers and parameter images to load, the input window it reads from the")
    a(" * layer's input [H][W][C] and the output window it fills in the layer's output [E'][F'][M]. */")
    a("typedef struct {")
    a("    uint16_t layer, n_regs, n_images, load_input;")
    a("    const net_reg_t *regs;")
    a("    const net_image_t *images;")
    a("    uint16_t y0, y1, x0, x1, c0, c1;")
    a("    uint16_t e0, e1, f0, f1, m0, m1;")
    a("    uint16_t in_words, out_words;")
    a("} net_pass_t;")
    a("/* One engine layer: input shape, output shape (after pooling), its passes; the same layer for")
    a(" * the plain-C reference (conv + clamp, then the fused 2x2 pool). */")
    a("typedef struct {")
    a("    uint16_t H, W, C, E, F, M, first_pass, n_passes, pool;")
    a("    uint32_t macs;")
    a("    tfl_conv_t sw;")
    a("} net_layer_t;")
    a("/* One step: NET_STEP_* kind, its index in net_layers or in its core table, the slots it reads")
    a(" * (NET_SLOT_INPUT: the input) and writes, its output bytes. */")
    a("typedef struct { uint16_t kind, index, src0, src1, dst; uint32_t size; } net_step_t;")
    a("typedef struct { tfl_softmax_t p; int rows, depth; } net_softmax_t;")
    a("")
    for k, nbytes in enumerate(plan.slot_bytes):
        a(f"static uint32_t net_slot_{k}[{nbytes // 4}];")
    a(f"static uint32_t *const net_slots[{len(plan.slot_bytes)}] = {{"
      + ", ".join(f"net_slot_{k}" for k in range(len(plan.slot_bytes))) + "};")
    a("")
    for cname, (ctype, values, per_line, fmt) in plan.arrays.items():
        a(c_array(ctype, cname, values, per_line, fmt))
    a("")
    for table, ctype in _CORE_TABLES.items():
        rows = plan.core[table] or ["{0}"]       # an unused table still needs one element
        a(f"static const {ctype} {table}[{len(rows)}] = {{" + ", ".join(rows) + "};")
    a("")
    for i, p in enumerate(plan.passes):
        if p.regs:
            a(f"static const net_reg_t net_regs_{i}[{len(p.regs)}] = {{"
              + ", ".join(f"{{{r}u, {v}u}}" for r, v in p.regs) + "};")
        if p.images:
            a(f"static const net_image_t net_images_{i}[{len(p.images)}] = {{"
              + ", ".join(f"{{{s}u, {n}u, {c}}}" for s, c, n in p.images) + "};")
    a("")
    a(f"static const net_pass_t net_passes[{len(plan.passes)}] = {{")
    for i, p in enumerate(plan.passes):
        regs = f"net_regs_{i}" if p.regs else "0"
        imgs = f"net_images_{i}" if p.images else "0"
        a(f"    {{{p.layer}, {len(p.regs)}, {len(p.images)}, {int(p.load_input)}, {regs}, {imgs}, "
          f"{', '.join(map(str, p.in_window))}, {', '.join(map(str, p.out_window))}, "
          f"{p.in_words}, {p.out_words}}},")
    a("};")
    a("")
    a(f"static const net_layer_t net_layers[{len(layers)}] = {{")
    first = 0
    for li, layer in enumerate(layers):
        n = sum(1 for p in plan.passes if p.layer == li)
        H, W, C = layer.in_shape
        E2, F2, M = layer.out_shape
        _, R, S, _ = layer.w.shape
        E, F = layer.conv_hw
        pt, _, pl, _ = layer.padding
        a(f"    {{ /* {li}: {layer.name}: {layer.describe()} */")
        a(f"        {H}, {W}, {C}, {E2}, {F2}, {M}, {first}, {n}, {POOL_CODES[layer.pool]}, {layer.macs}u,")
        if sw:
            a(f"        {{ .H = {H}, .W = {W}, .C = {C}, .M = {M}, .R = {R}, .S = {S}, "
              f".stride = {layer.stride}, .pad_top = {pt}, .pad_left = {pl}, .E = {E}, .F = {F}, "
              f".depth_multiplier = {int(layer.depth_multiplier)},")
            a(f"          .input_zp = {layer.input_zp}, .output_zp = {layer.output_zp}, "
              f".act_min = {layer.act_min}, .act_max = {layer.act_max},")
            a(f"          .w = sw_w_{li}, .bias = sw_bias_{li}, .multiplier = sw_mult_{li}, "
              f".shift = sw_shift_{li} }},")
        else:
            a("        { 0 },")
        a("    },")
        first += n
    a("};")
    a("")
    a(f"static const net_step_t net_steps[{len(steps)}] = {{")
    out += step_rows
    a("};")
    a("\n#endif")
    return "\n".join(out) + "\n", plan


@dataclass(frozen=True)
class NetFirmware:
    """A built network firmware: the image, where ``net_io`` is, the plan it was generated from."""
    image: object               # firmware.build.FirmwareImage
    plan: NetworkPlan
    soc: SocConfig              # the SoC it was built for
    io_addr: int                # byte address of net_io (magic, flags, input bytes)
    dmem_base: int
    dmem_bytes: int             # DMEM used by code data (.rodata/.data/.bss) + stack reserve

    @property
    def io_word(self):
        """Index of net_io's first word in ``image.dmem``."""
        return (self.io_addr - self.dmem_base) // 4

    def io_words(self, x, flags=FLAG_ACCEL):
        """The words of net_io for input ``x`` (int8, the network's input shape)."""
        x = self.plan.schedule.check_input(x).reshape(-1)
        raw = np.zeros(4 * -(-x.size // 4), np.uint8)
        raw[:x.size] = x.view(np.uint8)
        return [NET_IO_MAGIC, int(flags)] + raw.view("<u4").astype(np.int64).tolist()

    def dmem_with_input(self, x, flags=FLAG_ACCEL):
        """The DMEM image with ``x`` and ``flags`` in net_io (what the loader writes before reset)."""
        dmem = list(self.image.dmem)
        words = self.io_words(x, flags)
        k = self.io_word
        if dmem[k] != NET_IO_MAGIC:
            raise AssertionError(f"net_io at 0x{self.io_addr:08x} does not hold the magic word (build bug)")
        dmem[k:k + len(words)] = words
        return dmem


def _pow2_words(nbytes):
    words = max(1, -(-nbytes // 4))
    return 1 << (words - 1).bit_length()


def build_network_firmware(schedule: Schedule, out_dir, soc: SocConfig, *, name="net", opt="-Os",
                           sw=True):
    """Generate cnn_accel.h + net_data.h into ``out_dir``/include and build firmware/net/net.c for
    the SoC ``soc`` (its RAM sizes and UART bit time; its engine must be the one ``schedule`` was
    compiled for, else ValueError).  ``sw=False`` leaves out the plain-C copy of every engine layer
    (no ``FLAG_SW`` run; half the weight bytes).

    Raises FirmwareSizeError when the program or its data plus STACK_RESERVE bytes of stack do not fit
    ``soc.imem_words`` / ``soc.dmem_words`` (the message names the sizes the SoC would need).
    """
    from firmware.build import build
    from firmware.layer_image import uart_char_cycles
    from hw.cpu.soc_ram import MEMORY_MAP

    if not isinstance(soc, SocConfig):
        raise ValueError(f"soc = {soc!r} is not allowed: must be a SocConfig")
    if soc.engine != schedule.config:
        raise ValueError(f"soc.engine = {soc.engine.name} is not the configuration the schedule was "
                         f"compiled for ({schedule.config.name}): compile for soc.engine")
    imem_words, dmem_words = soc.imem_words, soc.dmem_words
    out_dir = Path(out_dir)
    inc = out_dir / "include"
    inc.mkdir(parents=True, exist_ok=True)
    text, plan = network_header(schedule, name, sw)
    for fname, body in (("cnn_accel.h", c_header(schedule.config)), ("net_data.h", text)):
        path = inc / fname
        if not path.exists() or path.read_text() != body:
            path.write_text(body)
    mm = MEMORY_MAP
    flags = dict(opt=opt, defines={"UART_CHAR_CYCLES": str(uart_char_cycles(soc.clocks_per_bit))},
                 extra_flags=["-I", str(inc), "-I", str(SOC_DIR)])
    try:
        image = build(NET_SOURCES, name=name, out_dir=out_dir, imem_words=imem_words,
                      dmem_words=dmem_words, **flags)
    except (ValueError, RuntimeError):
        image = None              # does not link into these RAMs: measure with large ones below
    if image is not None:
        code_bytes = 4 * len(image.imem)
        data_bytes = image.symbol("__bss_end") - mm.dmem_base
    if image is None or data_bytes + STACK_RESERVE > 4 * dmem_words:
        big = 1 << 22
        probe = build(NET_SOURCES, name=f"{name}_sizes", out_dir=out_dir, imem_words=big, dmem_words=big,
                      **flags)
        code_bytes = 4 * len(probe.imem)
        data_bytes = probe.symbol("__bss_end") - mm.dmem_base
        need = data_bytes + STACK_RESERVE
        raise FirmwareSizeError(
            f"the firmware of {name} does not fit the SoC: it needs {code_bytes} bytes of IMEM "
            f"(soc.imem_words = {imem_words} holds {4 * imem_words}) and {data_bytes} bytes of DMEM data "
            f"(weights, parameters, activation buffers) + {STACK_RESERVE} bytes of stack = {need} bytes "
            f"(soc.dmem_words = {dmem_words} holds {4 * dmem_words}); build the SoC with "
            f"imem_words >= {_pow2_words(code_bytes)} and dmem_words >= {_pow2_words(need)}")
    need = data_bytes + STACK_RESERVE
    return NetFirmware(image=image, plan=plan, soc=soc, io_addr=image.symbol("net_io"),
                       dmem_base=mm.dmem_base, dmem_bytes=need)
