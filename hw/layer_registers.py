"""LayerRegisters: the engine's register file (space REGS of the host bus), decoded from the
register records of spec/registers.py.

* Writes (``we`` in space REGS, not while ``busy``) store every layer register (access "rw") that
  the configuration keeps (``spec.registers.register_stored``): the shape registers into ``shape``
  (``layer_shape_layout``, the sequencer's view), the output stage's constants into ``params``
  (:func:`output_params_layout`). A register that is not kept is written and ignored; it reads 0.
* A write of CTRL with bit 0 set is ``start_request`` (combinational, in the cycle of the write).
* Reads (``re``) return, one cycle later in ``bus.rdata``: STATUS from ``status``, a counter
  register (CYCLES, MAC_CYCLES, STALL_CYCLES) from the field of ``counters`` with its name, a kept
  layer register its value (int8 registers sign-extended), anything else 0. ``bus.rdata`` is 0
  after a read of another space.
* The START checks' inputs, from the registers (combinational): ``shape_ok`` (every size register
  in 1..its limit, the padding below the filter, POOL within its register limit) and ``pool_bad``
  (POOL above ``spec.registers.pool_start_limit``; always 0 when that is the register limit, as a
  larger POOL fails ``shape_ok``, which START reports first), and ``row_bytes`` = W * C (a register: one
  cycle behind W and C).
"""

from amaranth.hdl import Cat, Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from spec.config import AcceleratorConfig
from spec.registers import REG, REGISTERS, pool_start_limit, register_limit, register_stored

from .conv_sequencer import layer_shape_layout
from .host_bus import HostBusSignature
from .registers import STATUS_LAYOUT, Space

__all__ = ["LayerRegisters", "output_params_layout", "SIZE_REGISTERS"]

# Layer registers that START checks to lie in 1..register_limit (the loop bounds).
SIZE_REGISTERS = ("H", "W", "C", "M", "R", "S", "U", "E", "F", "CG")

# Shape and reset value of the output stage's layer constants (the layer registers outside the
# sequencer's shape): the reset clamps are the whole int8 range.
_PARAMS = {"OUTPUT_ZP": (signed(8), 0), "ACT_MIN": (signed(8), -128), "ACT_MAX": (signed(8), 127),
           "POOL": (None, 0)}


def output_params_layout(cfg: AcceleratorConfig):
    """The output stage's layer constants that ``cfg`` keeps (field = register name, lower case)."""
    fields = {}
    for name, (shape, _) in _PARAMS.items():
        if register_stored(cfg, name):
            fields[name.lower()] = register_limit(cfg, name).bit_length() if shape is None else shape
    return data.StructLayout(fields)


class LayerRegisters(wiring.Component):
    """The register file (see the module docstring for the behaviour).

    Parameters
    ----------
    config : AcceleratorConfig
    counters : data.StructLayout
        The engine's counter registers, by register name in lower case (``PerfCounters``).

    Members
    -------
    bus : In(HostBusSignature)     the host bus (writes and reads of space REGS)
    busy : In(1)                   a layer runs: register writes are ignored
    status : In(STATUS_LAYOUT)     the STATUS register's value
    counters : In(counters)        the counter registers' values
    shape : Out(layer_shape_layout)
    params : Out(output_params_layout)
    row_bytes : Out(32)            W * C, registered
    start_request : Out(1)         a CTRL write with bit 0 set, this cycle
    shape_ok, pool_bad : Out(1)    START checks on the registers, combinational
    """

    def __init__(self, config: AcceleratorConfig, addr_width, counters):
        self._config = config
        params = output_params_layout(config)
        super().__init__({
            "bus": In(HostBusSignature(addr_width)),
            "busy": In(1),
            "status": In(STATUS_LAYOUT),
            "counters": In(counters),
            "shape": Out(layer_shape_layout(config)),
            "params": Out(params, init={name.lower(): init for name, (_, init) in _PARAMS.items()
                                        if name.lower() in params.members}),
            "row_bytes": Out(32),
            "start_request": Out(1),
            "shape_ok": Out(1),
            "pool_bad": Out(1),
        })

    @property
    def config(self):
        return self._config

    def _storage(self):
        """Layer register name -> the field that stores it, for every register the config keeps."""
        fields = {}
        for reg in REGISTERS:
            if not register_stored(self._config, reg):
                continue
            for view in (self.shape, self.params):
                match = [f for f in view.shape().members if f.lower() == reg.name.lower()]
                if match:
                    fields[reg.name] = getattr(view, match[0])
                    break
            else:
                raise AssertionError(f"layer register {reg.name} has no storage")
        return fields

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        bus = self.bus
        stored = self._storage()
        reg_space = bus.space == Space.REGS

        # ---- writes ----------------------------------------------------------------------------
        with m.If(bus.we & reg_space & ~self.busy):
            with m.Switch(bus.addr):
                for name, field in stored.items():
                    with m.Case(REG[name]):
                        m.d.sync += field.eq(bus.wdata)
        m.d.comb += self.start_request.eq(bus.we & reg_space & (bus.addr == REG["CTRL"]) & bus.wdata[0])
        m.d.sync += self.row_bytes.eq(self.shape.W * self.shape.C)

        # ---- START checks on the registers ------------------------------------------------------
        shape, pool = self.shape, self.params.pool
        in_range = [(stored[n] >= 1) & (stored[n] <= register_limit(cfg, n)) for n in SIZE_REGISTERS]
        m.d.comb += self.shape_ok.eq(Cat(*in_range).all() & (shape.pad_top < shape.R)
                                     & (shape.pad_left < shape.S)
                                     & (pool <= register_limit(cfg, "POOL")))
        if pool_start_limit(cfg) < register_limit(cfg, "POOL"):
            m.d.comb += self.pool_bad.eq(pool > pool_start_limit(cfg))

        # ---- reads (one cycle latency) ----------------------------------------------------------
        counters = self.counters.shape().members
        value = Signal(32)
        read_reg = Signal()
        m.d.sync += read_reg.eq(reg_space)
        with m.If(bus.re):
            with m.Switch(bus.addr):
                with m.Case(REG["STATUS"]):
                    m.d.sync += value.eq(self.status)
                for reg in REGISTERS:
                    if reg.name.lower() in counters:
                        with m.Case(reg.index):
                            m.d.sync += value.eq(getattr(self.counters, reg.name.lower()))
                for name, field in stored.items():
                    with m.Case(REG[name]):
                        m.d.sync += value.eq(field)
                with m.Default():
                    m.d.sync += value.eq(0)
        m.d.comb += bus.rdata.eq(value & read_reg.replicate(32))
        return m
