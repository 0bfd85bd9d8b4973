"""LineBuffer: streams the input feature map row by row into a circular buffer of input lines.

Each input pixel is read from the activation memory exactly once per layer: the filler walks the
NHWC input in order (row y = H loop, then its W*C bytes), one 32-bit word (4 bytes) per cycle,
and writes row y into line slot ``y mod lb_lines``. The conv sequencer reads ``rows`` bytes per
cycle, one for each output pixel of the tile, at independent addresses, so the buffer keeps one
copy per tile row (written together, read separately). Memory: rows * lb_lines * lb_line_bytes.

Rows keep the alignment they have in the activation memory, so every source word lands on a
line word with byte enables and no byte rotation: row y starts at byte ``a_y = (y * W * C) mod 4``
of its line, and a word that holds the end of row y and the start of row y + 1 is written twice
(one cycle per row). Line address of byte (y, x, c):

    (y mod lb_lines) * lb_line_bytes + a_y + x * C + c,    a_y = ((y mod 4) * (W*C mod 4)) mod 4

Flow control is by row numbers, no handshake per byte:
  * ``rows_loaded`` counts the input rows that are completely in the buffer;
  * ``release`` is the lowest row the sequencer may still read; row y may be written only when
    ``y < release + lb_lines``, i.e. when its slot holds no row the sequencer still needs.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, Value
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from spec.config import AcceleratorConfig
from spec.latency import LB_READ_LATENCY, LB_ROW_LATENCY

__all__ = ["LineBuffer", "row_alignment", "row_window_signature", "lane_read_signature"]


def row_alignment(y, row_bytes):
    """Byte offset a_y = ((y mod 4) * (row_bytes mod 4)) mod 4 of input row y inside its line.

    Works on ints and Amaranth values. Only two bits of each factor matter, so the product mod 4
    is written as gates (bit 0 = y0 & b0, bit 1 = (y1 & b0) ^ (y0 & b1)) rather than a multiplier
    and a wide mask: it sits in the sequencer's address stage, which feeds the line-buffer BRAMs."""
    if isinstance(y, int) and isinstance(row_bytes, int):
        y0, y1, b0, b1 = y & 1, (y >> 1) & 1, row_bytes & 1, (row_bytes >> 1) & 1
        return (y0 & b0) | (((y1 & b0) ^ (y0 & b1)) << 1)
    y, row_bytes = Value.cast(y), Value.cast(row_bytes)
    y0, y1, b0, b1 = y[0], y[1], row_bytes[0], row_bytes[1]
    return Cat(y0 & b0, (y1 & b0) ^ (y0 & b1))


def row_window_signature(cfg: AcceleratorConfig):
    """The input-row window between a reader (the sequencer, whose side this is) and the line buffer.

    Members
    -------
    release : Out          lowest input row the reader still needs
    limit : Out            release + lb_lines, precomputed by the reader (used instead of
                           ``release`` with ``limit_input=True``: no adder in front of the
                           filler's write decision)
    rows_loaded : In       input rows completely written (counts a row ROW_LATENCY = 2 cycles
                           after the filler presents the address of its last word)
    row_done : In(1)       rows_loaded increments at the next clock edge (rows_loaded's next value
                           is rows_loaded + row_done, except at ``start``)
    """
    size_width = cfg.max_size.bit_length() + 1
    return wiring.Signature({"release": Out(size_width), "limit": Out(size_width + 1),
                             "rows_loaded": In(size_width), "row_done": In(1)})


def lane_read_signature(cfg: AcceleratorConfig, addr_width: int):
    """The lanes' read port of the line buffer, seen from the reader.

    Members
    -------
    en : Out(1)            read enable of the lanes (the sequencer's pipeline advance)
    addr : Out(array)      line byte address per lane
    data : In(array)       byte per lane, READ_LATENCY = 1 cycle after ``addr`` (while ``en``)
    word, sel : In(array)  the same as the lane's whole line word and the byte's index in it
                           (data = byte ``sel`` of ``word``), for a reader that registers the word
                           straight from the block RAMs and selects the byte afterwards
    """
    return wiring.Signature({"en": Out(1), "addr": Out(data.ArrayLayout(addr_width, cfg.rows)),
                             "data": In(data.ArrayLayout(8, cfg.rows)),
                             "word": In(data.ArrayLayout(32, cfg.rows)),
                             "sel": In(data.ArrayLayout(2, cfg.rows))})


class LineBuffer(wiring.Component):
    """Circular line buffer with a word-per-cycle filler and ``rows`` independent byte read lanes.

    Members
    -------
    start : In(1)          pulse: forget all rows, start filling row 0 of a new layer
    height : In            H of the layer (rows to load)
    row_bytes : In         W * C of the layer (bytes per input row)
    window : In(row_window_signature)   the rows the reader (the sequencer) still needs and
                           the rows this buffer holds
    act_addr, act_en : Out / act_data : In   read port of the 32-bit activation memory
    read : In(lane_read_signature)      the lanes' reads
    """

    READ_LATENCY = LB_READ_LATENCY   # spec/latency.py: rd_addr -> rd_data
    ROW_LATENCY = LB_ROW_LATENCY     # spec/latency.py: last word's address -> rows_loaded

    def __init__(self, config: AcceleratorConfig, *, byte_memories=True, limit_input=False):
        self._byte_memories = bool(byte_memories)
        self._limit_input = bool(limit_input)
        self._config = config
        cfg = config
        self.depth = cfg.lb_lines * cfg.lb_line_bytes
        self.addr_width = (self.depth - 1).bit_length() or 1
        size_width = cfg.max_size.bit_length() + 1
        act_words = cfg.act_mem_bytes // 4
        super().__init__({
            "start": In(1),
            "height": In(size_width),
            "row_bytes": In(cfg.lb_line_bytes.bit_length() + 1),
            "window": In(row_window_signature(cfg)),
            "act_addr": Out(max(1, (act_words - 1).bit_length())),
            "act_en": Out(1),
            "act_data": In(32),
            "read": In(lane_read_signature(cfg, self.addr_width)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        line_word_shift = (cfg.lb_line_bytes // 4 - 1).bit_length()
        byte_width = (cfg.act_mem_bytes - 1).bit_length() + 1

        # Filler state: the source word, the row being loaded and its byte range [start, end).
        word = Signal(byte_width)
        row = Signal.like(self.window.rows_loaded)
        row_start = Signal(byte_width)
        slot = Signal(range(cfg.lb_lines))
        row_end = Signal(byte_width + 1)
        m.d.comb += row_end.eq(row_start + self.row_bytes)
        word_first = word << 2
        word_end = word_first + 4
        row_ends_here = row_end <= word_end

        # Write stage (one cycle after the read of ``word``): address and byte enables.
        wr_valid = Signal()
        wr_addr = Signal(self.addr_width - 2)
        wr_mask = Signal(4)
        wr_last = Signal()

        limit = self.window.limit if self._limit_input else self.window.release + cfg.lb_lines
        can_fill = (row < self.height) & (row < limit)
        m.d.comb += [self.act_addr.eq(word), self.act_en.eq(1)]
        m.d.sync += wr_valid.eq(0)
        with m.If(self.start):
            m.d.sync += [word.eq(0), row.eq(0), row_start.eq(0), slot.eq(0), self.window.rows_loaded.eq(0)]
        with m.Elif(can_fill):
            mask = Signal(4)
            for k in range(4):
                byte = word_first + k
                m.d.comb += mask[k].eq((byte >= row_start) & (byte < row_end))
            line_word = word - (row_start >> 2)
            m.d.sync += [
                wr_valid.eq(1),
                wr_addr.eq((slot << line_word_shift) | line_word[:line_word_shift]
                           if line_word_shift else slot),
                wr_mask.eq(mask),
                wr_last.eq(row_ends_here),
            ]
            with m.If(row_ends_here):
                m.d.sync += [row.eq(row + 1), row_start.eq(row_end),
                             slot.eq(Mux(slot == cfg.lb_lines - 1, 0, slot + 1))]
                # A word holding the start of the next row is written again for that row.
                with m.If(row_end == word_end):
                    m.d.sync += word.eq(word + 1)
            with m.Else():
                m.d.sync += word.eq(word + 1)
        # A row is counted ROW_LATENCY = 2 cycles after its last word's address: the write-stage
        # registers (wr_*), then rows_loaded.
        m.d.comb += self.window.row_done.eq(wr_valid & wr_last & ~self.start)
        with m.If(self.window.row_done):
            m.d.sync += self.window.rows_loaded.eq(self.window.rows_loaded + 1)

        # With ``byte_memories`` each lane is four byte-wide memories (byte k of every line word
        # in memory k) rather than one 32-bit memory with byte enables: on ECP5 a byte-wide
        # memory is a block RAM in its native 2048 x 9 mode, while the 32-bit one was built from
        # 1024 x 18 blocks stacked in depth with a multiplexer behind them, on the lane's read
        # path (block RAM -> the sequencer's S3 register), the engine's critical path. On iCE40
        # (4 kbit EBRs, at least one per memory) it would take more EBRs than the UP5K has.
        for lane in range(cfg.rows):
            byte_sel = Signal(2, name=f"lane{lane}_byte_sel")
            if self._byte_memories:
                lane_bytes = []
                for k in range(4):
                    mem = memory.Memory(shape=8, depth=self.depth // 4, init=[])
                    m.submodules[f"lane{lane}_byte{k}"] = mem
                    wp = mem.write_port()
                    rp = mem.read_port()
                    m.d.comb += [
                        wp.addr.eq(wr_addr),
                        wp.data.eq(self.act_data.word_select(k, 8)),
                        wp.en.eq(wr_valid & ~self.start & wr_mask[k]),
                        rp.addr.eq(self.read.addr[lane] >> 2),
                        rp.en.eq(self.read.en),
                    ]
                    lane_bytes.append(rp.data)
                word = Cat(*lane_bytes)
            else:
                mem = memory.Memory(shape=32, depth=self.depth // 4, init=[])
                m.submodules[f"lane{lane}"] = mem
                wp = mem.write_port(granularity=8)
                rp = mem.read_port()
                m.d.comb += [
                    wp.addr.eq(wr_addr),
                    wp.data.eq(self.act_data),
                    wp.en.eq(Mux(wr_valid & ~self.start, wr_mask, 0)),
                    rp.addr.eq(self.read.addr[lane] >> 2),
                    rp.en.eq(self.read.en),
                ]
                word = rp.data
            # Synchronous read ports: the lane's word is READ_LATENCY = 1 cycle after rd_addr.
            if rp.domain == "comb" or self.READ_LATENCY != 1:
                raise AssertionError(f"line buffer read port in domain {rp.domain!r}, spec/latency.py "
                                     f"LB_READ_LATENCY = {self.READ_LATENCY}")
            m.d.comb += [self.read.data[lane].eq(word.word_select(byte_sel, 8)),
                         self.read.word[lane].eq(word), self.read.sel[lane].eq(byte_sel)]
            with m.If(self.read.en):
                m.d.sync += byte_sel.eq(self.read.addr[lane][:2])
        return m
