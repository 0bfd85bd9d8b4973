"""EngineMemories: the memories the host writes and the datapath reads.

    act_in   32-bit words, input activations (space ACT_IN); read by the line buffer
    weights  8 * cols bits, one weight row per word (space WEIGHTS); read by the sequencer's beats
    bias, mult, shift   per output channel (spaces BIAS, MULT, SHIFT; only with the requantizer,
             ``space_depth`` > 0); read by the output stage

One memory per written space of spec/registers.py (:func:`hw.host_writes.memory_shapes`), each with
the host write port (``writes``, hw/host_writes.py: shared address and data, one enable per memory
or 32-bit part, a wide word taking ``data`` in every part) and one synchronous read port (data one
cycle after the address, held while its enable is low). ``memories`` maps names to the
``lib.memory.Memory`` objects (for SPRAM placement).

Members
-------
writes : In(host_write_layout)
act_addr, act_en : In;  act_data : Out(32)
w_addr, w_en : In;      w_data : Out(8 * cols)
param_addr, param_en : In;  bias : Out(signed(32)), mult : Out(31), shift : Out(signed(6))
    (only when the parameter memories are built)
"""

from amaranth.hdl import Module, signed
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from spec.config import AcceleratorConfig

from .host_writes import host_write_layout, memory_shapes

__all__ = ["EngineMemories"]

_READ = {"act_in": "act", "weights": "w"}
_PARAM_SHAPES = {"bias": signed(32), "mult": 31, "shift": signed(6)}


def _addr(depth):
    return max(1, (depth - 1).bit_length())


class EngineMemories(wiring.Component):
    """The engine's written memories (see the module docstring)."""

    def __init__(self, config: AcceleratorConfig, addr_width):
        shapes = memory_shapes(config)
        self.memories = {name: memory.Memory(shape=width, depth=depth, init=[])
                         for name, (width, depth) in shapes.items()}
        ports = {"writes": In(host_write_layout(config, addr_width))}
        for name, prefix in _READ.items():
            width, depth = shapes[name]
            ports.update({f"{prefix}_addr": In(_addr(depth)), f"{prefix}_en": In(1),
                          f"{prefix}_data": Out(width)})
        params = [name for name in _PARAM_SHAPES if name in shapes]
        if params:
            ports.update({"param_addr": In(_addr(shapes[params[0]][1])), "param_en": In(1)})
            ports.update({name: Out(_PARAM_SHAPES[name]) for name in params})
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        writes = self.writes
        for name, mem in self.memories.items():
            m.submodules[name] = mem
            parts = len(getattr(writes.en, name))
            wp = mem.write_port(granularity=32 if parts > 1 else None)
            bits = (parts - 1).bit_length()
            m.d.comb += [wp.addr.eq(writes.addr >> bits), wp.data.eq(writes.data.replicate(parts)),
                         wp.en.eq(getattr(writes.en, name))]
            rp = mem.read_port()
            if name in _READ:
                prefix = _READ[name]
                m.d.comb += [rp.addr.eq(getattr(self, f"{prefix}_addr")),
                             rp.en.eq(getattr(self, f"{prefix}_en")),
                             getattr(self, f"{prefix}_data").eq(rp.data)]
            else:
                m.d.comb += [rp.addr.eq(self.param_addr), rp.en.eq(self.param_en),
                             getattr(self, name).eq(rp.data)]
        return m
