"""ConvEngine: runs a whole conv layer from runtime registers (the accelerator of this project).

    host bus -> registers + memories (input activations, weights, per-channel bias/multiplier/shift)
    start -> LineBuffer (each input pixel read once) -> ConvSequencer (loop nest, one beat a cycle)
          -> MacTile (rows x cols MACs) -> OutputStage (requantise, clamp, 2x2 pool) -> output memory

The loop nest it runs (N = 1 per start; see hw/conv_sequencer.py for the exact order):

    O[e][f][m] = act( B'[m] + sum_{r<R} sum_{s<S} sum_{c<CG} I[U*e + r - pt][U*f + s - pl][c0 + c]
                                                             * W[m][r][s][c0 + c] )

with out-of-image taps reading the input zero point and B' = B - input_zp * sum W folded by the
driver (the tile multiplies raw int8 x int8, so the iCE40 DSPs' 8x8 mode fits). The register map
and address spaces are in hw/registers.py. Performance counters: CYCLES, MAC_CYCLES, STALL_CYCLES.
Illegal register values answer start with an error code in STATUS, never a hang.

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

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import fifo, memory, wiring
from amaranth.lib.wiring import In, Out

from spec.config import AcceleratorConfig, Implementation, Primitives

from .conv_sequencer import ConvSequencer, block_info_layout, layer_shape_layout
from .ice40_products import Ice40ProductArray
from .line_buffer import LineBuffer
from .mac_tile import MacTile
from .output_stage import OutputStage
from .products import ProductArray
from .raw_writer import RawWriter
from .registers import ERROR_CODE, REG, Space

__all__ = ["ConvEngine", "product_array_for", "host_addr_width", "exact_acc_width", "START_LATENCY"]

# Cycles from the accepted CTRL.start write to the ``start`` pulse of the datapath (a register).
START_LATENCY = 1


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


def host_addr_width(cfg: AcceleratorConfig):
    depths = [cfg.act_mem_bytes // 4, cfg.out_mem_bytes // 4, cfg.weight_mem_words * cfg.cols // 4,
              cfg.max_channels, 32]
    return max(depths).bit_length()


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
    host_space : In(3)       address space (hw.registers.Space)
    host_addr : In           word address within the space
    host_wdata : In(32)      write data
    host_we : In(1)          write strobe
    host_re : In(1)          read strobe; ``host_rdata`` is valid in the next cycle
    host_rdata : Out(32)
    busy, done : Out(1)      status (also in the STATUS register)
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
            "host_space": In(3),
            "host_addr": In(host_addr_width(config)),
            "host_wdata": In(32),
            "host_we": In(1),
            "host_re": In(1),
            "host_rdata": Out(32),
            "busy": Out(1),
            "done": Out(1),
        })

    @property
    def config(self):
        return self._config

    @property
    def impl(self):
        return self._impl

    def elaborate(self, platform):
        m = Module()
        cfg = self._config

        m.submodules.line_buffer = lb = LineBuffer(cfg, byte_memories=self._impl.byte_lanes,
                                                      limit_input=True)
        m.submodules.sequencer = seq = ConvSequencer(cfg, lb.addr_width)
        m.submodules.tile = tile = MacTile(cfg, self._product_array)
        raw = cfg.raw_output
        m.submodules.output = out = RawWriter(cfg) if raw else OutputStage(cfg)
        use_info_fifo = cfg.block_info_fifo and not raw
        if use_info_fifo:
            # At most ~6 groups are in flight (pipeline + tile output register), so 16 entries
            # never fill: the FIFO never stalls the sequencer (the cycle model relies on it).
            m.submodules.info_fifo = info_fifo = fifo.SyncFIFOBuffered(
                width=block_info_layout(cfg).size, depth=16)

        # ---- registers -----------------------------------------------------------------------
        shape = Signal(layer_shape_layout(cfg))
        output_zp = Signal(signed(8))
        act_min = Signal(signed(8), init=-128)
        act_max = Signal(signed(8), init=127)
        pool = Signal(2)
        busy = Signal()
        done = Signal()
        error = Signal(8)
        cycles = Signal(32)
        mac_cycles = Signal(32)
        row_bytes = Signal(32)
        m.d.sync += row_bytes.eq(shape.W * shape.C)

        writable = {
            "H": shape.H, "W": shape.W, "C": shape.C, "M": shape.M, "R": shape.R, "S": shape.S,
            "U": shape.U, "PAD_TOP": shape.pad_top, "PAD_LEFT": shape.pad_left, "E": shape.E,
            "F": shape.F, "CG": shape.CG, "C_STEP": shape.c_step, "INPUT_ZP": shape.input_zp,
            "OUTPUT_ZP": output_zp, "ACT_MIN": act_min, "ACT_MAX": act_max, "POOL": pool,
        }
        if raw:
            # The host requantises: the output zero point and clamps are not stored (host writes
            # are accepted and ignored, reads answer 0). POOL stays, for START's check.
            for name in ("OUTPUT_ZP", "ACT_MIN", "ACT_MAX"):
                del writable[name]
        # Range check of every layer register against the generator maxima (at start).
        limits = {
            "H": cfg.max_size, "W": cfg.max_size, "E": cfg.max_size, "F": cfg.max_size,
            "C": cfg.max_channels, "M": cfg.max_channels, "CG": cfg.max_channels,
            "R": cfg.max_kernel, "S": cfg.max_kernel, "U": cfg.max_stride,
        }
        shape_ok = Signal()
        m.d.comb += shape_ok.eq(Cat(*[(writable[n] >= 1) & (writable[n] <= hi)
                                      for n, hi in limits.items()]).all()
                                & (shape.pad_top < shape.R) & (shape.pad_left < shape.S) & (pool != 3))

        host_reg_write = self.host_we & (self.host_space == Space.REGS)
        start_request = host_reg_write & (self.host_addr == REG["CTRL"]) & self.host_wdata[0]
        # ``accept`` is the accepted CTRL.start write (decode, range checks of every layer
        # register); ``start`` reaches the line buffer, sequencer and output stage START_LATENCY
        # cycle later from a register, so that decode does not share a cycle with the resets
        # and loads that ``start`` fans out to. The CYCLES counter runs from ``accept``.
        accept = Signal()
        start = Signal()
        m.d.sync += start.eq(accept)
        with m.If(host_reg_write & ~busy):
            with m.Switch(self.host_addr):
                for name, reg in writable.items():
                    with m.Case(REG[name]):
                        m.d.sync += reg.eq(self.host_wdata)
        if self._impl.registered_start_check:
            # The verdict on the registers as flip-flops (one cycle behind them), so that START
            # is decided by a few LUTs after the CTRL write instead of behind the range
            # compares. Exact when START comes at least two cycles after the last register
            # write, which ``row_bytes`` (a register) has always required: the CnnCfu answers
            # every command before it takes the next one, so it never issues them closer.
            # ceil4(row_bytes) > L is row_bytes > floor4(L): a compare with a constant.
            shape_bad = Signal(init=1)            # the registers' reset values are not a layer
            pool_bad = Signal()
            m.d.sync += [shape_bad.eq(~shape_ok), pool_bad.eq((pool != 0) if raw else 0)]
            row_bad = row_bytes > (cfg.lb_line_bytes & ~3)
        else:
            shape_bad = ~shape_ok
            pool_bad = (pool != 0) if raw else 0
            row_bad = row_bytes + Mux(row_bytes[:2] != 0, 3, 0) > cfg.lb_line_bytes
        with m.If(start_request):
            with m.If(busy):
                m.d.sync += error.eq(ERROR_CODE["BUSY"])
            with m.Elif(shape_bad):
                m.d.sync += [error.eq(ERROR_CODE["BAD_SHAPE"]), done.eq(1)]
            with m.Elif(row_bad):
                m.d.sync += [error.eq(ERROR_CODE["ROW_TOO_WIDE"]), done.eq(1)]
            with m.Elif(pool_bad):
                m.d.sync += [error.eq(ERROR_CODE["POOL_UNSUPPORTED"]), done.eq(1)]
            with m.Else():
                m.d.comb += accept.eq(1)
                m.d.sync += [busy.eq(1), done.eq(0), error.eq(0)]
                if not self._impl.registered_start_check:
                    m.d.sync += cycles.eq(0)
                    if cfg.perf_counters:
                        m.d.sync += mac_cycles.eq(0)

        # ---- memories ------------------------------------------------------------------------
        act_in = memory.Memory(shape=32, depth=cfg.act_mem_bytes // 4, init=[])
        weights = memory.Memory(shape=8 * cfg.cols, depth=cfg.weight_mem_words, init=[])
        m.submodules.act_in = act_in
        m.submodules.weights = weights
        if not raw:
            bias = memory.Memory(shape=32, depth=cfg.max_channels, init=[])
            mult = memory.Memory(shape=31, depth=cfg.max_channels, init=[])
            shift = memory.Memory(shape=6, depth=cfg.max_channels, init=[])
            m.submodules.bias = bias
            m.submodules.mult = mult
            m.submodules.shift = shift
        # Output activations: written a byte at a time by the output stage, read a word at a
        # time by the host. Built as eight 4-bit-wide memories (memory k holds nibble k of every
        # word), each is a block RAM in its native depth x 4 mode (4096 x 4 per DP16KD on ECP5)
        # with no byte enables: a 32-bit memory with byte enables is built from wider, shallower
        # blocks stacked in depth, with a write-enable decode and a read multiplexer in front of
        # and behind the block RAMs, on the host read path and the output stage's write path.
        out_words = cfg.out_mem_bytes // 4
        if self._impl.split_output_memory:
            act_out = [memory.Memory(shape=4, depth=out_words, init=[]) for _ in range(8)]
            for k, mem in enumerate(act_out):
                m.submodules[f"act_out_{k}"] = mem
        else:
            act_out = [memory.Memory(shape=32, depth=out_words, init=[])]
            m.submodules.act_out = act_out[0]

        # Host writes to the memories, directly or through one register stage
        # (``registered_host_writes``): the same address / data for every memory, one enable each.
        if self._impl.registered_host_writes:
            wr_addr = Signal.like(self.host_addr, name="host_wr_addr")
            wr_data = Signal(32, name="host_wr_data")
            m.d.sync += [wr_addr.eq(self.host_addr), wr_data.eq(self.host_wdata)]
        else:
            wr_addr, wr_data = self.host_addr, self.host_wdata

        def wr_enable(value, name):
            if not self._impl.registered_host_writes:
                return value
            reg = Signal(len(value), name=name)
            m.d.sync += reg.eq(value)
            return reg

        def host_write_port(mem, space, granularity=None):
            wp = mem.write_port(granularity=granularity)
            en = wr_enable(self.host_we & (self.host_space == space), f"host_we_{mem_names[space]}")
            m.d.comb += [wp.addr.eq(wr_addr), wp.data.eq(wr_data), wp.en.eq(en)]
            return wp

        mem_names = {Space.ACT_IN: "act_in", Space.BIAS: "bias", Space.MULT: "mult",
                     Space.SHIFT: "shift"}
        host_write_port(act_in, Space.ACT_IN)
        if not raw:
            host_write_port(bias, Space.BIAS)
            host_write_port(mult, Space.MULT)
            host_write_port(shift, Space.SHIFT)
        parts = cfg.cols // 4
        w_wp = weights.write_port(granularity=32)
        part_bits = (parts - 1).bit_length()
        m.d.comb += [
            w_wp.addr.eq(wr_addr >> part_bits),
            w_wp.data.eq(wr_data.replicate(parts)),
            w_wp.en.eq(wr_enable(Cat(*[self.host_we & (self.host_space == Space.WEIGHTS)
                                       & ((self.host_addr[:part_bits] == k) if part_bits else 1)
                                       for k in range(parts)]), "host_we_weights")),
        ]

        # ---- datapath --------------------------------------------------------------------------
        act_rp = act_in.read_port()
        m.d.comb += [
            lb.start.eq(start),
            lb.height.eq(shape.H),
            lb.row_bytes.eq(row_bytes),
            lb.release.eq(seq.release),
            lb.release_limit.eq(seq.release_limit),
            act_rp.addr.eq(lb.act_addr),
            act_rp.en.eq(lb.act_en),
            lb.act_data.eq(act_rp.data),
            lb.rd_en.eq(tile.i.ready),
            lb.rd_addr.eq(seq.lb_addr),
            seq.lb_word.eq(lb.rd_word),
            seq.lb_sel.eq(lb.rd_sel),
            seq.rows_loaded.eq(lb.rows_loaded),
            seq.row_done.eq(lb.row_done),
            seq.row_align.eq(row_bytes[:2]),
            seq.start.eq(start),
            seq.shape.eq(shape),
            seq.advance.eq(tile.i.ready),
        ]
        w_rp = weights.read_port()
        m.d.comb += [
            w_rp.addr.eq(seq.w_addr),
            w_rp.en.eq(tile.i.ready),
            tile.i.valid.eq(seq.beat_valid),
            tile.i.payload.act.eq(seq.beat_act),
            tile.i.payload.weight.eq(w_rp.data),
            tile.i.payload.first.eq(seq.beat_first),
            tile.i.payload.last.eq(seq.beat_last),
        ]
        wiring.connect(m, tile.o, out.blocks)
        if use_info_fifo:
            m.d.comb += [
                info_fifo.w_data.eq(seq.info),
                info_fifo.w_en.eq(seq.info_valid),
                seq.info_ready.eq(info_fifo.w_rdy),
                out.info.payload.eq(info_fifo.r_data),
                out.info.valid.eq(info_fifo.r_rdy),
                info_fifo.r_en.eq(out.info.ready),
            ]
            info_pending = info_fifo.r_rdy
        else:
            # The output stage follows the block order itself (AcceleratorConfig.block_info_fifo).
            m.d.comb += seq.info_ready.eq(1)
            info_pending = Const(0, 1)
        m.d.comb += [out.start.eq(start), out.M.eq(shape.M), out.E.eq(shape.E), out.F.eq(shape.F)]
        if raw:
            # One int32 word per element at its word address.
            if self._impl.split_output_memory:
                for k, mem in enumerate(act_out):
                    wp = mem.write_port()
                    m.d.comb += [wp.addr.eq(out.out_addr), wp.data.eq(out.out_data[4 * k:4 * k + 4]),
                                 wp.en.eq(out.out_en)]
            else:
                out_wp = act_out[0].write_port(granularity=8)
                m.d.comb += [out_wp.addr.eq(out.out_addr), out_wp.data.eq(out.out_data),
                             out_wp.en.eq(out.out_en.replicate(4))]
        else:
            bias_rp = bias.read_port()
            mult_rp = mult.read_port()
            shift_rp = shift.read_port()
            for rp in (bias_rp, mult_rp, shift_rp):
                m.d.comb += [rp.addr.eq(out.param_addr), rp.en.eq(out.param_en)]
            m.d.comb += [
                out.pool.eq(pool),
                out.output_zp.eq(output_zp), out.act_min.eq(act_min), out.act_max.eq(act_max),
                out.bias.eq(bias_rp.data), out.multiplier.eq(mult_rp.data), out.shift.eq(shift_rp.data),
            ]
            # One int8 byte per element at its byte address.
            out_byte = out.out_data.as_unsigned()
            if self._impl.split_output_memory:
                for k, mem in enumerate(act_out):
                    wp = mem.write_port()
                    m.d.comb += [
                        wp.addr.eq(out.out_addr >> 2),
                        wp.data.eq(out_byte[4 * (k % 2):4 * (k % 2) + 4]),
                        wp.en.eq(out.out_en & (out.out_addr[:2] == k // 2)),
                    ]
            else:
                out_wp = act_out[0].write_port(granularity=8)
                m.d.comb += [
                    out_wp.addr.eq(out.out_addr >> 2),
                    out_wp.data.eq(out_byte.replicate(4)),
                    out_wp.en.eq((out.out_en << out.out_addr[:2])[:4]),
                ]

        # ---- completion and counters -------------------------------------------------------
        # Compared for equality only and at most ~6 groups are in flight: 8-bit counters suffice.
        blocks_issued = Signal(8)
        blocks_done = Signal(8)
        with m.If(start):
            m.d.sync += [blocks_issued.eq(0), blocks_done.eq(0)]
        with m.Else():
            m.d.sync += [blocks_issued.eq(blocks_issued + seq.info_valid),
                         blocks_done.eq(blocks_done + out.block_done)]
        with m.If(busy):
            m.d.sync += cycles.eq(cycles + 1)
            if cfg.perf_counters:
                m.d.sync += mac_cycles.eq(mac_cycles + (tile.i.valid & tile.i.ready))
            if self._impl.registered_start_check:
                # The counters restart from ``start`` (a flip-flop, one cycle after ``accept``)
                # with the values they would have had: ``accept`` then only drives busy, done,
                # error and ``start``, not the 64 counter enables. They differ only in the cycle
                # after the CTRL write, when the CnnCfu reads STATUS, never CYCLES.
                with m.If(start):
                    m.d.sync += cycles.eq(1)
                    if cfg.perf_counters:
                        m.d.sync += mac_cycles.eq(tile.i.valid & tile.i.ready)
            with m.If(start):
                pass    # the datapath starts now: its status flags are still the last layer's
            with m.Elif(seq.error_span):
                m.d.sync += [busy.eq(0), done.eq(1), error.eq(ERROR_CODE["LINE_BUFFER_SPAN"])]
            with m.Elif(~seq.busy & (blocks_issued == blocks_done) & out.idle & ~tile.o.valid
                        & ~info_pending):
                m.d.sync += [busy.eq(0), done.eq(1)]
                if raw:
                    with m.If(out.overflow):
                        m.d.sync += error.eq(ERROR_CODE["OUTPUT_TOO_BIG"])
        m.d.comb += [self.busy.eq(busy), self.done.eq(done)]

        # ---- host reads (one cycle latency) ---------------------------------------------------
        out_rps = [mem.read_port() for mem in act_out]
        for rp in out_rps:
            m.d.comb += [rp.addr.eq(self.host_addr), rp.en.eq(self.host_re)]
        # The source of the read (output memory or register) is decoded when the read is issued,
        # so behind the output memory's block RAMs ``host_rdata`` is one AND-OR per bit.
        read_out = Signal()
        read_reg = Signal()
        reg_value = Signal(32)
        m.d.sync += [read_out.eq(self.host_space == Space.ACT_OUT),
                     read_reg.eq(self.host_space == Space.REGS)]
        with m.If(self.host_re):
            with m.Switch(self.host_addr):
                with m.Case(REG["STATUS"]):
                    m.d.sync += reg_value.eq(Cat(busy, done, Const(0, 6), error))
                with m.Case(REG["CYCLES"]):
                    m.d.sync += reg_value.eq(cycles)
                if cfg.perf_counters:
                    with m.Case(REG["MAC_CYCLES"]):
                        m.d.sync += reg_value.eq(mac_cycles)
                    with m.Case(REG["STALL_CYCLES"]):
                        m.d.sync += reg_value.eq(cycles - mac_cycles)
                for name, reg in writable.items():
                    with m.Case(REG[name]):
                        m.d.sync += reg_value.eq(reg)
                with m.Default():
                    m.d.sync += reg_value.eq(0)
        out_word = Cat(*[rp.data for rp in out_rps])
        m.d.comb += self.host_rdata.eq((out_word & read_out.replicate(32))
                                       | (reg_value & read_reg.replicate(32)))
        if self._impl.spram and platform is not None:
            if not hasattr(platform, "request_spram"):
                raise ValueError(f"spram = {self._impl.spram!r} needs a platform with the iCE40 memory "
                                 f"mapping (hw.ice40_spram.Ice40MemoryMapping), not "
                                 f"{type(platform).__name__}")
            for name in self._impl.spram:
                platform.request_spram(m.submodules[name])
        return m
