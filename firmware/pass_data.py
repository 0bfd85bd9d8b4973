"""Per-pass C data for the SoC firmware: the one emitter behind a single-layer and a network firmware.

A firmware runs a schedule of engine layers; a single layer is a one-layer schedule. For every pass
of every layer (driver/passes.py ``split_layer``, each pass planned by driver/conv_layer.plan_conv)
:class:`PassEmitter` decides at build time, because none of it depends on the input data:

  * the layer registers whose value differs from what the previous pass left (one REG_WRITE each,
    in the plan's register order);
  * the memory images that differ from what that memory already holds (one SET_ADDR + WRITE_* run
    each, in address-space order), every distinct image one ``const uint32_t`` C array shared by all
    the passes that load it;
  * the input window the pass reads from its layer's input [H][W][C] and whether it differs from the
    previous pass's window of the same layer; the output window it fills in the layer's output.

Two firmwares use it: firmware/layer_image.py (one layer whose input is constant data:
``input_images=True`` makes the pass inputs images like the parameters) and compiler/firmware.py
(a network: ``input_images=False``, the firmware gathers each pass's input window at run time from
the previous layer's output). :func:`c_array` renders an array the same way for both.
"""

from dataclasses import dataclass

from driver.passes import split_layer
from spec.config import AcceleratorConfig
from spec.registers import REG, Space

__all__ = ["PassData", "PassEmitter", "c_array", "c_hex", "memory_images"]


def c_hex(v):
    """A 32-bit word as a C unsigned hex literal."""
    return f"0x{int(v) & 0xFFFFFFFF:08x}u"


def c_array(ctype, name, values, per_line=16, fmt=str):
    """``static const ctype name[n]`` (4-byte aligned, at least one element) with ``per_line`` values
    per line, each formatted by ``fmt``."""
    values = list(values)
    lines = ["    " + ", ".join(fmt(v) for v in values[i:i + per_line]) + ","
             for i in range(0, len(values), per_line)]
    body = "\n".join(lines) if lines else "    0,"
    return (f"static const {ctype} {name}[{max(1, len(values))}] __attribute__((aligned(4))) = "
            f"{{\n{body}\n}};")


def memory_images(program):
    """{space: words} of a pass's memory images (driver LayerProgram; contiguous from address 0)."""
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
class PassData:
    """What the firmware does for one pass (one engine run)."""
    layer: int                  # index of the engine layer in the schedule
    regs: list                  # [(register index, value), ...] to write (hw/registers.py REG)
    images: list                # [(space, C array name, words), ...] to load, by space
    load_input: bool            # the input window differs from the previous pass's of this layer
    in_window: tuple            # y0, y1, x0, x1, c0, c1 of the layer's input [H][W][C]
    out_window: tuple           # e0, e1, f0, f1, m0, m1 of the layer's output [E'][F'][M]
    in_words: int               # words of the input window
    out_words: int              # words of the pass's output memory (ACT_OUT) to read
    out_shape: tuple            # (E', F', M) of the pass's output (after pooling)


class PassEmitter:
    """Plans the passes of a schedule, layer by layer, and collects the C arrays they load.

    Parameters
    ----------
    config : AcceleratorConfig
    prefix : str
        Image arrays are named ``{prefix}_{space}_{n}`` (n counts distinct images).
    input_images : bool
        True: the input windows are images (ACT_IN, loaded like the parameters when they change);
        False: they are not (the firmware writes them at run time, see ``load_input``).

    Members
    -------
    passes : list of PassData      every pass so far, in order
    arrays : dict                  C name -> (ctype, values, per_line, fmt) in creation order; a
                                   caller may add its own arrays in between (they keep their place)
    """

    def __init__(self, config: AcceleratorConfig, prefix, *, input_images):
        if not isinstance(config, AcceleratorConfig):
            raise TypeError(f"config must be an AcceleratorConfig, not {config!r}")
        self.config = config
        self.prefix = prefix
        self.input_images = bool(input_images)
        self.passes = []
        self.arrays = {}
        self._layers = 0
        self._regs = {}         # register name -> the value it holds
        self._mems = {}         # space -> the words it holds
        self._names = {}        # (space, words) -> C array name

    def add_layer(self, layer):
        """Plan the passes of ``layer`` (a driver ConvLayer) after the passes so far; returns them."""
        index = self._layers
        self._layers += 1
        plan = split_layer(self.config, layer)
        added = []
        prev_input = None
        for p in plan.passes:
            regs = []
            for name, value in p.program.registers.items():
                if self._regs.get(name) != int(value):
                    regs.append((REG[name], int(value)))
                    self._regs[name] = int(value)
            images = []
            for space, words in sorted(memory_images(p.program).items()):
                if (space == Space.ACT_IN and not self.input_images) or self._mems.get(space) == words:
                    continue
                self._mems[space] = words
                key = (space, words)
                if key not in self._names:
                    self._names[key] = f"{self.prefix}_{Space.NAMES[space].lower()}_{len(self._names)}"
                    self.arrays[self._names[key]] = ("uint32_t", words, 8, c_hex)
                images.append((space, self._names[key], len(words)))
            y0, y1, x0, x1, c0, c1 = p.input_key
            (e0, e1), (f0, f1), (m0, m1) = p.rows, p.cols, p.chans
            in_bytes = (y1 - y0) * (x1 - x0) * (c1 - c0)
            added.append(PassData(layer=index, regs=regs, images=images, load_input=p.input_key != prev_input,
                                  in_window=(y0, y1, x0, x1, c0, c1), out_window=(e0, e1, f0, f1, m0, m1),
                                  in_words=-(-in_bytes // 4), out_words=p.program.out_words(),
                                  out_shape=p.program.out_shape))
            prev_input = p.input_key
        self.passes += added
        return added
