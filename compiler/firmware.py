"""Compiler back end: a whole :class:`~compiler.schedule.Schedule` -> C data for the SoC firmware.

``network_header(schedule)`` writes ``net_data.h``, which firmware/net/net.c (a generic driver loop)
runs on the accelerator through the generated command header ``cnn_accel.h``:

  * per pass of every engine layer (driver/passes.py ``split_layer``, each pass planned by
    driver/conv_layer.plan_conv, exactly as driver/program.py plans it): the REG_WRITEs of the
    registers that changed since the previous pass, the parameter images that changed (weights in the
    sequencer's row order, biases with ``-input_zp * sum(W)`` folded in, multipliers, shifts) as
    ``uint32_t`` arrays, the input window the pass reads from the layer's input activation
    ([y0, y1) x [x0, x1) x [c0, c1) of [H][W][C]) and the output window it writes into the layer's
    output ([e0, e1) x [f0, f1) x [m0, m1) of [E'][F'][M]);
  * per engine layer the same layer for the plain-C TFLite reference (firmware/soc/tflite_ref.c):
    OHWI weights, biases (not folded), multipliers, shifts, zero points, clamp, fused pool;
  * sizes of the activation buffers; the input tensor lives in ``net_io`` (firmware/net/net.c), a
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
from driver.passes import split_layer
from spec.registers import REG, Space

from .schedule import Schedule

__all__ = ["NET_IO_MAGIC", "FLAG_ACCEL", "FLAG_SW", "STACK_RESERVE", "FirmwareSizeError", "NetFirmware",
           "network_header", "build_network_firmware", "NET_SOURCES"]

FIRMWARE_DIR = Path(__file__).resolve().parent.parent / "firmware"
NET_DIR = FIRMWARE_DIR / "net"
SOC_DIR = FIRMWARE_DIR / "soc"
NET_SOURCES = [NET_DIR / "net.c", SOC_DIR / "tflite_ref.c", SOC_DIR / "uart.c", SOC_DIR / "muldi3.c"]

NET_IO_MAGIC = 0x3154454E          # "NET1" little endian: marks net_io in the DMEM image
FLAG_ACCEL = 1                     # net_io.flags: run the network on the accelerator
FLAG_SW = 2                        # ... and in plain C on the core (then compare the logits)
STACK_RESERVE = 2048               # bytes of DMEM kept free above .bss for the stack
POOL_CODES = {"none": 0, "max": 1, "avg": 2}     # TFL_POOL_* of tflite_ref.h
PARAM_SPACES = (Space.WEIGHTS, Space.BIAS, Space.MULT, Space.SHIFT)


class FirmwareSizeError(ValueError):
    """The network's firmware does not fit the SoC's RAMs."""


def _array(ctype, name, values, per_line=16, fmt=str):
    values = list(values)
    lines = ["    " + ", ".join(fmt(v) for v in values[i:i + per_line]) + ","
             for i in range(0, len(values), per_line)]
    body = "\n".join(lines) if lines else "    0,"
    return (f"static const {ctype} {name}[{max(1, len(values))}] __attribute__((aligned(4))) = "
            f"{{\n{body}\n}};")


def _hex(v):
    return f"0x{int(v) & 0xFFFFFFFF:08x}u"


def _images(program):
    """{space: words} of a pass's memory images (contiguous from address 0)."""
    per_space = {}
    for space, addr, value in program.memory_writes():
        per_space.setdefault(space, []).append((addr, int(value) & 0xFFFFFFFF))
    out = {}
    for space, items in per_space.items():
        items.sort()
        if [a for a, _ in items] != list(range(len(items))):
            raise AssertionError(f"memory image of space {space} is not contiguous (driver bug)")
        out[space] = tuple(v for _, v in items)
    return out


@dataclass
class PassInfo:
    layer: int
    regs: list                  # [(register index, value), ...] to write
    images: list                # [(space, C array name, words), ...] to load
    load_input: bool
    in_window: tuple            # y0, y1, x0, x1, c0, c1
    out_window: tuple           # e0, e1, f0, f1, m0, m1
    in_words: int
    out_words: int


@dataclass
class NetworkPlan:
    """Everything net_data.h holds, as Python values (the host also uses it: sizes, per-layer MACs)."""
    schedule: Schedule
    passes: list
    arrays: dict = field(default_factory=dict)     # C name -> (ctype, values, per_line, fmt)

    @property
    def in_size(self):
        return int(np.prod(self.schedule.input_shape))

    @property
    def out_size(self):
        return int(np.prod(self.schedule.output_shape))


def plan_network(schedule: Schedule) -> NetworkPlan:
    """The passes of every layer with what each must (re)load, deduplicated parameter images."""
    cfg = schedule.config
    plan = NetworkPlan(schedule=schedule, passes=[])
    regs_known, mems_known, by_words = {}, {}, {}
    for li, layer in enumerate(schedule.layers):
        lp = split_layer(cfg, layer.conv_layer(np.zeros(layer.in_shape, np.int8)))
        prev_input = None
        for p in lp.passes:
            regs = []
            for name, value in p.program.registers.items():
                if regs_known.get(name) != int(value):
                    regs.append((REG[name], int(value)))
                    regs_known[name] = int(value)
            images = []
            for space, words in sorted(_images(p.program).items()):
                if space == Space.ACT_IN or mems_known.get(space) == words:
                    continue
                mems_known[space] = words
                key = (space, words)
                if key not in by_words:
                    by_words[key] = f"net_{Space.NAMES[space].lower()}_{len(by_words)}"
                    plan.arrays[by_words[key]] = ("uint32_t", words, 8, _hex)
                images.append((space, by_words[key], len(words)))
            y0, y1, x0, x1, c0, c1 = p.input_key
            (e0, e1), (f0, f1), (m0, m1) = p.rows, p.cols, p.chans
            in_bytes = (y1 - y0) * (x1 - x0) * (c1 - c0)
            plan.passes.append(PassInfo(layer=li, regs=regs, images=images,
                                        load_input=p.input_key != prev_input,
                                        in_window=(y0, y1, x0, x1, c0, c1),
                                        out_window=(e0, e1, f0, f1, m0, m1),
                                        in_words=-(-in_bytes // 4), out_words=p.program.out_words()))
            prev_input = p.input_key
        # the plain-C reference's parameters (as the layer is stated: OHWI, bias not folded)
        plan.arrays[f"sw_w_{li}"] = ("int8_t", layer.w.reshape(-1).tolist(), 32, str)
        plan.arrays[f"sw_bias_{li}"] = ("int32_t", np.asarray(layer.bias).tolist(), 8, str)
        plan.arrays[f"sw_mult_{li}"] = ("int32_t", np.asarray(layer.multiplier).tolist(), 8, str)
        plan.arrays[f"sw_shift_{li}"] = ("int32_t", np.asarray(layer.shift).tolist(), 8, str)
    return plan


def network_header(schedule: Schedule, name="network"):
    """The text of net_data.h (see the module docstring)."""
    plan = plan_network(schedule)
    layers = schedule.layers
    act_sizes = [int(np.prod(layer.in_shape)) for layer in layers] + [int(np.prod(layers[-1].out_shape))]
    out_words = max(p.out_words for p in plan.passes)
    in_words = max(p.in_words for p in plan.passes)
    conv_sizes = [layer.conv_hw[0] * layer.conv_hw[1] * layer.w.shape[0] for layer in layers]
    buf_bytes = 4 * max(-(-s // 4) for s in act_sizes + [4 * out_words])
    macs = sum(layer.macs for layer in layers)

    out = []
    a = out.append
    a(f"/* net_data.h: {name} compiled by compiler/firmware.py for the accelerator configuration "
      f"{schedule.config.name}: do not edit. */")
    a("#ifndef NET_DATA_H\n#define NET_DATA_H\n\n#include <stdint.h>\n#include \"cnn_accel.h\"\n"
      "#include \"tflite_ref.h\"\n")
    defines = dict(NET_LAYERS=len(layers), NET_PASSES=len(plan.passes), NET_IN_SIZE=plan.in_size,
                   NET_OUT_SIZE=plan.out_size, NET_BUF_BYTES=buf_bytes, NET_OUT_WORDS_MAX=out_words,
                   NET_IN_WORDS_MAX=in_words, NET_SW_CONV_BYTES=4 * -(-max(conv_sizes) // 4), NET_MACS=macs)
    for k, v in defines.items():
        a(f"#define {k} {int(v)}u")
    a(f"#define NET_IO_MAGIC {_hex(NET_IO_MAGIC)}")
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
    a("")
    for cname, (ctype, values, per_line, fmt) in plan.arrays.items():
        a(_array(ctype, cname, values, per_line, fmt))
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
        a(f"        {{ .H = {H}, .W = {W}, .C = {C}, .M = {M}, .R = {R}, .S = {S}, .stride = {layer.stride}, "
          f".pad_top = {pt}, .pad_left = {pl}, .E = {E}, .F = {F}, "
          f".depth_multiplier = {int(layer.depth_multiplier)},")
        a(f"          .input_zp = {layer.input_zp}, .output_zp = {layer.output_zp}, "
          f".act_min = {layer.act_min}, .act_max = {layer.act_max},")
        a(f"          .w = sw_w_{li}, .bias = sw_bias_{li}, .multiplier = sw_mult_{li}, "
          f".shift = sw_shift_{li} }},")
        a("    },")
        first += n
    a("};")
    a("\n#endif")
    return "\n".join(out) + "\n", plan


@dataclass(frozen=True)
class NetFirmware:
    """A built network firmware: the image, where ``net_io`` is, the plan it was generated from."""
    image: object               # firmware.build.FirmwareImage
    plan: NetworkPlan
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


def build_network_firmware(schedule: Schedule, out_dir, *, clocks_per_bit, imem_words, dmem_words,
                           name="net", opt="-Os"):
    """Generate cnn_accel.h + net_data.h into ``out_dir``/include and build firmware/net/net.c.

    Raises FirmwareSizeError when the program or its data plus STACK_RESERVE bytes of stack do not fit
    ``imem_words`` / ``dmem_words`` (the message names the sizes the SoC would need).
    """
    from firmware.build import build
    from firmware.layer_image import uart_char_cycles
    from hw.cpu.soc_ram import MEMORY_MAP

    out_dir = Path(out_dir)
    inc = out_dir / "include"
    inc.mkdir(parents=True, exist_ok=True)
    text, plan = network_header(schedule, name)
    for fname, body in (("cnn_accel.h", c_header(schedule.config)), ("net_data.h", text)):
        path = inc / fname
        if not path.exists() or path.read_text() != body:
            path.write_text(body)
    mm = MEMORY_MAP
    flags = dict(opt=opt, defines={"UART_CHAR_CYCLES": str(uart_char_cycles(clocks_per_bit))},
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
            f"(imem_words = {imem_words} holds {4 * imem_words}) and {data_bytes} bytes of DMEM data "
            f"(weights, parameters, activation buffers) + {STACK_RESERVE} bytes of stack = {need} bytes "
            f"(dmem_words = {dmem_words} holds {4 * dmem_words}); build the SoC with "
            f"imem_words >= {_pow2_words(code_bytes)} and dmem_words >= {_pow2_words(need)}")
    need = data_bytes + STACK_RESERVE
    return NetFirmware(image=image, plan=plan, io_addr=image.symbol("net_io"), dmem_base=mm.dmem_base,
                       dmem_bytes=need)
