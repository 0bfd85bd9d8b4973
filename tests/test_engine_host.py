"""Unit tests of the conv engine's host-side components against the register map (spec/registers.py).

Each test drives one component in Amaranth's simulator with random (seeded, printed) traffic and
compares every response with a Python model written from the register records: the register file
(write / read decode, START-check inputs), the two START-check variants, the two host-write
variants, the two output-memory variants, the performance and port counters. Whole layers through
these components run in tests/test_conv_engine.py and tests/test_cfu.py.
"""

import random

import pytest
from amaranth.hdl import ClockDomain, Module, Shape
from amaranth.sim import Simulator

from hw.cfu_counters import NoPortCounters, PortCounters
from hw.host_bus import host_addr_width
from hw.host_writes import DirectHostWrites, RegisteredHostWrites, memory_shapes
from hw.layer_registers import SIZE_REGISTERS, LayerRegisters
from hw.output_memory import NibbleOutputMemory, OutputMemory
from hw.perf_counters import PerfCounters, counters_layout
from hw.registers import STATUS_LAYOUT, Space
from hw.start_check import CombinationalStartCheck, RegisteredStartCheck
from spec.config import AcceleratorConfig, Output
from spec.registers import (
    COUNTER,
    ERROR_CODE,
    REG,
    REGISTERS,
    STATUS_FIELDS,
    pool_start_limit,
    register_limit,
    register_stored,
)
from spec.registers import Space as SpecSpace

CONFIGS = {"requant": AcceleratorConfig(), "raw": AcceleratorConfig(output=Output.RAW, perf_counters=False)}


def run(dut, bench):
    m = Module()
    m.domains.sync = ClockDomain()      # also for the purely combinational variants
    m.submodules.dut = dut
    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def test_generated_types_follow_the_spec():
    assert {m.name: m.value for m in Space} == {n: i for i, n in SpecSpace.NAMES.items()}
    fields = {name: (f.offset, f.width) for name, f in STATUS_LAYOUT}
    assert fields == {f.name.lower(): (f.lsb, f.width) for f in STATUS_FIELDS}
    assert STATUS_LAYOUT.size == 32


def _signed8(v):
    v &= 0xFF
    return v - 256 if v & 0x80 else v


def _reg_model(dut, name, value):
    """What a register holds after a write of ``value``: truncated to its field (as wide as the
    register's limit needs, or wider), int8 registers signed."""
    if name in ("INPUT_ZP", "OUTPUT_ZP", "ACT_MIN", "ACT_MAX"):
        return _signed8(value)
    fields = {n.lower(): f.shape for layout in (dut.shape.shape(), dut.params.shape()) for n, f in layout}
    shape = Shape.cast(fields[name.lower()])
    assert shape.width >= register_limit(dut.config, name).bit_length() and not shape.signed
    return value & ((1 << shape.width) - 1)


@pytest.mark.parametrize("variant", CONFIGS)
def test_layer_registers(variant, seed):
    cfg = CONFIGS[variant]
    rng = random.Random(seed)
    aw = host_addr_width(cfg)
    dut = LayerRegisters(cfg, aw, counters_layout(cfg))
    rw = [r.name for r in REGISTERS if r.access == "rw"]
    model = {n: 0 for n in rw}
    model.update(ACT_MIN=-128, ACT_MAX=127)

    def shape_ok(md):
        sizes = all(1 <= md[n] <= register_limit(cfg, n) for n in SIZE_REGISTERS)
        return int(sizes and md["PAD_TOP"] < md["R"] and md["PAD_LEFT"] < md["S"] and md["POOL"] <= 2)

    async def bench(ctx):
        bus = dut.bus
        ctx.set(dut.counters.cycles, 1234)
        for _ in range(400):
            name = rng.choice(rw)
            limit = register_limit(cfg, name)
            value = rng.choice([0, 1, limit, rng.randint(0, limit), rng.getrandbits(32)])
            busy = rng.random() < 0.2
            ctx.set(dut.busy, busy)
            ctx.set(bus.space, Space.REGS)
            ctx.set(bus.addr, REG[name])
            ctx.set(bus.wdata, value)
            ctx.set(bus.we, 1)
            start = REG[name] == REG["CTRL"] and value & 1
            assert ctx.get(dut.start_request) == start
            await ctx.tick()
            ctx.set(bus.we, 0)
            if not busy and register_stored(cfg, name):
                model[name] = _reg_model(dut, name, value)
            # read every register back (one cycle latency), and once from another space (0)
            for reg in REGISTERS:
                ctx.set(bus.addr, reg.index)
                ctx.set(bus.re, 1)
                await ctx.tick()
                got = ctx.get(bus.rdata)
                if reg.access == "rw":
                    want = model[reg.name] if register_stored(cfg, reg.name) else 0
                elif reg.name == "CYCLES":
                    want = 1234
                else:
                    want = 0
                assert got == want & 0xFFFFFFFF, (reg.name, got, want)
            ctx.set(bus.space, Space.ACT_OUT)
            await ctx.tick()
            assert ctx.get(bus.rdata) == 0
            ctx.set(bus.re, 0)
            await ctx.tick()   # row_bytes follows W * C one cycle later
            stored = {n: (model[n] if register_stored(cfg, n) else 0) for n in rw}
            assert ctx.get(dut.shape_ok) == shape_ok(stored)
            # with every POOL value supported, POOL = 3 fails shape_ok (reported first), not pool_bad
            limit = pool_start_limit(cfg)
            want = limit < register_limit(cfg, "POOL") and stored["POOL"] > limit
            assert ctx.get(dut.pool_bad) == int(want)
            assert ctx.get(dut.row_bytes) == stored["W"] * stored["C"]

    run(dut, bench)


@pytest.mark.parametrize("registered", [False, True])
def test_start_check_variants(registered, seed):
    cfg = AcceleratorConfig()
    rng = random.Random(seed)
    dut = (RegisteredStartCheck if registered else CombinationalStartCheck)(cfg)
    line = cfg.lb_line_bytes

    async def bench(ctx):
        prev = (1, 0)                     # the registered variant's reset: the registers are no layer
        for _ in range(300):
            ok, pool_bad = rng.getrandbits(1), rng.getrandbits(1)
            row = rng.choice([0, 1, line - 4, line - 3, line - 1, line, line + 1, rng.getrandbits(12)])
            accept, start = rng.getrandbits(1), rng.getrandbits(1)
            for name, v in (("shape_ok", ok), ("pool_bad", pool_bad), ("row_bytes", row),
                            ("accept", accept), ("start", start)):
                ctx.set(getattr(dut, name), v)
            shape_bad, pbad = (prev if registered else (1 - ok, pool_bad))
            # registered: ceil4(row) > line as row > floor4(line); combinational: row + 3 > line for
            # a row that is not a whole number of words
            row_bad = row > (line & ~3) if registered else row + (3 if row % 4 else 0) > line
            want = (ERROR_CODE["BAD_SHAPE"] if shape_bad else ERROR_CODE["ROW_TOO_WIDE"] if row_bad
                    else ERROR_CODE["POOL_UNSUPPORTED"] if pbad else 0)
            assert ctx.get(dut.code) == want and ctx.get(dut.bad) == int(want != 0)
            assert ctx.get(dut.clear_counters) == (0 if registered else accept)
            assert ctx.get(dut.load_counters) == (start if registered else 0)
            await ctx.tick()
            prev = (1 - ok, pool_bad)

    run(dut, bench)


@pytest.mark.parametrize("registered", [False, True])
def test_host_write_variants(registered, seed):
    cfg = AcceleratorConfig()
    rng = random.Random(seed)
    aw = host_addr_width(cfg)
    dut = (RegisteredHostWrites if registered else DirectHostWrites)(cfg, aw)
    shapes = memory_shapes(cfg)
    assert set(shapes) == {"act_in", "weights", "bias", "mult", "shift"}

    def enables(space, addr, we):
        out = {}
        for name, (width, _) in shapes.items():
            parts = max(1, width // 32)
            hit = we and space == Space[name.upper()]
            out[name] = sum(1 << k for k in range(parts) if hit and addr % parts == k)
        return out

    async def bench(ctx):
        pending = None
        for _ in range(300):
            space = rng.choice(list(Space))
            addr, data, we = rng.getrandbits(aw), rng.getrandbits(32), rng.getrandbits(1)
            ctx.set(dut.bus.space, space)
            ctx.set(dut.bus.addr, addr)
            ctx.set(dut.bus.wdata, data)
            ctx.set(dut.bus.we, we)
            now = (addr, data, enables(space, addr, we))
            want = pending if registered else now
            if want is not None:
                assert ctx.get(dut.mem.addr) == want[0] and ctx.get(dut.mem.data) == want[1]
                assert {n: ctx.get(getattr(dut.mem.en, n)) for n in shapes} == want[2]
            assert ctx.get(dut.bus.rdata) == 0
            await ctx.tick()
            pending = now

    run(dut, bench)


@pytest.mark.parametrize("memory", [OutputMemory, NibbleOutputMemory])
def test_output_memory_variants(memory, seed):
    rng = random.Random(seed)
    words, aw = 64, 8
    dut = memory(words, aw)
    model = [0] * words

    async def bench(ctx):
        for _ in range(400):
            addr, data, en = rng.randrange(words), rng.getrandbits(32), rng.getrandbits(4)
            ctx.set(dut.w_addr, addr)
            ctx.set(dut.w_data, data)
            ctx.set(dut.w_en, en)
            raddr = rng.randrange(words)
            space = rng.choice([Space.ACT_OUT, Space.ACT_OUT, Space.REGS])
            ctx.set(dut.bus.addr, raddr)
            ctx.set(dut.bus.space, space)
            ctx.set(dut.bus.re, 1)
            want = model[raddr] if space == Space.ACT_OUT else 0
            await ctx.tick()
            ctx.set(dut.w_en, 0)
            assert ctx.get(dut.bus.rdata) == want, (raddr, hex(want))
            mask = sum(0xFF << 8 * k for k in range(4) if en >> k & 1)
            model[addr] = (model[addr] & ~mask) | (data & mask)

    run(dut, bench)


@pytest.mark.parametrize("perf", [True, False])
def test_perf_counters(perf, seed):
    cfg = AcceleratorConfig(perf_counters=perf)
    rng = random.Random(seed)
    dut = PerfCounters(cfg)

    async def bench(ctx):
        cycles = mac = 0
        for _ in range(300):
            busy, beat = rng.random() < 0.8, rng.getrandbits(1)
            clear = not busy and rng.random() < 0.1
            load = busy and rng.random() < 0.05
            for name, v in (("busy", busy), ("beat", beat), ("clear", clear), ("load", load)):
                ctx.set(getattr(dut, name), v)
            await ctx.tick()
            if clear:
                cycles = mac = 0
            if busy:
                cycles, mac = (1, beat) if load else (cycles + 1, mac + beat)
            assert ctx.get(dut.counters.cycles) == cycles
            if perf:
                assert ctx.get(dut.counters.mac_cycles) == mac
                assert ctx.get(dut.counters.stall_cycles) == cycles - mac

    run(dut, bench)


@pytest.mark.parametrize("built", [True, False])
def test_port_counters(built, seed):
    rng = random.Random(seed)
    dut = (PortCounters if built else NoPortCounters)(3)
    pulses = {"COMMANDS": "accept", "PORT_CYCLES": "port_cycle", "WAIT_CYCLES": "wait_cycle",
              "RSP_STALL_CYCLES": "stall_cycle"}

    async def bench(ctx):
        model = dict.fromkeys(pulses, 0)
        for _ in range(200):
            values = {p: rng.getrandbits(1) for p in pulses.values()}
            clear = rng.random() < 0.05
            for name, v in values.items():
                ctx.set(getattr(dut, name), v)
            ctx.set(dut.clear, clear)
            await ctx.tick()
            for name, pulse in pulses.items():
                model[name] = 0 if clear else model[name] + values[pulse]
            for name, index in COUNTER.items():
                ctx.set(dut.index, index)
                want = model.get(name, 0) if built else 0
                assert ctx.get(dut.value) == want, name

    run(dut, bench)
