"""cocotb tests of MacTile on its generated Verilog, bit-exact against golden.matmul.tile_accumulate.

Each output block is an accumulation of T beats (one (r, s, c) tap of the C*R*S reduction each):
    result[i][j] = sum_t act[t][i] * weight[t][j]   (wrapped to int32 like the TFLite reference)
"""

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly

from golden.matmul import tile_accumulate
from hw.mac_tile import tile_beat_layout, tile_result_layout
from spec.config import AcceleratorConfig

from .common import reset, seeded_rng, start_clock, tb_params
from .streams import StreamSink, StreamSource, run_streams

EDGE_VALUES = np.array([-128, 127, 0, -1, 1, -127], dtype=np.int8)


def _config():
    return AcceleratorConfig.from_dict(tb_params()["config"])


def _random_operands(rng, cfg, beats, edge_fraction):
    """int8 operands: uniform random, with a fraction of beats drawn from the edge values."""
    nprng = np.random.default_rng(rng.getrandbits(32))
    act = nprng.integers(-128, 128, size=(beats, cfg.rows), dtype=np.int64).astype(np.int8)
    weight = nprng.integers(-128, 128, size=(beats, cfg.cols), dtype=np.int64).astype(np.int8)
    edge = nprng.random(beats) < edge_fraction
    act[edge] = nprng.choice(EDGE_VALUES, size=(int(edge.sum()), cfg.rows))
    weight[edge] = nprng.choice(EDGE_VALUES, size=(int(edge.sum()), cfg.cols))
    return act, weight


def _queue_block(source, act, weight):
    beats = len(act)
    for t in range(beats):
        source.put({"act": [int(v) for v in act[t]], "weight": [int(v) for v in weight[t]],
                    "first": int(t == 0), "last": int(t == beats - 1)})


def _check(dut, cfg, received, blocks):
    assert len(received) == len(blocks), f"got {len(received)} blocks, expected {len(blocks)}"
    for n, (got, (act, weight)) in enumerate(zip(received, blocks, strict=True)):
        expected = tile_accumulate(act, weight)
        got_array = np.array([[int(got[i][j]) for j in range(cfg.cols)] for i in range(cfg.rows)])
        if not np.array_equal(got_array, expected):
            raise AssertionError(f"block {n} (T={len(act)}) differs:\nRTL\n{got_array}\ngolden\n{expected}")
    # The comparison must not be vacuous: the blocks hold non-zero results.
    assert any(np.any(tile_accumulate(a, w) != 0) for a, w in blocks)


async def _run_blocks(dut, cfg, rng, blocks, gap_probability, stall_probability):
    source = StreamSource(dut, "i", tile_beat_layout(cfg), rng, gap_probability)
    sink = StreamSink(dut, "o", tile_result_layout(cfg), rng, stall_probability)
    for act, weight in blocks:
        _queue_block(source, act, weight)
    beats = sum(len(a) for a, _ in blocks)
    await run_streams(dut, [source], [sink], lambda: len(sink.received) == len(blocks),
                      max_cycles=10 * beats + 100)
    return sink.received


@cocotb.test()
async def random_blocks_with_gaps_and_backpressure(dut):
    """Random lengths (incl. T=1), random and edge operands, random valid gaps and ready stalls."""
    cfg = _config()
    rng = seeded_rng(dut, "random_blocks")
    await start_clock(dut)
    await reset(dut)
    blocks = []
    for _ in range(60):
        beats = rng.choice([1, 1, 2, 3, rng.randint(4, 16), rng.randint(17, 72)])
        blocks.append(_random_operands(rng, cfg, beats, edge_fraction=0.2))
    received = await _run_blocks(dut, cfg, rng, blocks, gap_probability=0.3, stall_probability=0.3)
    _check(dut, cfg, received, blocks)


@cocotb.test()
async def edge_operands(dut):
    """-128 x -128, 127 x 127, 127 x -128, zeros and alternating signs over long accumulations."""
    cfg = _config()
    await start_clock(dut)
    await reset(dut)
    blocks = []
    for a_val, w_val, beats in [(-128, -128, 500), (127, 127, 300), (127, -128, 300), (-128, 127, 7),
                                (0, -128, 5), (-128, 0, 5), (-1, -1, 1), (-128, -128, 1)]:
        blocks.append((np.full((beats, cfg.rows), a_val, np.int8),
                       np.full((beats, cfg.cols), w_val, np.int8)))
    alternating = np.where(np.arange(64)[:, None] % 2 == 0, -128, 127).astype(np.int8)
    blocks.append((np.repeat(alternating, 1, axis=0)[:, [0] * cfg.rows],
                   np.repeat(alternating[::-1], 1, axis=0)[:, [0] * cfg.cols]))
    received = await _run_blocks(dut, cfg, None, blocks, 0.0, 0.0)
    _check(dut, cfg, received, blocks)


@cocotb.test()
async def back_to_back_throughput(dut):
    """Blocks follow each other with no bubble: a beat is accepted every cycle, so the tile
    sustains rows*cols MACs per cycle. Counted from the port handshakes, not assumed."""
    cfg = _config()
    rng = seeded_rng(dut, "back_to_back")
    await start_clock(dut)
    await reset(dut)
    blocks = [_random_operands(rng, cfg, rng.choice([1, 2, 3, 9]), edge_fraction=0.1) for _ in range(120)]
    source = StreamSource(dut, "i", tile_beat_layout(cfg))
    sink = StreamSink(dut, "o", tile_result_layout(cfg))
    for act, weight in blocks:
        _queue_block(source, act, weight)
    accepted_cycles = []

    def count(cycle, flags):
        if flags[0]:
            accepted_cycles.append(cycle)

    await run_streams(dut, [source], [sink], lambda: len(sink.received) == len(blocks), 10_000, count)
    _check(dut, cfg, sink.received, blocks)
    window = accepted_cycles[-1] - accepted_cycles[0] + 1
    macs_per_cycle = len(accepted_cycles) * cfg.macs / window
    dut._log.info(f"throughput: {len(accepted_cycles)} beats in {window} cycles = "
                  f"{macs_per_cycle:.2f} MACs/cycle (peak {cfg.macs})")
    assert len(accepted_cycles) == window, "the tile inserted a bubble between beats"


@cocotb.test()
async def int32_wraparound(dut):
    """140000 beats of -128 x -128 overflow int32 (2^31 / 16384 = 131072 beats): the accumulator
    wraps exactly like the int32 reference. The operands are held on the port for speed.
    Runs for the configurations the pytest side marks ``long`` (140k cycles cost ~13 s on Icarus)."""
    cfg = _config()
    if not tb_params().get("long", True):
        dut._log.info("int32_wraparound: not requested for this configuration")
        return
    await start_clock(dut)
    await reset(dut)
    beats = 140_000
    layout = tile_beat_layout(cfg)
    sink_layout = tile_result_layout(cfg)

    def beat(first, last):
        return layout.const({"act": [-128] * cfg.rows, "weight": [-128] * cfg.cols,
                             "first": first, "last": last}).as_bits()

    dut.o__ready.value = 1
    dut.i__valid.value = 1
    dut.i__payload.value = beat(1, 0)
    await FallingEdge(dut.clk)
    dut.i__payload.value = beat(0, 0)
    await ClockCycles(dut.clk, beats - 2)
    await FallingEdge(dut.clk)
    dut.i__payload.value = beat(0, 1)
    await FallingEdge(dut.clk)
    dut.i__valid.value = 0
    for _ in range(10):
        await ReadOnly()
        if int(dut.o__valid.value):
            break
        await FallingEdge(dut.clk)
    assert int(dut.o__valid.value), "no result after the last beat"
    got = sink_layout.from_bits(dut.o__payload.value.to_unsigned())
    expected = tile_accumulate(np.full((beats, cfg.rows), -128, np.int8),
                               np.full((beats, cfg.cols), -128, np.int8))
    assert expected[0, 0] == np.int32(np.int64(beats * 16384) - 2**32), "golden does not wrap like int32"
    for i in range(cfg.rows):
        for j in range(cfg.cols):
            assert int(got[i][j]) == int(expected[i, j]), \
                f"acc[{i}][{j}] = {int(got[i][j])}, expected {expected[i, j]}"


@cocotb.test()
async def reset_mid_accumulation(dut):
    """A reset in the middle of a block drops it; the next block is computed from scratch."""
    cfg = _config()
    rng = seeded_rng(dut, "reset_mid")
    await start_clock(dut)
    await reset(dut)
    source = StreamSource(dut, "i", tile_beat_layout(cfg))
    sink = StreamSink(dut, "o", tile_result_layout(cfg))
    act, weight = _random_operands(rng, cfg, 40, 0.1)
    _queue_block(source, act, weight)
    await run_streams(dut, [source], [sink], lambda: source.sent >= 20, 1000)
    source.queue.clear()
    dut.i__valid.value = 0
    await reset(dut)
    blocks = [_random_operands(rng, cfg, 10, 0.1), _random_operands(rng, cfg, 1, 0.1)]
    for a, w in blocks:
        _queue_block(source, a, w)
    await run_streams(dut, [source], [sink], lambda: len(sink.received) == len(blocks), 1000)
    _check(dut, cfg, sink.received, blocks)
