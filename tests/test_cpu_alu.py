"""hw/cpu/alu.py (with hw/cpu/shifter.py) in amaranth.sim against a Python model of the RV32I
operations: every select, random and edge operands (0, 1, 2^31 - 1, 2^31, 2^32 - 1, ...), seed printed."""

import random

from amaranth.sim import Simulator

from hw.cpu.alu import Alu, LogicOp
from hw.cpu.shifter import Shifter

MASK = 0xFFFF_FFFF
EDGES = [0, 1, 2, 31, 32, 0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, 0xFFFF_FFFE, 0xFFFF_FFFF, 0x5555_5555]


def _signed(x):
    return x - (1 << 32) if x & 0x8000_0000 else x


def operands(seed, count=120):
    rng = random.Random(seed)
    pairs = [(a, b) for a in EDGES for b in EDGES]
    pairs += [(rng.getrandbits(32), rng.getrandbits(32)) for _ in range(count)]
    pairs += [(rng.getrandbits(32), rng.randrange(32)) for _ in range(count // 3)]   # small shift amounts
    return pairs


# name: (input settings, model of ``result``)
OPS = {
    "add":  ({"sel_sum": 1}, lambda a, b: (a + b) & MASK),
    "sub":  ({"sel_sum": 1, "sub": 1}, lambda a, b: (a - b) & MASK),
    "sll":  ({"sel_sll": 1}, lambda a, b: (a << (b & 31)) & MASK),
    "srl":  ({"sel_sr": 1}, lambda a, b: a >> (b & 31)),
    "sra":  ({"sel_sr": 1, "sra": 1}, lambda a, b: (_signed(a) >> (b & 31)) & MASK),
    "slt":  ({"sel_slt": 1, "sub": 1}, lambda a, b: int(_signed(a) < _signed(b))),
    "sltu": ({"sel_slt": 1, "sub": 1, "slt_unsigned": 1}, lambda a, b: int(a < b)),
    "xor":  ({"logic_op": LogicOp.XOR}, lambda a, b: a ^ b),
    "or":   ({"logic_op": LogicOp.OR}, lambda a, b: a | b),
    "and":  ({"logic_op": LogicOp.AND}, lambda a, b: a & b),
    "none": ({}, lambda a, b: 0),
}
SELECTS = ["sub", "sra", "sel_sum", "sel_sll", "sel_sr", "sel_slt", "slt_unsigned", "logic_op"]


def _run(dut, bench):
    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()


def test_alu_matches_model(seed):
    dut = Alu()
    pairs = operands(seed)
    failures = []

    async def bench(ctx):
        for name, (settings, model) in OPS.items():
            for sel in SELECTS:
                ctx.set(getattr(dut, sel), settings.get(sel, 0))
            for a, b in pairs:
                ctx.set(dut.a, a)
                ctx.set(dut.b, b)
                got = ctx.get(dut.result)
                if got != model(a, b):
                    failures.append((name, hex(a), hex(b), hex(got), hex(model(a, b))))
                sub = settings.get("sub", 0)
                want_sum = (a - b if sub else a + b) & MASK
                flags = (ctx.get(dut.sum), ctx.get(dut.eq))
                if flags != (want_sum, int(a == b)):
                    failures.append((name, "sum/eq", hex(a), hex(b), flags))
                if sub and (ctx.get(dut.lt), ctx.get(dut.ltu)) != (int(_signed(a) < _signed(b)), int(a < b)):
                    failures.append((name, "lt/ltu", hex(a), hex(b)))

    _run(dut, bench)
    assert not failures, f"{len(failures)} mismatches, first {failures[:5]}"


def test_shifter_matches_model(seed):
    dut = Shifter()
    rng = random.Random(seed)
    values = EDGES + [rng.getrandbits(32) for _ in range(20)]
    failures = []

    async def bench(ctx):
        for value in values:
            ctx.set(dut.value, value)
            for amount in range(32):
                ctx.set(dut.amount, amount)
                for left, arithmetic in [(0, 0), (0, 1), (1, 0), (1, 1)]:
                    ctx.set(dut.left, left)
                    ctx.set(dut.arithmetic, arithmetic)
                    if left:
                        got, want = ctx.get(dut.left_result), (value << amount) & MASK
                    elif arithmetic:
                        got, want = ctx.get(dut.right_result), (_signed(value) >> amount) & MASK
                    else:
                        got, want = ctx.get(dut.right_result), value >> amount
                    if got != want:
                        failures.append((hex(value), amount, left, arithmetic, hex(got), hex(want)))

    _run(dut, bench)
    assert not failures, f"{len(failures)} mismatches, first {failures[:5]}"
