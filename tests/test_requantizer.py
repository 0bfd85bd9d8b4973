"""Requantizer: amaranth.sim unit tests (fast) and the cocotb run on the generated Verilog.

The unit tests drive the stream ports from async testbenches with random valid gaps and ready
stalls and compare every output with golden.quant (the same vector generators as the cocotb
bench in tb/requantizer_tb.py).
"""

import gc
import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden.quant import multiply_by_quantized_multiplier, wrap_int32
from hw.requantizer import STAGES, Requantizer, requant_in_layout
from sim.runner import build, run_cocotb
from spec.config import AcceleratorConfig
from tb.requantizer_tb import (
    INT32_MAX,
    INT32_MIN,
    edge_vectors,
    expected_all,
    random_vectors,
    tie_kind,
    to_payload,
)


def simulate(dut, vectors, rng, gap=0.3, stall=0.3, tags=None):
    """Stream ``vectors`` through ``dut``; returns (values, lasts, tags, accept cycles, output cycles)."""
    in_layout = requant_in_layout(dut.config, dut.tag_width, dut.constant_clamps)
    lasts = [rng.randrange(2) for _ in vectors]
    tags = tags or [rng.getrandbits(dut.tag_width) if dut.tag_width else None for _ in vectors]
    payloads = [in_layout.const({k: v for k, v in to_payload(vec, last, tag).items()
                                 if k in in_layout.members})
                for vec, last, tag in zip(vectors, lasts, tags, strict=True)]
    if dut.constant_clamps:
        # Layer constants: one value for the whole run (the caller's vectors must agree).
        consts = {(v["output_zero_point"], v["act_min"], v["act_max"]) for v in vectors}
        assert len(consts) == 1, "constant_clamps needs one zero point / clamp pair per run"
    got, accepted, delivered = [], [], []
    cycle = [0]

    async def clock_counter(ctx):
        async for _ in ctx.tick():
            cycle[0] += 1

    async def producer(ctx):
        if dut.constant_clamps:
            zp, lo, hi = vectors[0]["output_zero_point"], vectors[0]["act_min"], vectors[0]["act_max"]
            ctx.set(dut.output_zero_point, zp)
            ctx.set(dut.act_min, lo)
            ctx.set(dut.act_max, hi)
        for payload in payloads:
            while rng.random() < gap:
                await ctx.tick()
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload, payload)
            await ctx.tick().until(dut.i.ready)
            accepted.append(cycle[0])
            ctx.set(dut.i.valid, 0)

    async def consumer(ctx):
        while len(got) < len(vectors):
            ready = rng.random() >= stall
            ctx.set(dut.o.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            if ready and valid:
                got.append(payload)
                delivered.append(cycle[0])
        ctx.set(dut.o.ready, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_process(clock_counter)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run_until(1e-6 * (len(vectors) * 40 + 100))
    assert len(got) == len(vectors), f"only {len(got)} of {len(vectors)} results came out (hang?)"
    values = [int(p.value) for p in got]
    assert [int(p.last) for p in got] == lasts, "last was not passed through in order"
    if dut.tag_width:
        assert [int(p.tag) for p in got] == tags, "tag was not passed through in order"
    return values, accepted, delivered


def check_against_golden(dut, vectors, rng, **kwargs):
    values, _, _ = simulate(dut, vectors, rng, **kwargs)
    want = expected_all(vectors)
    bad = [(n, v, g, w) for n, (v, g, w) in enumerate(zip(vectors, values, want, strict=True)) if g != w]
    assert not bad, f"{len(bad)} mismatches, first: " + "; ".join(f"#{n} {v}: RTL {g} golden {w}"
                                                               for n, v, g, w in bad[:5])


def test_random_and_edge_vectors(seed):
    rng = random.Random(seed)
    edges = edge_vectors(rng)
    vectors = random_vectors(rng, 300) + rng.sample(edges, 300)
    assert sum(bool(tie_kind(v)) for v in vectors) > 20, "the sample must hold exact rounding ties"
    check_against_golden(Requantizer(), vectors, rng)


def test_every_shift_extremes(seed):
    """INT32_MIN / INT32_MAX / +-1 / bias wraps through every shift with M = 2^30 and 2^31 - 1."""
    rng = random.Random(seed)
    vectors = []
    for shift in range(-31, 31):
        for acc, bias in ((INT32_MIN, 0), (INT32_MAX, 0), (1, 0), (-1, 0), (INT32_MAX, 1), (INT32_MIN, -1)):
            for mult in (2**30, 2**31 - 1):
                vectors.append({"acc": acc, "bias": bias, "multiplier": mult, "shift": shift,
                                "output_zero_point": rng.choice([-128, 127, 0]), "act_min": -128,
                                "act_max": 127})
    check_against_golden(Requantizer(), vectors, rng, gap=0.1, stall=0.1)


def test_wide_output_exposes_more_bits(seed):
    """act_width = 18: outputs, zero point and clamps are 18 bits wide, so many more bits of the
    MultiplyByQuantizedMultiplier result are visible than through int8."""
    rng = random.Random(seed)
    cfg = AcceleratorConfig(act_width=18)
    lo, hi = -(2**17), 2**17 - 1
    vectors = []
    for vec in random_vectors(rng, 300):
        zp = rng.randint(lo, hi)
        vec.update(output_zero_point=zp, act_min=lo, act_max=hi)
        if rng.random() < 0.5:  # aim the result into the visible range
            mult, shift = vec["multiplier"], vec["shift"]
            if mult:
                x = round(rng.uniform(-2**17, 2**17) * 2 ** (31 - shift) / mult)
                vec["acc"] = max(INT32_MIN, min(INT32_MAX, x)) - vec["bias"]
                vec["acc"] = int(wrap_int32(vec["acc"]))
        vectors.append(vec)
    values, _, _ = simulate(Requantizer(cfg), vectors, rng)
    for vec, got in zip(vectors, values, strict=True):
        x = wrap_int32(vec["acc"] + vec["bias"])
        r = int(multiply_by_quantized_multiplier(x, vec["multiplier"], vec["shift"]))
        want = int(np.clip(wrap_int32(r + vec["output_zero_point"]), lo, hi))
        assert got == want, f"{vec}: RTL {got}, model {want}"
    visible = sum(lo < v < hi for v in values)
    assert visible > 100, f"only {visible} outputs inside the clamp range"


@pytest.mark.parametrize("registers", [("mul", "high"), (), ("lshift", "mul", "round", "zp")],
                         ids=["mul-high", "output-only", "four"])
def test_fewer_registers(registers, seed):
    """Leaving stages out keeps the function and shortens the latency to the registered stages."""
    rng = random.Random(seed)
    dut = Requantizer(registers=registers)
    assert dut.latency == len(set(registers) | {"clamp"})
    vectors = random_vectors(rng, 150) + rng.sample(edge_vectors(rng), 150)
    check_against_golden(dut, vectors, rng)


def test_narrow_accumulator_and_tag(seed):
    """A 24-bit accumulator is sign-extended; a 5-bit tag and last pass through unchanged."""
    rng = random.Random(seed)
    dut = Requantizer(AcceleratorConfig(acc_width=24), tag_width=5)
    vectors = random_vectors(rng, 200)
    for vec in vectors:
        vec["acc"] = rng.randint(-(2**23), 2**23 - 1)
    check_against_golden(dut, vectors, rng)


def test_latency_and_throughput(seed):
    rng = random.Random(seed)
    dut = Requantizer()
    vectors = random_vectors(rng, 100)
    values, accepted, delivered = simulate(dut, vectors, rng, gap=0.0, stall=0.0)
    assert values == expected_all(vectors)
    assert accepted == list(range(accepted[0], accepted[0] + len(vectors))), "input bubbles"
    assert delivered == list(range(delivered[0], delivered[0] + len(vectors))), "output bubbles"
    assert delivered[0] - accepted[0] == dut.latency == len(STAGES)


@pytest.mark.parametrize("mul_cycles", [2, 4, 8, 31])
def test_serial_multiplier(mul_cycles, seed):
    """The digit-serial multiplier (iCE40 option) is bit-exact too, under gaps and stalls."""
    rng = random.Random(seed)
    dut = Requantizer(mul_cycles=mul_cycles, tag_width=2)
    assert dut.serial and dut.cycles_per_element == -(-31 // dut.digit_bits)
    vectors = random_vectors(rng, 150) + rng.sample(edge_vectors(rng), 250)
    check_against_golden(dut, vectors, rng, gap=0.2, stall=0.2)


@pytest.mark.parametrize("mul_cycles,registers", [(4, STAGES), (3, ("clamp",)), (16, ("lshift", "zp"))],
                         ids=["4-all", "3-output-only", "16-two"])
def test_serial_rate_and_latency(mul_cycles, registers, seed):
    """Full rate: one element every cycles_per_element cycles; the latency property holds."""
    rng = random.Random(seed)
    dut = Requantizer(mul_cycles=mul_cycles, registers=registers)
    vectors = random_vectors(rng, 60) + rng.sample(edge_vectors(rng), 60)
    values, accepted, delivered = simulate(dut, vectors, rng, gap=0.0, stall=0.0)
    assert values == expected_all(vectors)
    k = dut.cycles_per_element
    # After the front registers (bias, lshift) have filled, the serial unit sets the pace.
    steps = {b - a for a, b in zip(accepted[3:], accepted[4:], strict=False)}
    assert steps == {k}, f"accept spacing {steps}, expected {k}"
    assert delivered[0] - accepted[0] == dut.latency


@pytest.mark.parametrize("mul_cycles", [1, 4])
def test_constant_clamps(mul_cycles, seed):
    """constant_clamps (the conv engine's choice): zero point and clamps as ports, bit-exact for
    several (zero point, clamp) settings, each held for a whole run as the engine's registers are."""
    rng = random.Random(seed)
    pool = random_vectors(rng, 120) + rng.sample(edge_vectors(rng), 120)
    for zp, lo, hi in [(0, -128, 127), (-128, -128, 127), (127, -128, 127), (5, -3, 90), (-20, 0, 0)]:
        vectors = [{**v, "output_zero_point": zp, "act_min": lo, "act_max": hi}
                   for v in rng.sample(pool, 60)]
        dut = Requantizer(mul_cycles=mul_cycles, constant_clamps=True, tag_width=3)
        assert "output_zero_point" not in requant_in_layout(dut.config, 3, True).members
        check_against_golden(dut, vectors, rng, gap=0.2, stall=0.2)


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_parameter_errors():
    with pytest.raises(TypeError, match="AcceleratorConfig"):
        Requantizer(config={"rows": 4})
    with pytest.raises(ValueError, match="acc_width = 40"):
        Requantizer(AcceleratorConfig(acc_width=40))
    with pytest.raises(ValueError, match="tag_width = -1"):
        Requantizer(tag_width=-1)
    with pytest.raises(TypeError, match="constant_clamps = 1"):
        Requantizer(constant_clamps=1)
    with pytest.raises(ValueError, match="unknown stages"):
        Requantizer(registers=("mul", "mult"))
    with pytest.raises(TypeError, match="string"):
        Requantizer(registers="mul")
    with pytest.raises(ValueError, match="mul_cycles = 32"):
        Requantizer(mul_cycles=32)
    gc.collect()  # the half-built components warn "never used" when collected: here, filtered


COCOTB_VARIANTS = {  # name: (tag_width, mul_cycles, random vectors, edge vectors (None = all ~7850))
    "plain": (0, 1, 6000, None),
    "tag3": (3, 1, 1000, None),
    "serial4": (2, 4, 1000, 3000),
}


@pytest.mark.cocotb
@pytest.mark.parametrize("variant", list(COCOTB_VARIANTS))
def test_requantizer_cocotb(variant, seed):
    tag_width, mul_cycles, random_count, edge_sample = COCOTB_VARIANTS[variant]
    config = AcceleratorConfig()
    dut = Requantizer(config, tag_width=tag_width, mul_cycles=mul_cycles)
    design = build(dut, top="requantizer", tag=f"{config.name}_{variant}")
    run_cocotb(design, "tb.requantizer_tb", run_name=f"seed{seed}",
               params={"config": config.as_dict(), "tag_width": tag_width, "seed": seed,
                       "latency": dut.latency, "cycles_per_element": dut.cycles_per_element,
                       "random_count": random_count, "edge_sample": edge_sample},
               seed=seed)
