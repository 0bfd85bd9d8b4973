"""cocotb tests of Requantizer on its generated Verilog, bit-exact against golden.quant.requantize.

Each beat is one element: out = clamp(MultiplyByQuantizedMultiplier(wrap32(acc + bias), M, shift)
+ zero point). The vector generators below (plain Python, no simulator needed) are shared with the
amaranth.sim unit test in tests/test_requantizer.py, which imports them.
"""

import random

import cocotb

from golden.quant import requantize, wrap_int32

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
M_MIN = 2**30
M_MAX = 2**31 - 1
SHIFTS = range(-31, 31)

FIELDS = ("acc", "bias", "multiplier", "shift", "output_zero_point", "act_min", "act_max")


# --- model -----------------------------------------------------------------------------------

def expected(vec):
    """golden/ result for one vector (the conv epilogue: int32 bias add, then requantize)."""
    x = int(wrap_int32(vec["acc"] + vec["bias"]))
    return int(requantize(x, vec["multiplier"], vec["shift"], vec["output_zero_point"],
                          vec["act_min"], vec["act_max"]))


def expected_all(vectors):
    return [expected(v) for v in vectors]


def _wrap(v):
    return (v + 2**31) % 2**32 - 2**31


def _srdhm(a, mult):
    """SaturatingRoundingDoublingHighMul written from the C++ text (truncating division)."""
    p = a * mult
    t = p + (2**30 if p >= 0 else 1 - 2**30)
    return t // 2**31 if t >= 0 else -((-t) // 2**31)


def tie_kind(vec):
    """Which rounding step of this vector is an exact tie: {'srdhm', 'rdbpot'} subset (for counting)."""
    left, right = max(vec["shift"], 0), max(-vec["shift"], 0)
    a = _wrap(_wrap(vec["acc"] + vec["bias"]) << left)
    kinds = set()
    if (a * vec["multiplier"]) % 2**31 == 2**30:
        kinds.add("srdhm")
    if right and _srdhm(a, vec["multiplier"]) % 2**right == 2 ** (right - 1):
        kinds.add("rdbpot")
    return kinds


# --- vector generators -----------------------------------------------------------------------

def _clamp_choice(rng, zp):
    """(act_min, act_max): no activation, ReLU, ReLU6-like, a random range, or a single value."""
    kind = rng.choice(["none", "none", "relu", "relu6", "range", "point"])
    if kind == "none":
        return -128, 127
    if kind == "relu":
        return zp, 127
    if kind == "relu6":
        return zp, min(127, zp + rng.randint(0, 100))
    lo = rng.randint(-128, 127)
    if kind == "point":
        return lo, lo
    return lo, rng.randint(lo, 127)


def _zp_choice(rng):
    return rng.choice([-128, 127, 0, -1, rng.randint(-128, 127), rng.randint(-128, 127)])


def _mult_choice(rng):
    return rng.choice([M_MIN, M_MAX, 0, rng.randint(M_MIN, M_MAX), rng.randint(M_MIN, M_MAX),
                       rng.randint(M_MIN, M_MAX)])


def _vector(rng, acc, bias, mult, shift, zp=None, clamp=None):
    zp = _zp_choice(rng) if zp is None else zp
    act_min, act_max = _clamp_choice(rng, zp) if clamp is None else clamp
    return {"acc": _wrap(acc), "bias": _wrap(bias), "multiplier": mult, "shift": shift,
            "output_zero_point": zp, "act_min": act_min, "act_max": act_max}


def _acc_for_output(rng, mult, shift, target):
    """An x with MultiplyByQuantizedMultiplier(x, mult, shift) close to ``target`` (in range)."""
    if mult == 0:
        return rng.randint(INT32_MIN, INT32_MAX)
    x = round(target * 2 ** (31 - shift) / mult) + rng.randint(-2, 2)
    return max(INT32_MIN, min(INT32_MAX, x))


def random_vectors(rng: random.Random, count):
    """Random vectors: half land near the int8 range (visible outputs), half anywhere in int32."""
    vectors = []
    for _ in range(count):
        mult = _mult_choice(rng)
        shift = rng.choice([rng.randint(-31, 30), rng.randint(-16, 1), rng.randint(-12, -4)])
        bias = rng.choice([0, rng.randint(-2**20, 2**20), rng.randint(INT32_MIN, INT32_MAX)])
        kind = rng.random()
        if kind < 0.5:
            x = _acc_for_output(rng, mult, shift, rng.uniform(-300, 300))
            acc = x - bias
        elif kind < 0.75:
            acc = rng.randint(INT32_MIN, INT32_MAX)
        else:
            acc = rng.choice([1, -1]) * rng.getrandbits(rng.randint(0, 31))
        vectors.append(_vector(rng, acc, bias, mult, shift))
    return vectors


def extreme_vectors(rng: random.Random):
    """Extreme accumulators and int32-wrapping bias adds, for EVERY shift and the edge multipliers."""
    pairs = [(INT32_MIN, 0), (INT32_MAX, 0), (0, 0), (1, 0), (-1, 0), (0, INT32_MIN), (0, INT32_MAX),
             (INT32_MAX, 1), (INT32_MIN, -1), (INT32_MIN, INT32_MIN), (INT32_MAX, INT32_MAX),
             (-1, INT32_MIN), (2**30, 2**30), (-(2**30), -(2**30) - 1)]
    vectors = []
    for acc, bias in pairs:
        for shift in SHIFTS:
            for mult in (M_MIN, M_MAX, 0, rng.randint(M_MIN, M_MAX)):
                vectors.append(_vector(rng, acc, bias, mult, shift))
    return vectors


def tie_vectors(rng: random.Random):
    """Exact rounding ties (and their neighbours +-1) of both rounding steps, for every shift.

    SRDHM ties: a*M = 2^30 (mod 2^31) -- with M = 2^30 any odd a, with an odd M (and any left
    shift) a = 2^(30-left) / M (mod 2^(31-left)). RoundingDivideByPOT ties: q = k*2^e + 2^(e-1),
    reached with the smallest a for which floor((a*M + 2^30) / 2^31) = q; with M = 2^30 and
    a = 2q - 1 both steps are ties at once (double rounding). k is small (visible output) or random.
    """
    vectors = []
    for shift in SHIFTS:
        left, e = max(shift, 0), max(-shift, 0)
        for _ in range(3):
            zp = rng.choice([0, -128, 127, rng.randint(-128, 127)])
            clamp = (-128, 127) if rng.random() < 0.7 else None
            bias = rng.choice([0, 0, rng.randint(INT32_MIN, INT32_MAX)])
            # SRDHM ties.
            mult = rng.randint(M_MIN, M_MAX) | 1
            mod = 2 ** (31 - left)
            base = (2 ** (30 - left) * pow(mult, -1, mod)) % mod
            x = base + mod * rng.randint(-(2**31) // mod, (2**31) // mod - 1)
            for d in (0, 0, 1, -1):
                vectors.append(_vector(rng, _wrap(x + d) - bias, bias, mult, shift, zp, clamp))
            if left == 0:
                odd = rng.randint(-(2**30), 2**30 - 1) * 2 + 1
                vectors.append(_vector(rng, odd - bias, bias, M_MIN, shift, zp, clamp))
            if e == 0:
                continue
            # RoundingDivideByPOT ties (and double ties with M = 2^30).
            for k in (rng.randint(-3, 2), rng.randint(-(2 ** max(30 - e, 0)), 2 ** max(30 - e, 0) - 1)):
                q = k * 2**e + 2 ** (e - 1)
                for mult in (M_MIN, M_MAX, rng.randint(M_MIN, M_MAX)):
                    a = -((-(q * 2**31 - 2**30)) // mult)  # ceil
                    if not INT32_MIN <= a <= INT32_MAX:
                        continue
                    for d in (0, 0, 1, -1):
                        vectors.append(_vector(rng, a + d - bias, bias, mult, shift, zp, clamp))
                if INT32_MIN <= 2 * q - 1 <= INT32_MAX:
                    vectors.append(_vector(rng, 2 * q - 1 - bias, bias, M_MIN, shift, zp, clamp))
    return vectors


def clamp_vectors(rng: random.Random):
    """Outputs swept across both clamp edges, with ReLU, ReLU6-like, single-value and full ranges,
    and zero points -128 / 127 (including the int32 wrap of r + zero point)."""
    vectors = []
    for zp in (-128, 127, 0, rng.randint(-128, 127)):
        for clamp in ((-128, 127), (zp, 127), (zp, min(127, zp + 24)), (5, 5), (-128, -128),
                      (127, 127), (-20, 30)):
            for target in range(-140, 141, 7):
                mult = rng.randint(M_MIN, M_MAX)
                shift = rng.randint(-12, -1)
                x = _acc_for_output(rng, mult, shift, target - zp + rng.uniform(-1, 1))
                vectors.append(_vector(rng, x, 0, mult, shift, zp, clamp))
        # r near INT32_MAX / INT32_MIN: r + zp wraps in int32 (as in the reference).
        for x in (INT32_MAX, INT32_MAX - 100, INT32_MIN, INT32_MIN + 100):
            vectors.append(_vector(rng, x, 0, M_MAX, 0, zp))
            vectors.append(_vector(rng, x, 0, M_MIN, 1, zp))
    return vectors


def edge_vectors(rng: random.Random):
    return extreme_vectors(rng) + tie_vectors(rng) + clamp_vectors(rng)


def to_payload(vec, last=0, tag=None):
    payload = {k: vec[k] for k in FIELDS}
    payload["last"] = last
    if tag is not None:
        payload["tag"] = tag
    return payload


# --- cocotb tests ----------------------------------------------------------------------------

def _setup():
    from hw.requantizer import requant_in_layout, requant_out_layout
    from spec.config import AcceleratorConfig

    from .common import tb_params
    params = tb_params()
    cfg = AcceleratorConfig.from_dict(params["config"])
    tag_width = params.get("tag_width", 0)
    return params, requant_in_layout(cfg, tag_width), requant_out_layout(cfg, tag_width), tag_width


async def _run(dut, vectors, rng, gap_probability, stall_probability, name):
    from .common import reset, start_clock
    from .streams import StreamSink, StreamSource, run_streams

    params, in_layout, out_layout, tag_width = _setup()
    await start_clock(dut)
    await reset(dut)
    source = StreamSource(dut, "i", in_layout, rng, gap_probability)
    sink = StreamSink(dut, "o", out_layout, rng, stall_probability)
    tags = [rng.getrandbits(tag_width) if tag_width else None for _ in vectors]
    lasts = [int(rng.random() < 0.25) for _ in vectors]
    for vec, last, tag in zip(vectors, lasts, tags, strict=True):
        source.put(to_payload(vec, last, tag))
    cycles = await run_streams(dut, [source], [sink], lambda: len(sink.received) == len(vectors),
                               max_cycles=20 * len(vectors) + 200)
    want = expected_all(vectors)
    assert len(sink.received) == len(vectors)
    bad = []
    for n, (got, vec) in enumerate(zip(sink.received, vectors, strict=True)):
        got_value = int(got.value)
        if got_value != want[n] or int(got.last) != lasts[n] or (tag_width and int(got.tag) != tags[n]):
            bad.append(f"#{n} {vec}: RTL {got_value} (last {int(got.last)}), "
                       f"golden {want[n]} (last {lasts[n]})")
    assert not bad, f"{len(bad)} of {len(vectors)} mismatches:\n" + "\n".join(bad[:20])
    in_range = sum(1 for v in want if -128 < v < 127)
    dut._log.info(f"{name}: {len(vectors)} vectors bit-exact in {cycles} cycles "
                  f"({in_range} outputs strictly inside (-128, 127))")
    return cycles


@cocotb.test()
async def edge_cases(dut):
    """Extreme accumulators and bias wraps for every shift, exact ties of both rounding steps for
    every shift, clamp and zero-point edges; random valid gaps and ready stalls."""
    from .common import seeded_rng, tb_params
    rng = seeded_rng(dut, "edge_cases")
    vectors = edge_vectors(rng)
    sample = tb_params().get("edge_sample")
    if sample and sample < len(vectors):  # slower variants (serial multiplier) run a random subset
        vectors = rng.sample(vectors, sample)
    ties = [tie_kind(v) for v in vectors]
    dut._log.info(f"edge_cases: {sum('srdhm' in t for t in ties)} SRDHM ties, "
                  f"{sum('rdbpot' in t for t in ties)} RoundingDivideByPOT ties, "
                  f"{sum(len(t) == 2 for t in ties)} double ties")
    await _run(dut, vectors, rng, 0.2, 0.2, "edge_cases")


@cocotb.test()
async def random_with_gaps_and_backpressure(dut):
    """Random vectors, random valid gaps (30 %) and ready stalls (30 %)."""
    from .common import seeded_rng, tb_params
    rng = seeded_rng(dut, "random")
    vectors = random_vectors(rng, tb_params().get("random_count", 4000))
    await _run(dut, vectors, rng, 0.3, 0.3, "random")


@cocotb.test()
async def long_stalls(dut):
    """Bursty ready: the output stalls for long stretches while the input keeps offering."""
    from .common import seeded_rng
    rng = seeded_rng(dut, "long_stalls")
    vectors = random_vectors(rng, 300)
    await _run(dut, vectors, rng, 0.0, 0.9, "long_stalls")


@cocotb.test()
async def throughput_and_latency(dut):
    """With ready always high and no gaps a beat is accepted every cycle, and the first result
    appears exactly ``latency`` cycles after its beat was accepted (counted from the handshakes)."""
    from .common import reset, seeded_rng, start_clock
    from .streams import StreamSink, StreamSource, run_streams

    params, in_layout, out_layout, _ = _setup()
    rng = seeded_rng(dut, "throughput")
    await start_clock(dut)
    await reset(dut)
    vectors = random_vectors(rng, 500)
    source = StreamSource(dut, "i", in_layout)
    sink = StreamSink(dut, "o", out_layout)
    for vec in vectors:
        source.put(to_payload(vec))
    accepted, delivered = [], []

    def count(cycle, flags):
        if flags[0]:
            accepted.append(cycle)
        if flags[1]:
            delivered.append(cycle)

    await run_streams(dut, [source], [sink], lambda: len(sink.received) == len(vectors), 50_000, count)
    assert [int(g.value) for g in sink.received] == expected_all(vectors)
    # cycles_per_element is 1 for the parallel multiplier, k for the digit-serial one (which
    # reaches its pace once the two front registers have filled).
    k = params.get("cycles_per_element", 1)
    skip = 0 if k == 1 else 3
    spacing = {b - a for a, b in zip(accepted[skip:], accepted[skip + 1:], strict=False)}
    out_spacing = {b - a for a, b in zip(delivered, delivered[1:], strict=False)}
    window = accepted[-1] - accepted[0] + 1
    latency = delivered[0] - accepted[0]
    dut._log.info(f"throughput: {len(accepted)} elements in {window} cycles "
                  f"({k} cycle(s) per element); latency {latency} cycles")
    assert spacing == {k}, f"input accepted every {spacing} cycles, expected {k}"
    assert out_spacing == {k}, f"output every {out_spacing} cycles, expected {k}"
    assert latency == params["latency"], f"latency {latency}, expected {params['latency']}"
