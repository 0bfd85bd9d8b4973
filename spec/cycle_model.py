"""Cycle model of the conv engine: predicts the RTL's CYCLES and MAC_CYCLES counters exactly.

The engine's timing depends on three things, and this model steps exactly those, one clock at a
time, without any data:

1. the line-buffer filler: one 32-bit word of the NHWC input per cycle (a word that holds the end of
   one row and the start of the next is visited twice), allowed to write row y only while
   ``y < release + lb_lines``; row y counts as loaded two cycles after its last word is read;
2. the sequencer: one beat per cycle, a block of ``rows`` output pixels x one group of ``cols``
   output channels taking R*S*CG beats; a block starts only when the input rows it needs are
   loaded, and its last beat waits until the lookahead has the next block's lanes (rows + 4 cycles
   after the block was loaded, LOOKAHEAD; only blocks shorter than that ever wait). The small
   sequencer (``config.lookahead`` = 0) has no lookahead: after a block's last beat it steps
   the next block's lanes, and that block's first beat comes SMALL_GAP(rows) cycles later (its
   input-row window, ``release``, changes 2 cycles after that last beat); it also has no S3
   operand register, so its beats reach the tile one cycle earlier;
3. the output stage: rows*cols cycles per finished block (one element per cycle); a block that
   finishes while the previous one is still being serialised holds the tile, which stalls the
   whole sequencer pipeline.

After the last block has been serialised, the tail is a fixed latency: parameter read (1), address
stage (1), requantizer (10), pooling/write stages (POOL_STAGES = 5), and the done check (1).
CYCLES starts START_LATENCY = 1 cycle before the datapath (the registered start pulse).

With the digit-serial requantizer (``config.requant_mul_cycles`` = k > 1, see ``requant_cycles``)
the output stage is slower: the requantizer takes one element per ``requant_cycles(config)``
cycles, and the serializer and its two stages (O1, O2) advance only when the requantizer takes
O2's element (elements outside the layer or the pooled region pass without it). The model then
steps those stages and the serial unit (bias, lshift, the unit, then round/rshift/zp/clamp and
the pooling stage) cycle by cycle too, and the tail is the cycle that pipeline is empty.
Without the output stage's block copy (``config.output_block_copy`` = 0) the serializer reads the
tile's output register, which stays occupied (holding the tile) until the block's last element.

With raw output (``not config.raw_output`` = 0, hw/raw_writer.py) the serializer is the same (one
element per cycle, rows*cols cycles per block, with or without the block copy) and the tail is
shorter: an element inside the layer is written one register stage after its select
(RAW_WRITE_LATENCY), nothing else follows.

    cycles = prologue (rows for the first block) + beats + fill stalls + output stalls + tail

Every pipeline latency comes from spec/latency.py, the block input-row windows from
spec/geometry.py (the gateware checks the same values at elaboration).

``conv_engine_cycles`` returns these parts separately, so a report can say where the cycles went.
Loop-nest notation: N M C H W R S E F U (see README); CG = input channels per output group.
"""

from dataclasses import dataclass

from .geometry import block_rows, pixel
from .geometry import blocks as raster_blocks
from .latency import (
    LOOKAHEAD,
    PARAM_STAGES,
    POOL_STAGES,
    RAW_WRITE_LATENCY,
    REQUANT_AFTER_SERIAL,
    REQUANT_LATENCY,
    SMALL_GAP,
    START_LATENCY,
    requant_cycles_per_element,
)

__all__ = ["CycleBreakdown", "conv_engine_cycles", "requant_cycles"]


def requant_cycles(config):
    """Cycles per element of the output stage's requantizer (hw/requantizer.py
    ``cycles_per_element``): 1, or ceil(31 / ceil(31 / k)) for the digit-serial multiplier."""
    if config.raw_output:
        return 1
    return requant_cycles_per_element(config.requant_mul_cycles)


@dataclass
class CycleBreakdown:
    cycles: int  # = the CYCLES counter
    mac_cycles: int  # = the MAC_CYCLES counter (beats the tile accepted)
    prologue: int  # cycles before the first beat (loading the first block's rows)
    fill_stalls: int  # cycles between first and last beat without a beat (rows not loaded yet)
    output_stalls: int  # cycles between first and last beat the output stage held the tile
    tail: int  # cycles from the last beat to done

    def as_dict(self):
        return dict(self.__dict__)


def _blocks(E, F, rows, U, pt, R, H):
    """(need, release, lane_valid, p0) per block of ``rows`` output pixels, as the sequencer loads
    them (spec/geometry.py)."""
    out = []
    for block in raster_blocks(E, F, rows):
        release, need = block_rows(block, U, pt, R, H)
        out.append((need, release, block.lane_valid, block.p0))
    return out


def conv_engine_cycles(config, H, W, C, M, R, S, U, pad_top, E, F, CG, pool=0):
    """Predict the counters of one layer run (registers as the driver writes them)."""
    cfg = config
    rows, cols, L = cfg.rows, cfg.cols, cfg.lb_lines
    WC = W * C
    blocks = _blocks(E, F, rows, U, pad_top, R, H)
    groups = -(-M // cols)
    beats_per_group = R * S * CG
    if pool and cfg.raw_output:
        raise ValueError(f"POOL = {pool} is out of range with output = Output.RAW: must be 0 "
                         f"(the engine refuses it at START, POOL_UNSUPPORTED; the host pools)")
    for need, release, _, _ in blocks:
        if need - release > L:
            raise ValueError(f"a block needs {need - release} input rows, the line buffer holds {L}")

    # Filler registers.
    word = row = row_start = 0
    wr_valid = wr_last = False
    rows_loaded = 0
    # Sequencer registers (block b, group g, beat k) and its pipeline.
    small = not cfg.lookahead
    running, first_pending = True, not small
    b = g = k = 0
    need_reg = release_reg = 0
    s1_valid = s1_last = s2_valid = s2_last = s3_valid = s3_last = False
    s1_release = 0
    t1_valid = t1_last = t2_valid = t2_last = o_valid = False
    # Serializer.
    held, count = False, 0
    pending_groups = []  # (block, group) of blocks issued, in order, for the serializer
    current = None
    lookahead_ready = LOOKAHEAD(rows) - 1   # the seed's lookahead (from the start cycle + 1)
    if small:
        # The start pulse is cycle -1: block 0's release is set at the end of cycle 1 (when lane 0
        # has been checked), its first beat may issue in cycle rows + 2.
        lookahead_ready = SMALL_GAP(rows) - 1
        window_at = 1
    mac_cycles = 0
    first_beat = None
    last_beat = None
    fill_stalls = output_stalls = gap_fill = gap_output = 0
    tail_end = None
    t = 0
    ser_period = rows * cols
    # Digit-serial requantizer: O1/O2 as (valid, needs the requantizer), its front stages and unit.
    serial_k = requant_cycles(cfg)
    serial = serial_k > 1
    copy = cfg.output_block_copy
    o1 = o2 = (False, False)
    rq_bias = rq_lshift = unit_full = unit_done = False
    unit_steps = 0
    out_busy_until = -1   # last cycle an element is in round..clamp or the pooling stage

    def element_flags(block_group, n):
        """(valid, kept) of element n of a block: a real lane and channel, inside the pool."""
        bb, gg = block_group
        i, j = divmod(n, cols)
        _, _, lanes_ok, p0_b = blocks[bb]
        if not (lanes_ok[i] and gg * cols + j < M):
            return False, False
        e, f = pixel(p0_b + i, F)
        return True, (not pool or ((e >> 1) < (E >> 1) and (f >> 1) < (F >> 1)))

    while True:
        # ---- combinational values of cycle t ----
        release_eff = s1_release if s1_valid else release_reg
        can_fill = row < H and row < release_eff + L
        at_group_end = k == beats_per_group - 1
        at_block_end = at_group_end and g == groups - 1
        rows_ok = rows_loaded >= need_reg and not first_pending
        if small:
            issue = running and rows_ok and t >= lookahead_ready
        else:
            issue = running and not first_pending and rows_ok and (not at_block_end or t >= lookahead_ready)
        if serial:
            unit_load = rq_lshift and (not unit_full or unit_done)
            rq_ready = not rq_lshift or unit_load
            out_adv = not o2[1] or rq_ready
        else:
            out_adv = True
        if copy:
            at_end = held and count == ser_period - 1
            take = o_valid and (not held or (at_end and out_adv))
        else:
            # No block copy: the serializer works on the tile's output register itself.
            held = o_valid
            current = pending_groups[0] if held else None
            at_end = held and count == ser_period - 1
            take = at_end and out_adv
        advance = (not o_valid) or take
        # The beat at the tile's input: S3's (the small sequencer has no S3: S2's).
        if (s2_valid if small else s3_valid) and advance:
            mac_cycles += 1
            if first_beat is None:
                first_beat = t
            last_beat = t
            fill_stalls += gap_fill
            output_stalls += gap_output
            gap_fill = gap_output = 0
        elif first_beat is not None:
            # A cycle without a beat at the tile: counted once a later beat shows it was a gap.
            if not advance:
                gap_output += 1
            else:
                gap_fill += 1

        # ---- next state ----
        n_rows_loaded = rows_loaded + (1 if wr_valid and wr_last else 0)
        if can_fill:
            row_end = row_start + WC
            word_end = 4 * word + 4
            wr_valid, wr_last = True, row_end <= word_end
            if row_end <= word_end:
                row += 1
                row_start = row_end
                if row_end == word_end:
                    word += 1
            else:
                word += 1
        else:
            wr_valid = False
        rows_loaded = n_rows_loaded

        # Output side of the digit-serial requantizer (uses this cycle's values).
        if serial:
            if unit_done:
                out_busy_until = t + REQUANT_AFTER_SERIAL + POOL_STAGES   # round..clamp, pooling
            if unit_load:
                unit_full, unit_done, unit_steps = True, False, serial_k - 1
            elif unit_done:
                unit_full = unit_done = False
            elif unit_full:
                unit_done = unit_steps == 1
                unit_steps -= 1
            if rq_ready:
                rq_lshift, rq_bias = rq_bias, o2[1]
            if out_adv:
                o2 = o1
                o1 = element_flags(current, count) if held else (False, False)
        # Serializer (uses this cycle's take / at_end).
        if not copy:
            if held and out_adv:
                if at_end:
                    pending_groups.pop(0)
                    held, count = False, 0
                    tail_end = (t, current)
                else:
                    count += 1
        elif take:
            current = pending_groups.pop(0)
            held, count = True, 0
        elif held and out_adv:
            if at_end:
                held = False
                tail_end = (t, current)
            else:
                count += 1

        # Tile pipeline and the sequencer's S1/S2 advance together.
        if advance:
            n_o_valid = t2_valid and t2_last
            t2_valid, t2_last = t1_valid, t1_last
            if small:
                t1_valid, t1_last = s2_valid, s2_last
            else:
                t1_valid, t1_last = s3_valid, s3_last
                s3_valid, s3_last = s2_valid, s2_last
            s2_valid, s2_last = s1_valid, s1_last
            s1_valid, s1_last, s1_release = issue, at_group_end, release_reg
            o_valid = n_o_valid
        # Sequencer S0.
        if small and t == window_at and b < len(blocks):
            need_reg, release_reg = blocks[b][0], blocks[b][1]
        if small and t == lookahead_ready - 1 and b == len(blocks):
            running = False         # no valid lane left
        elif first_pending:
            if t >= lookahead_ready:
                first_pending = False
                need_reg, release_reg = blocks[0][0], blocks[0][1]
                lookahead_ready = t + LOOKAHEAD(rows)
        elif issue and advance:
            if at_group_end:
                pending_groups.append((b, g))
            if not at_group_end:
                k += 1
            elif g < groups - 1:
                k, g = 0, g + 1
            else:
                k, g = 0, 0
                b += 1
                if small:
                    window_at = t + 2
                    lookahead_ready = t + SMALL_GAP(rows)
                else:
                    lookahead_ready = t + LOOKAHEAD(rows)
                    if b == len(blocks):
                        running = False
                    else:
                        need_reg, release_reg = blocks[b][0], blocks[b][1]
        t += 1
        if (
            not running
            and not held
            and not o_valid
            and not pending_groups
            and tail_end is not None
            and not (s1_valid or s2_valid or s3_valid or t1_valid or t2_valid)
            and not (serial and (o1[0] or o2[0] or rq_bias or rq_lshift or unit_full
                                 or out_busy_until >= t))
        ):
            break
        if t > 50_000_000:
            raise RuntimeError("cycle model did not finish")

    # Tail after the serializer's last element (issued in cycle X): element n of the last block
    # is issued at X - (rows*cols - 1) + n; it is "valid" (o1/o2 stages) when its lane and channel
    # exist, and "kept" (enters the requantizer) when it also lies inside the pooled region.
    X, (last_b, last_g) = tail_end
    _, _, lane_valid, p0 = blocks[last_b]
    raw = cfg.raw_output
    done = X + 1
    if serial:
        # The loop stopped in the first cycle (t) with the output pipeline empty: done is set then.
        done = t
    for n in range(ser_period if not serial else 0):
        i, j = divmod(n, cols)
        issued = X - (ser_period - 1) + n
        if not (lane_valid[i] and last_g * cols + j < M):
            continue
        if raw:
            # select (issued) -> write register -> idle seen in the next cycle
            done = max(done, issued + RAW_WRITE_LATENCY + 1)
            continue
        # select (issued) -> O1, O2 (PARAM_STAGES) -> idle seen in the next cycle
        done = max(done, issued + PARAM_STAGES + 1)
        e, f = pixel(p0 + i, F)
        keep = not pool or ((e >> 1) < (E >> 1) and (f >> 1) < (F >> 1))
        if keep:
            done = max(done, issued + PARAM_STAGES + 1 + REQUANT_LATENCY + POOL_STAGES)
    # The steps above count from the datapath's start pulse, START_LATENCY after CYCLES starts.
    cycles = done + 1 + START_LATENCY
    return CycleBreakdown(
        cycles=cycles,
        mac_cycles=mac_cycles,
        prologue=first_beat + START_LATENCY,
        fill_stalls=fill_stalls,
        output_stalls=output_stalls,
        tail=cycles - 1 - START_LATENCY - last_beat,
    )
