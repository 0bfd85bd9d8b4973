"""ConvEngine: runs a whole conv layer from runtime registers (the accelerator of this project).

    host bus -> registers + memories (input activations, weights, per-channel bias/multiplier/shift)
    start -> LineBuffer (each input pixel read once) -> sequencer (loop nest, one beat a cycle)
          -> MacTile (rows x cols MACs) -> OutputStage (requantise, clamp, 2x2 pool) -> output memory

The loop nest it runs (N = 1 per start; see hw/conv_sequencer.py for the exact order):

    O[e][f][m] = act( B'[m] + sum_{r<R} sum_{s<S} sum_{c<CG} I[U*e + r - pt][U*f + s - pl][c0 + c]
                                                             * W[m][r][s][c0 + c] )

with out-of-image taps reading the input zero point and B' = B - input_zp * sum W folded by the
driver (the tile multiplies raw int8 x int8, so the iCE40 DSPs' 8x8 mode fits). The register map
and address spaces are in spec/registers.py. Performance counters: CYCLES, MAC_CYCLES, STALL_CYCLES.
Illegal register values answer start with an error code in STATUS, never a hang.

The host side, one component each (the variants are chosen in ``ConvEngine._variants`` only):

    host bus (hw/host_bus.py) --fan_out--> LayerRegisters (hw/layer_registers.py: REGS space)
                                       --> DirectHostWrites | RegisteredHostWrites (hw/host_writes.py)
                                           --> EngineMemories (hw/engine_memories.py)
                                       --> OutputMemory | NibbleOutputMemory (hw/output_memory.py)
    LayerRegisters -> CombinationalStartCheck | RegisteredStartCheck (hw/start_check.py)
                   -> LayerControl (hw/layer_control.py: busy, done, error, ``start``)
                   -> PerfCounters (hw/perf_counters.py)

Area options for small FPGAs (AcceleratorConfig fields, all off by default; docs/up5k.md):
``requant_mul_cycles`` (digit-serial requantizer), ``block_info_fifo = False`` (the output stage walks
the block order itself), ``output_block_copy = False`` (the output stage serialises from the tile), and
an ``acc_width`` down to :func:`exact_acc_width`. The zero point and clamps reach the requantizer
as layer constants (registers), not with every element.

``output = Output.RAW`` (raw output) replaces the OutputStage by a RawWriter (hw/raw_writer.py):

    MacTile -> RawWriter -> output memory: word (e*F + f)*M + m = sum_{r,s,c} I * W  (int32)

and there are no BIAS/MULT/SHIFT memories; OUTPUT_ZP, ACT_MIN, ACT_MAX are not stored (writes are
accepted and ignored, reads answer 0); START refuses POOL != 0 (POOL_UNSUPPORTED); a layer with
E*F*M above the output memory stops with OUTPUT_TOO_BIG (found by the writer, which writes nothing
beyond the memory). ``perf_counters = False`` drops MAC_CYCLES and STALL_CYCLES (they read 0).
"""

from types import SimpleNamespace

from amaranth.hdl import Const, Module
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out

from spec.config import AcceleratorConfig, Implementation, Primitives

from .conv_sequencer import block_info_layout, sequencer_for
from .engine_memories import EngineMemories
from .host_bus import HostBusSignature, fan_out, host_addr_width
from .host_writes import DirectHostWrites, RegisteredHostWrites
from .ice40_products import Ice40ProductArray
from .layer_control import START_LATENCY, LayerControl
from .layer_registers import LayerRegisters
from .line_buffer import LineBuffer
from .mac_tile import MacTile
from .output_memory import NibbleOutputMemory, OutputMemory
from .output_stage import OutputStage
from .perf_counters import PerfCounters, counters_layout
from .products import ProductArray
from .raw_writer import RawWriter
from .start_check import CombinationalStartCheck, RegisteredStartCheck

__all__ = ["ConvEngine", "product_array_for", "host_addr_width", "exact_acc_width", "START_LATENCY"]

# The block-info FIFO: at most ~6 groups are in flight (pipeline + tile output register), so 16
# entries never fill: the FIFO never stalls the sequencer (the cycle model relies on it).
INFO_FIFO_DEPTH = 16


def exact_acc_width(cfg: AcceleratorConfig):
    """Smallest signed accumulator width that never wraps for any layer the registers accept.

    One output sums at most R * S * CG <= max_kernel^2 * max_channels int8 x int8 products, each
    of magnitude <= 2^14, so that many times 2^14 must fit (the bias is added later, in the
    requantizer's 32-bit adder). An accumulator of at least this width gives exactly the int32
    result, so ``acc_width`` may be narrowed to it (fewer tile and output-stage flip-flops)."""
    worst = cfg.max_kernel ** 2 * cfg.max_channels * 2 ** (cfg.act_width + cfg.weight_width - 2)
    return min(32, worst.bit_length() + 1)


def product_array_for(impl: Implementation):
    """The MAC tile's product array for ``impl``: SB_MAC16 pairs on iCE40, else generic."""
    return Ice40ProductArray if impl.primitives is Primitives.ICE40 else ProductArray


class ConvEngine(wiring.Component):
    """The conv engine with a simple 32-bit host bus.

    Parameters
    ----------
    config : AcceleratorConfig
        What is built (geometry, limits, variants).
    impl : Implementation
        How it is mapped onto the FPGA: the product array (``Primitives.ICE40``: SB_MAC16), the
        memories placed in SPRAM (registered with the platform's ``request_spram``, see
        hw/ice40_spram.py; without a platform they stay ``lib.memory`` memories), byte-wide
        line-buffer lanes, and the registered host writes / START checks.
    product_array : callable, optional
        Overrides the product array ``impl`` selects (tests pass a specific iCE40 primitive).

    Members
    -------
    host : In(HostBusSignature)   the host bus (hw/host_bus.py): spaces and registers of
                                  spec/registers.py; read data one cycle after ``re``
    busy, done : Out(1)           status (also in the STATUS register)
    """

    def __init__(self, config: AcceleratorConfig = AcceleratorConfig(),
                 impl: Implementation = Implementation(), *, product_array=None):
        if not isinstance(config, AcceleratorConfig):
            raise TypeError(f"config must be an AcceleratorConfig, not {config!r}")
        if not isinstance(impl, Implementation):
            raise TypeError(f"impl must be an Implementation, not {impl!r}")
        if config.cols % 4:
            raise ValueError(f"cols = {config.cols} is not supported by the conv engine: weight rows are "
                             f"written as 32-bit words, so cols must be a multiple of 4")
        if config.act_width != 8 or config.weight_width != 8:
            raise ValueError("the conv engine implements TFLite int8: act_width = weight_width = 8 are "
                             f"required, not {config.act_width}/{config.weight_width}")
        if not exact_acc_width(config) <= config.acc_width <= 32:
            raise ValueError(f"acc_width = {config.acc_width} is out of range for the conv engine: must be "
                             f"in [{exact_acc_width(config)}, 32] (int32 results; the lower bound is the "
                             f"width no layer of max_kernel = {config.max_kernel}, max_channels = "
                             f"{config.max_channels} can overflow)")
        self._config = config
        self._impl = impl
        self._product_array = product_array_for(impl) if product_array is None else product_array
        super().__init__({
            "host": In(HostBusSignature(host_addr_width(config))),
            "busy": Out(1),
            "done": Out(1),
        })

    @property
    def config(self):
        return self._config

    @property
    def impl(self):
        return self._impl

    @property
    def product_array(self):
        """The tile's product array factory (from ``impl`` unless given explicitly)."""
        return self._product_array

    def _variants(self):
        """Every variant of the engine, chosen here from ``config`` and ``impl`` (and only here)."""
        cfg, impl = self._config, self._impl
        raw = cfg.raw_output
        return SimpleNamespace(
            start_check=RegisteredStartCheck if impl.registered_start_check else CombinationalStartCheck,
            host_writes=RegisteredHostWrites if impl.registered_host_writes else DirectHostWrites,
            output_memory=NibbleOutputMemory if impl.split_output_memory else OutputMemory,
            writer=RawWriter if raw else OutputStage,
            connect_writer=_connect_raw_writer if raw else _connect_requant_writer,
            info_fifo=cfg.block_info_fifo and not raw,
        )

    def elaborate(self, platform):
        m = Module()
        cfg, v = self._config, self._variants()
        aw = host_addr_width(cfg)

        # ---- host side: register file, START check, layer state, counters, memories -----------
        m.submodules.registers = regs = LayerRegisters(cfg, aw, counters_layout(cfg))
        m.submodules.start_check = check = v.start_check(cfg)
        m.submodules.control = ctrl = LayerControl()
        m.submodules.counters = counters = PerfCounters(cfg)
        m.submodules.host_writes = writes = v.host_writes(cfg, aw)
        m.submodules.memories = mems = EngineMemories(cfg, aw)
        m.submodules.output_memory = out_mem = v.output_memory(cfg.out_mem_bytes // 4, aw)
        fan_out(m, self.host, [regs.bus, writes.bus, out_mem.bus])
        m.d.comb += mems.writes.eq(writes.mem)

        # ---- datapath ----------------------------------------------------------------------------
        m.submodules.line_buffer = lb = LineBuffer(cfg, byte_memories=self._impl.byte_lanes,
                                                      limit_input=True)
        m.submodules.sequencer = seq = sequencer_for(cfg)(cfg, lb.addr_width)
        m.submodules.tile = tile = MacTile(cfg, self._product_array)
        m.submodules.output = out = v.writer(cfg)
        _connect_datapath(m, regs, mems, lb, seq, tile, start=ctrl.start)
        wiring.connect(m, tile.o, out.blocks)
        if v.info_fifo:
            m.submodules.info_fifo = info_fifo = fifo.SyncFIFOBuffered(
                width=block_info_layout(cfg).size, depth=INFO_FIFO_DEPTH)
            wiring.connect(m, seq.info, info_fifo.w_stream)
            wiring.connect(m, info_fifo.r_stream, out.info)
            info_pending = info_fifo.r_rdy
        else:
            # The output side follows the block order itself (AcceleratorConfig.block_info_fifo).
            m.d.comb += seq.info.ready.eq(1)
            info_pending = Const(0, 1)
        m.d.comb += [out.start.eq(ctrl.start), out.M.eq(regs.shape.M), out.E.eq(regs.shape.E),
                     out.F.eq(regs.shape.F)]
        overflow = v.connect_writer(m, out, regs, mems, out_mem)

        # ---- START, completion, counters ---------------------------------------------------------
        beat = tile.i.valid & tile.i.ready
        m.d.comb += [
            regs.busy.eq(ctrl.busy), regs.status.eq(ctrl.status), regs.counters.eq(counters.counters),
            check.shape_ok.eq(regs.shape_ok), check.pool_bad.eq(regs.pool_bad),
            check.row_bytes.eq(regs.row_bytes), check.accept.eq(ctrl.accept), check.start.eq(ctrl.start),
            ctrl.request.eq(regs.start_request), ctrl.bad.eq(check.bad), ctrl.code.eq(check.code),
            ctrl.seq_busy.eq(seq.busy), ctrl.error_span.eq(seq.error_span),
            ctrl.block_issued.eq(seq.info.valid), ctrl.block_done.eq(out.block_done),
            ctrl.writer_idle.eq(out.idle), ctrl.tile_busy.eq(tile.o.valid),
            ctrl.info_pending.eq(info_pending), ctrl.overflow.eq(overflow),
            counters.busy.eq(ctrl.busy), counters.beat.eq(beat),
            counters.clear.eq(check.clear_counters), counters.load.eq(check.load_counters),
            self.busy.eq(ctrl.busy), self.done.eq(ctrl.done),
        ]
        self._request_spram(platform, {**mems.memories, **out_mem.memories})
        return m

    def _request_spram(self, platform, memories):
        """Place the memories named in ``impl.spram`` in SPRAM (hw/ice40_spram.py)."""
        if not self._impl.spram or platform is None:
            return
        if not hasattr(platform, "request_spram"):
            raise ValueError(f"spram = {self._impl.spram!r} needs a platform with the iCE40 memory "
                             f"mapping (hw.ice40_spram.Ice40MemoryMapping), not "
                             f"{type(platform).__name__}")
        for name in self._impl.spram:
            platform.request_spram(memories[name])


def _connect_datapath(m, regs, mems, lb, seq, tile, *, start):
    """Line buffer <- input memory, sequencer <- line buffer lanes, tile <- sequencer beats and the
    weight memory (its read data arrives with the beat: the sequencer issues ``w_addr`` one stage
    early)."""
    shape, row_bytes = regs.shape, regs.row_bytes
    wiring.connect(m, seq.window, lb.window)
    wiring.connect(m, seq.lanes, lb.read)
    m.d.comb += [
        lb.start.eq(start), lb.height.eq(shape.H), lb.row_bytes.eq(row_bytes),
        mems.act_addr.eq(lb.act_addr), mems.act_en.eq(lb.act_en), lb.act_data.eq(mems.act_data),
        seq.row_align.eq(row_bytes[:2]),
        seq.start.eq(start), seq.shape.eq(shape), seq.advance.eq(tile.i.ready),
        mems.w_addr.eq(seq.w_addr), mems.w_en.eq(tile.i.ready),
        tile.i.valid.eq(seq.beat_valid),
        tile.i.payload.act.eq(seq.beat_act), tile.i.payload.weight.eq(mems.w_data),
        tile.i.payload.first.eq(seq.beat_first), tile.i.payload.last.eq(seq.beat_last),
    ]


def _connect_requant_writer(m, out, regs, mems, out_mem):
    """OutputStage: the per-channel parameters and layer constants in, one int8 byte per element
    at its byte address out (byte lane ``addr mod 4`` of word ``addr // 4``). No overflow."""
    p = regs.params
    m.d.comb += [
        mems.param_addr.eq(out.param_addr), mems.param_en.eq(out.param_en),
        out.bias.eq(mems.bias), out.multiplier.eq(mems.mult), out.shift.eq(mems.shift),
        out.pool.eq(p.pool), out.output_zp.eq(p.output_zp), out.act_min.eq(p.act_min),
        out.act_max.eq(p.act_max),
        out_mem.w_addr.eq(out.out_addr >> 2), out_mem.w_data.eq(out.out_data.as_unsigned().replicate(4)),
        out_mem.w_en.eq((out.out_en << out.out_addr[:2])[:4]),
    ]
    return Const(0, 1)


def _connect_raw_writer(m, out, regs, mems, out_mem):
    """RawWriter: one int32 word per element at its word address; its ``overflow`` is returned."""
    m.d.comb += [out_mem.w_addr.eq(out.out_addr), out_mem.w_data.eq(out.out_data),
                 out_mem.w_en.eq(out.out_en.replicate(4))]
    return out.overflow
