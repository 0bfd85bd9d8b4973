"""Raw accumulator output (AcceleratorConfig.output = Output.RAW), the parts that need no simulator:
configuration, address spaces, the driver's plan, the host-side finishing (driver/raw_output.py)
against golden/ on the edge set and random layers (also split into passes), and the cycle model.
The RTL runs of this mode: tests/test_up5k.py (the UP5K configuration) and tests/test_conv_engine.py
(test_raw_* with the default sizes).
"""

import dataclasses

import numpy as np
import pytest

from bench.conv_layers import (
    edge_layers,
    make_layer,
    multi_pass_layers,
    random_layers,
    random_multi_pass_layer,
)
from boards.boards import ICE40_ENGINE_CONFIG
from driver.conv_layer import plan_conv
from driver.passes import split_layer
from driver.raw_output import finish_raw, raw_accumulators
from spec.config import AcceleratorConfig, Output
from spec.cycle_model import conv_engine_cycles, requant_cycles
from spec.registers import REG, Space, space_depth

RAW = AcceleratorConfig(output=Output.RAW)


def raw_reference(layer):
    """The engine's raw output, computed directly from the loop nest: int32 [E][F][M] =
    sum_{r,s,c} x_padded[U*e + r][U*f + s][c] * W[m][r][s][c], padding = input_zp, wrapped to int32."""
    x, w = layer.x.astype(np.int64), layer.w.astype(np.int64)
    H, W, C = x.shape
    M, R, S, _ = w.shape
    pt, pb, pl, pr = layer.resolved_padding()
    U = layer.stride
    E, F = layer.output_hw()
    xp = np.full((H + pt + pb, W + pl + pr, C), int(layer.input_zp), np.int64)
    xp[pt:pt + H, pl:pl + W] = x
    acc = np.zeros((E, F, M), np.int64)
    for r in range(R):
        for s in range(S):
            win = xp[r:r + U * (E - 1) + 1:U, s:s + U * (F - 1) + 1:U]      # [E][F][C]
            acc += win @ w[:, r, s, :].T
    return acc.astype(np.int32)


def _words(acc):
    return acc.reshape(-1).astype(np.int64) & 0xFFFFFFFF


def test_config_fields():
    with pytest.raises(ValueError, match=r"output = 0 is not allowed: must be one of Output.REQUANT, "
                                         r"Output.RAW"):
        AcceleratorConfig(output=0)
    with pytest.raises(ValueError, match=r"perf_counters = -1 is not allowed: must be True or False"):
        AcceleratorConfig(perf_counters=-1)
    with pytest.raises(ValueError, match=r"requant_mul_cycles = 4 has no effect with output = Output.RAW"):
        AcceleratorConfig(output=Output.RAW, requant_mul_cycles=4)
    base = AcceleratorConfig()
    assert base.name == dataclasses.replace(base, output=Output.REQUANT, perf_counters=True).name
    assert base.name != RAW.name != dataclasses.replace(base, perf_counters=False).name


def test_space_depths():
    for space in (Space.BIAS, Space.MULT, Space.SHIFT):
        assert space_depth(RAW, space) == 0
        assert space_depth(AcceleratorConfig(), space) == AcceleratorConfig().max_channels
    assert space_depth(ICE40_ENGINE_CONFIG, Space.ACT_OUT) == 16384
    assert space_depth(ICE40_ENGINE_CONFIG, "BIAS") == 0


def test_plan_has_no_parameters_and_raw_words(seed):
    rng = np.random.default_rng(seed)
    t = make_layer(rng, "pooled", 8, 8, 4, 6, 3, 3, padding="SAME", pool="max")
    p = plan_conv(RAW, t.layer)
    spaces = {s for s, _, _ in p.writes}
    assert spaces == {Space.ACT_IN, Space.WEIGHTS, Space.REGS}
    assert p.registers["POOL"] == 0 and "OUTPUT_ZP" not in p.registers
    assert p.out_words() == 8 * 8 * 6 and p.out_shape == (4, 4, 6)
    ref = plan_conv(AcceleratorConfig(), t.layer)
    assert {s for s, _, _ in ref.writes} >= {Space.BIAS, Space.MULT, Space.SHIFT}
    assert ref.registers["POOL"] == 1 and ref.registers["OUTPUT_ZP"] == t.layer.output_zp & 0xFF
    assert (REG["ACT_MIN"] not in {a for s, a, _ in p.writes if s == Space.REGS})


def test_plan_refuses_too_many_raw_words(seed):
    rng = np.random.default_rng(seed)
    cfg = dataclasses.replace(RAW, out_mem_bytes=4 * 100)
    t = make_layer(rng, "big", 5, 5, 2, 5, 1, 1)        # 125 words > 100
    with pytest.raises(ValueError, match=r"E \* F \* M \(raw output words, output = Output.RAW\) = 125 is "
                                         r"out of range: must be an integer in \[1, 100\]"):
        plan_conv(cfg, t.layer)
    # split into passes instead, each within 100 words
    plan = split_layer(cfg, t.layer)
    assert len(plan.passes) > 1
    assert all(p.program.out_words() <= 100 for p in plan.passes)


def test_finish_raw_matches_golden_edge_and_random(seed):
    """The host finishing of the loop nest's raw sums equals golden/ (LiteRT semantics), on the edge
    set (extreme zero points, saturation, shift 0, multiplier 0, pools, padding, stride 2) and 60
    random layers of the UP5K configuration."""
    rng = np.random.default_rng(seed)
    cfg = ICE40_ENGINE_CONFIG
    layers = edge_layers(rng, cfg) + random_layers(rng, cfg, 60)
    distinct = 0
    for t in layers:
        plan = split_layer(cfg, t.layer)       # the edge set's largest layer needs passes here
        outs = []
        for p in plan.passes:
            acc = raw_reference(p.layer)
            assert np.array_equal(raw_accumulators(p.layer, _words(acc)), acc)
            outs.append(p.program.unpack_output(_words(acc)))
        got = plan.assemble(outs)
        assert got.dtype == np.int8 and got.shape == t.expected.shape, t.name
        assert np.array_equal(got, t.expected), f"{t.name}: finish_raw differs from golden (seed {seed})"
        distinct += len(np.unique(got))
    assert distinct > 300      # not vacuous: the outputs spread over the int8 range


def test_finish_raw_across_passes(seed):
    """Layers split into passes (row/column bands, channel groups, pooled bands): each pass's raw
    sums finished on their own, put together, equal golden/."""
    rng = np.random.default_rng(seed)
    # tests/test_cfu.py's SMALL buffers, raw: 128 output words per pass
    cfg = AcceleratorConfig(max_size=32, max_channels=32, lb_lines=8, lb_line_bytes=64, act_mem_bytes=512,
                            out_mem_bytes=512, weight_mem_words=64, output=Output.RAW)
    layers = multi_pass_layers(rng, cfg) + [random_multi_pass_layer(rng, cfg, i) for i in range(6)]
    for t in layers:
        plan = split_layer(cfg, t.layer)
        outs = [p.program.unpack_output(_words(raw_reference(p.layer))) for p in plan.passes]
        got = plan.assemble(outs)
        assert np.array_equal(got, t.expected), f"{t.name} (seed {seed})"


def test_finish_raw_checks_its_input():
    rng = np.random.default_rng(0)
    t = make_layer(rng, "x", 4, 4, 2, 3, 3, 3)
    with pytest.raises(ValueError, match=r"7 raw output words do not match E \* F \* M = 2 \* 2 \* 3 = 12"):
        raw_accumulators(t.layer, [0] * 7)
    with pytest.raises(ValueError, match=r"acc must be integers of shape \(E, F, M\) = \(2, 2, 3\)"):
        finish_raw(t.layer, np.zeros((2, 2, 2), np.int32))


def test_cycle_model_raw():
    """Raw output: one element per cycle (no requantizer rate), a short tail, and POOL refused."""
    assert requant_cycles(ICE40_ENGINE_CONFIG) == 1
    layer = dict(H=8, W=8, C=4, M=8, R=1, S=1, U=1, pad_top=0, E=8, F=8, CG=4)
    raw = conv_engine_cycles(ICE40_ENGINE_CONFIG, **layer)
    requant = conv_engine_cycles(dataclasses.replace(ICE40_ENGINE_CONFIG, output=Output.REQUANT), **layer)
    assert raw.mac_cycles == requant.mac_cycles == 8 * 8 // 4 * 2 * 4
    # the same serializer: the difference is the tail after the last element's select, O1, O2,
    # the requantizer (10) and the pooling stages (5) against one write register
    assert requant.cycles - raw.cycles == (2 + 10 + 5 + 1) - (1 + 1)
    with pytest.raises(ValueError, match=r"POOL = 1 is out of range with output = Output.RAW: must be 0"):
        conv_engine_cycles(ICE40_ENGINE_CONFIG, **layer, pool=1)
