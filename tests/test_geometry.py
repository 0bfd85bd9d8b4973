"""spec/geometry.py and spec/latency.py: the one copy of the layer geometry and of the pipeline
latencies, checked against independent definitions.

* padding and output size against golden/ (TFLite's rule, golden.conv) over a sweep of shapes;
* block input-row windows against a brute-force walk of the sequencer's loop nest;
* the latencies against the gateware that implements them (elaborated where it checks them).
"""

import itertools

import pytest
from amaranth.hdl import Fragment

from golden.conv import conv_output_size
from hw import conv_engine, output_stage, raw_writer
from hw.line_buffer import LineBuffer
from hw.mac_tile import MacTile
from hw.requantizer import Requantizer
from spec import geometry, latency
from spec.config import AcceleratorConfig


@pytest.mark.parametrize("stride", [1, 2, 3, 4])
def test_padding_matches_golden(stride):
    for size, kernel in itertools.product(range(1, 40), range(1, 8)):
        golden_size, golden_pads = conv_output_size(size, kernel, stride, 1, "SAME")
        pads = geometry.same_padding(size, kernel, stride)
        assert pads == golden_pads, (size, kernel, stride)
        assert geometry.output_size(size, kernel, stride, *pads) == golden_size
        if size >= kernel:
            valid_size, _ = conv_output_size(size, kernel, stride, 1, "VALID")
            assert geometry.output_size(size, kernel, stride, 0, 0) == valid_size
        for before, after in ((0, 1), (1, 0), (kernel - 1, kernel - 1)):
            if size + before + after < kernel:
                continue
            explicit, _ = conv_output_size(size, kernel, stride, 1, (before, after))
            assert geometry.output_size(size, kernel, stride, before, after) == explicit


def test_resolve_padding_both_axes():
    assert geometry.resolve_padding("SAME", 7, 8, 3, 4, 2) == (1, 1, 1, 1)
    assert geometry.resolve_padding("SAME", 7, 8, 3, 4, 2) == (
        geometry.same_padding(7, 3, 2) + geometry.same_padding(8, 4, 2))
    assert geometry.resolve_padding("VALID", 7, 8, 3, 4, 2) == (0, 0, 0, 0)
    assert geometry.resolve_padding((1, 2, 0, 1), 7, 8, 3, 4, 2) == (1, 2, 0, 1)
    with pytest.raises(ValueError, match=r"padding = 'FULL' is not supported"):
        geometry.resolve_padding("FULL", 7, 8, 3, 4, 2)
    with pytest.raises(ValueError, match=r"must have 4 entries"):
        geometry.resolve_padding((1, 1), 7, 8, 3, 4, 2)
    with pytest.raises(ValueError, match=r"stride = 0 is out of range"):
        geometry.same_padding(7, 3, 0)


def _brute_window(E, F, rows, U, pt, R, H, p0):
    """Input rows [lo, hi) the lanes of block p0 read, from the loop nest itself."""
    ys = [U * (p // F) + r - pt for p in range(p0, min(p0 + rows, E * F)) for r in range(R)]
    inside = [y for y in ys if 0 <= y < H]
    return min(inside), max(inside) + 1


def test_block_windows_match_loop_nest():
    checked = 0
    for rows, U, R in itertools.product((1, 2, 4, 5), (1, 2, 3), (1, 3, 5)):
        for H, W in ((R, R), (9, 4), (13, 7), (6, 11)):
            for pt in range(R):
                E = geometry.output_size(H, R, U, pt, R - 1 - pt)
                F = geometry.output_size(W, R, U, 0, 0) if W >= R else 0
                if E < 1 or F < 1:
                    continue
                span = 0
                blocks = geometry.blocks(E, F, rows)
                assert [b.p0 for b in blocks] == list(range(0, E * F, rows))
                for b in blocks:
                    assert b.lane_valid == tuple(b.p0 + i < E * F for i in range(rows))
                    release, need = geometry.block_rows(b, U, pt, R, H)
                    assert (release, need) == _brute_window(E, F, rows, U, pt, R, H, b.p0)
                    span = max(span, need - release)
                assert geometry.max_block_rows(H, pt, U, R, E, F, rows) == span
                checked += 1
    assert checked > 100


def test_raster_walk():
    for F in (1, 2, 5):
        e, f = 0, 0
        for p in range(4 * F):
            assert geometry.pixel(p, F) == (e, f)
            e, f = geometry.lane_step(e, f, F)


def test_latencies_match_gateware():
    assert raw_writer.WRITE_LATENCY == latency.RAW_WRITE_LATENCY
    assert output_stage.POOL_STAGES == latency.POOL_STAGES
    assert conv_engine.START_LATENCY == latency.START_LATENCY
    assert MacTile.LATENCY == latency.TILE_LATENCY
    assert LineBuffer.READ_LATENCY == latency.LB_READ_LATENCY
    rq = Requantizer()
    assert rq.latency == latency.REQUANT_LATENCY
    Fragment.get(rq, None)
    for k in range(1, 32):
        rq = Requantizer(mul_cycles=k)
        assert rq.cycles_per_element == latency.requant_cycles_per_element(k)
        # Elaboration checks the stages it builds against the latency it reports.
        Fragment.get(rq, None)
    Fragment.get(MacTile(AcceleratorConfig()), None)
    Fragment.get(LineBuffer(AcceleratorConfig()), None)


def test_requantizer_partial_registers_elaborate():
    rq = Requantizer(registers=("bias", "mul", "sum", "round", "clamp"))
    assert rq.latency == 5
    Fragment.get(rq, None)
