"""LineBuffer: streams the input feature map row by row into a circular buffer of input lines.

Each input pixel is read from the activation memory exactly once per layer: the filler walks the
NHWC input in order (row y = H loop, then W*C bytes), one byte per cycle, and writes row y into
line slot ``y mod lb_lines``. The conv sequencer reads ``rows`` bytes per cycle, one for each output
pixel of the tile, at independent addresses, so the buffer keeps one copy per tile row (written
together, read separately). Memory cost: rows * lb_lines * lb_line_bytes bytes.

Flow control is by row numbers, no handshake per byte:
  * ``rows_loaded`` counts the input rows that are completely in the buffer;
  * ``release`` is the lowest row the sequencer may still read; row y may be written only when
    ``y < release + lb_lines``, i.e. when its slot holds no row the sequencer still needs.

Line address of byte (y, x, c): ``(y mod lb_lines) * lb_line_bytes + x * C + c``.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from .config import AcceleratorConfig

__all__ = ["LineBuffer"]


class LineBuffer(wiring.Component):
    """Circular line buffer with a byte-per-cycle filler and ``rows`` independent read lanes.

    Members
    -------
    start : In(1)          pulse: forget all rows, start filling row 0 of a new layer
    height : In            H of the layer (rows to load)
    row_bytes : In         W * C of the layer (bytes per input row)
    release : In           lowest input row still needed by the sequencer
    rows_loaded : Out      input rows completely written
    act_addr, act_en : Out / act_data : In   read port of the 32-bit activation memory
    rd_en : In(1)          read enable of the lanes (the sequencer's pipeline advance)
    rd_addr : In(array)    line address per lane
    rd_data : Out(array)   byte per lane, one cycle after rd_addr (while rd_en)
    """

    def __init__(self, config: AcceleratorConfig):
        self._config = config
        cfg = config
        self.depth = cfg.lb_lines * cfg.lb_line_bytes
        self.addr_width = (self.depth - 1).bit_length() or 1
        size_width = cfg.max_size.bit_length() + 1
        act_words = cfg.act_mem_bytes // 4
        super().__init__({
            "start": In(1),
            "height": In(size_width),
            "row_bytes": In(cfg.lb_line_bytes.bit_length()),
            "release": In(size_width),
            "rows_loaded": Out(size_width),
            "act_addr": Out(max(1, (act_words - 1).bit_length())),
            "act_en": Out(1),
            "act_data": In(32),
            "rd_en": In(1),
            "rd_addr": In(data.ArrayLayout(self.addr_width, cfg.rows)),
            "rd_data": Out(data.ArrayLayout(8, cfg.rows)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        line_shift = (cfg.lb_line_bytes - 1).bit_length()
        slot_mask = cfg.lb_lines - 1

        # Filler state: the row being loaded, the byte within it, the byte address in the
        # activation memory (NHWC rows are contiguous, so it simply counts up).
        row = Signal.like(self.rows_loaded)
        col = Signal(self.row_bytes.shape())
        src = Signal(len(self.act_addr) + 2)
        slot = Signal(range(cfg.lb_lines))
        # Write stage: the byte selected from the word read in the previous cycle.
        wr_valid = Signal()
        wr_lane = Signal(2)
        wr_addr = Signal(self.addr_width)
        wr_last = Signal()

        can_fill = (row < self.height) & (row < self.release + cfg.lb_lines)
        m.d.comb += [
            self.act_addr.eq(src >> 2),
            self.act_en.eq(1),
        ]
        m.d.sync += wr_valid.eq(0)
        with m.If(self.start):
            m.d.sync += [row.eq(0), col.eq(0), src.eq(0), slot.eq(0), self.rows_loaded.eq(0)]
        with m.Elif(can_fill):
            m.d.sync += [
                wr_valid.eq(1),
                wr_lane.eq(src[:2]),
                wr_addr.eq((slot << line_shift) | col),
                wr_last.eq(col == self.row_bytes - 1),
                src.eq(src + 1),
            ]
            with m.If(col == self.row_bytes - 1):
                m.d.sync += [col.eq(0), row.eq(row + 1), slot.eq((slot + 1) & slot_mask)]
            with m.Else():
                m.d.sync += col.eq(col + 1)
        with m.If(wr_valid & wr_last & ~self.start):
            m.d.sync += self.rows_loaded.eq(self.rows_loaded + 1)

        wr_data = Signal(8)
        m.d.comb += wr_data.eq(self.act_data.word_select(wr_lane, 8))
        for lane in range(cfg.rows):
            mem = memory.Memory(shape=8, depth=self.depth, init=[])
            m.submodules[f"lane{lane}"] = mem
            wp = mem.write_port()
            rp = mem.read_port()
            m.d.comb += [
                wp.addr.eq(wr_addr),
                wp.data.eq(wr_data),
                wp.en.eq(wr_valid & ~self.start),
                rp.addr.eq(self.rd_addr[lane]),
                rp.en.eq(self.rd_en),
                self.rd_data[lane].eq(rp.data),
            ]
        return m
