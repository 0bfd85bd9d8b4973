"""Ice40SpramMemory (SB_SPRAM256KA behind lib.memory) and the iCE40 conv engine that uses it.

* amaranth.sim: the behavioural model against a Python dictionary (lanes, banks, byte enables,
  ``en`` hold, the poison word on a read during a write); parameter checks; the platform mixin.
* cocotb, SpramCheck harness: the real SB_SPRAM256KA (Yosys's cells_sim.v) and the model against
  an ordinary lib.memory on pseudo-random reads and byte-masked writes, compared in gateware.
* cocotb, the whole engine with ICE40_SOC.impl (SPRAM activations, SB_MAC16 products; behavioural models and
  then the real cells) on small layers through tb/bench_conv_tb.py, bit-exact against golden/.
"""

import random
from dataclasses import asdict

import pytest
from amaranth.hdl import Cat, Elaboratable, Module, Mux, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import Out
from amaranth.sim import Simulator

from bench.layers import BenchLayer
from boards.boards import ICE40_ENGINE_CONFIG, ICE40_SOC
from hw.conv_engine import ConvEngine
from hw.ice40_products import Ice40ProductArray
from hw.ice40_spram import SPRAM_POISON, Ice40SpramMemory, SpramSimPlatform
from sim.netlist import cells_sim_path
from sim.runner import run_cocotb, simulator_name
from spec.config import Implementation, Primitives
from tests.test_ice40_products import build_with_sources

# Components built only to check their parameter errors are never elaborated.
pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")


class _Wrapped(Elaboratable):
    """A memory's ports plus the SPRAM implementation of it (the memory itself is not elaborated)."""

    def __init__(self, shape, depth, granularity):
        self.mem = memory.Memory(shape=shape, depth=depth, init=[])
        self.wp = self.mem.write_port(granularity=granularity)
        self.rp = self.mem.read_port()
        self.spram = Ice40SpramMemory(self.mem, primitive="model")
        self.mem._MustUse__silence = True

    def elaborate(self, platform):
        m = Module()
        m.submodules.spram = self.spram
        return m


@pytest.mark.parametrize("shape, depth, granularity", [
    (32, 16384, 8),      # the engine's activation memories: 2 lanes, 1 bank, byte enables
    (32, 1000, None),    # whole-word writes, small depth
    (8, 20000, None),    # 1 lane (half used), 2 banks
])
def test_model_against_dictionary(shape, depth, granularity):
    top = _Wrapped(shape, depth, granularity)
    assert top.spram.lanes == -(-shape // 16) and top.spram.banks == -(-depth // 16384)
    rng = random.Random(7)
    addresses = [rng.randrange(depth) for _ in range(24)] + [0, depth - 1]
    contents = {}
    en_bits = len(top.wp.en)
    chunk = shape // en_bits
    sim = Simulator(top)
    sim.add_clock(1e-6)

    poison = int(f"{SPRAM_POISON:04x}" * top.spram.lanes, 16) & ((1 << shape) - 1)

    async def bench(ctx):
        expected_read = None
        read_bank = 0     # the bank whose output register the read port shows
        for n in range(600):
            op = rng.choice(["write", "read", "read", "idle"])
            addr = rng.choice(addresses)
            ctx.set(top.wp.en, 0)
            ctx.set(top.rp.en, 0)
            if op == "write":
                data = rng.getrandbits(shape)
                en = rng.getrandbits(en_bits) or 1
                ctx.set(top.wp.addr, addr)
                ctx.set(top.wp.data, data)
                ctx.set(top.wp.en, en)
                old = contents.get(addr, 0)
                for k in range(en_bits):
                    if en >> k & 1:
                        mask = ((1 << chunk) - 1) << (k * chunk)
                        old = (old & ~mask) | (data & mask)
                contents[addr] = old
            elif op == "read":
                ctx.set(top.rp.addr, addr)
                ctx.set(top.rp.en, 1)
            # A read together with a write: the single-port contract says "undefined"; any write
            # also makes the held read data undefined. The model answers the poison word.
            collide = op == "write" and n % 7 == 0
            if collide:
                ctx.set(top.rp.addr, rng.choice(addresses))
                ctx.set(top.rp.en, 1)
            await ctx.tick()
            got = ctx.get(top.rp.data)
            if op == "read":
                expected_read = contents.get(addr, 0)
                read_bank = addr // 16384
            elif op == "write" and addr // 16384 == read_bank:
                expected_read = poison   # the written bank's output register is undefined
            if expected_read is not None:
                assert got == expected_read, f"step {n} ({op} {addr}): {got:#x} != {expected_read:#x}"

    sim.add_testbench(bench)
    sim.run()


def test_single_port_limits_are_checked():
    def check(message, **kw):
        mem = memory.Memory(shape=kw.get("shape", 32), depth=64, init=kw.get("init", []))
        for _ in range(kw.get("writes", 1)):
            mem.write_port(granularity=kw.get("granularity"))
        wp = mem.write_ports[0] if mem.write_ports else None
        for _ in range(kw.get("reads", 1)):
            mem.read_port(transparent_for=(wp,) if kw.get("transparent") else (),
                          domain=kw.get("domain", "sync"))
        mem._MustUse__silence = True
        with pytest.raises(ValueError, match=message):
            Ice40SpramMemory(mem, primitive="model").elaborate(None)

    check(r"exactly one write port and at most one read port, not 2 and 1", writes=2)
    check(r"exactly one write port and at most one read port, not 1 and 2", reads=2)
    check(r"granularity = 2: SPRAM writes whole nibbles", granularity=2)
    check(r"no transparent read port", transparent=True)
    check(r"no asynchronous read", domain="comb")
    check(r"init must be all zero", init=[1])
    with pytest.raises(ValueError, match="primitive = 'ebr' is not supported"):
        Ice40SpramMemory(memory.Memory(shape=8, depth=4, init=[]), primitive="ebr")


def test_engine_spram_choice_is_checked():
    with pytest.raises(ValueError, match=r"'bias' cannot be single-port"):
        Implementation(primitives=Primitives.ICE40, spram=("act_in", "bias"))
    with pytest.raises(ValueError, match=r"spram = \('act_in',\) needs primitives = Primitives.ICE40"):
        Implementation(spram=("act_in",))


def test_mapping_puts_requested_memories_in_spram():
    from amaranth.back import verilog
    platform = SpramSimPlatform()
    engine = ConvEngine(ICE40_ENGINE_CONFIG, ICE40_SOC.impl,
                        product_array=lambda c: Ice40ProductArray(c, primitive="model"))
    verilog.convert(engine, name="eng", platform=platform, emit_src=False)
    mapped = platform.spram_memories
    # act_in (4 KB: 1024 words, still two 16-bit-wide blocks) and act_out (64 KB)
    assert sorted((s.width, s.memory.depth, s.blocks) for s in mapped) == [(32, 1024, 2), (32, 16384, 2)]
    # the instance primitive on a real iCE40 platform
    platform = SpramSimPlatform(primitive="instance")
    text = verilog.convert(ConvEngine(ICE40_ENGINE_CONFIG, ICE40_SOC.impl), name="eng", platform=platform,
                           emit_src=False)
    assert text.count("SB_SPRAM256KA ") == 4 and text.count("SB_MAC16 #(") == 8


# -- cocotb: the real cell ------------------------------------------------------------------------

class SpramCheck(wiring.Component):
    """Ice40SpramMemory (``primitive``) vs lib.memory on LFSR-driven operations.

    First every address of the exercised set (256 addresses spread over all 14 address bits) is
    written whole (the real SPRAM starts undefined), then each cycle is a write with random byte
    enables, a read, or idle, chosen at random. A read's data is compared one cycle later.
    """

    done: Out(1)
    reads: Out(32)
    writes: Out(32)
    errors: Out(32)

    def __init__(self, primitive, cycles):
        self._primitive = primitive
        self._cycles = cycles
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        mems = []
        for name in ("dut", "ref"):
            mem = memory.Memory(shape=32, depth=16384, init=[])
            mems.append((mem, mem.write_port(granularity=8), mem.read_port()))
            if name == "dut":
                m.submodules.dut = Ice40SpramMemory(mem, primitive=self._primitive)
                mem._MustUse__silence = True
            else:
                m.submodules.ref = mem
        lfsr = Signal(32, init=0x1234_5678)
        m.d.sync += lfsr.eq(Cat(lfsr[1:], lfsr[0] ^ lfsr[10] ^ lfsr[30] ^ lfsr[31]))
        step = Signal(32)
        m.d.sync += step.eq(step + 1)
        init_phase = step < 256
        running = step < self._cycles + 256

        def spread(a):  # 8 bits -> a 14-bit address using every address bit
            return Cat(a[0:4], a[4:6].replicate(3), a[6:8].replicate(2))[:14]

        op = lfsr[20:22]
        write = Signal()
        read = Signal()
        m.d.comb += [
            write.eq(running & (init_phase | (op == 0) | (op == 1))),
            read.eq(running & ~init_phase & (op == 2)),
        ]
        addr = Mux(init_phase, spread(step[:8]), spread(lfsr[0:8]))
        for _mem, wp, rp in mems:
            m.d.comb += [
                wp.addr.eq(addr), wp.data.eq(Cat(lfsr[8:24], lfsr[12:28])),
                wp.en.eq(Mux(write, Mux(init_phase, 0xF, lfsr[24:28] | 1), 0)),
                rp.addr.eq(addr), rp.en.eq(read),
            ]
        was_read = Signal()
        m.d.sync += was_read.eq(read)
        with m.If(was_read):
            m.d.sync += self.reads.eq(self.reads + 1)
            with m.If(mems[0][2].data != mems[1][2].data):
                m.d.sync += self.errors.eq(self.errors + 1)
        with m.If(write & ~init_phase):
            m.d.sync += self.writes.eq(self.writes + 1)
        m.d.sync += self.done.eq(~running & ~was_read)
        return m


@pytest.mark.cocotb
@pytest.mark.parametrize("primitive", ["instance", "model"])
def test_spram_against_reference_memory(primitive):
    cycles = 20000 if simulator_name() == "verilator" else 4000
    design = build_with_sources(SpramCheck(primitive, cycles), f"ice40_spram_check_{primitive}", "32x16k",
                                 [cells_sim_path()] if primitive == "instance" else [], simulator_name())
    run_cocotb(design, "tb.ice40_spram_tb", run_name=primitive, params={"cycles": cycles})


# -- cocotb: the iCE40 conv engine ----------------------------------------------------------------

ENGINE_LAYERS = [
    BenchLayer("conv3x3 8x8x8->8 SAME", 8, 8, 8, 8, 3, 3),
    BenchLayer("conv5x5 12x12x4->8 VALID", 12, 12, 4, 8, 5, 5, padding="VALID"),
    BenchLayer("conv3x3 stride2 16x16x4->8", 16, 16, 4, 8, 3, 3, U=2),
    BenchLayer("conv3x3 16x16x8->8 + maxpool", 16, 16, 8, 8, 3, 3, pool="max"),
    BenchLayer("conv1x1 8x8x16->12", 8, 8, 16, 12, 1, 1),
    BenchLayer("depthwise3x3 8x8x8", 8, 8, 8, 8, 3, 3, kind="depthwise"),
]


@pytest.mark.cocotb
@pytest.mark.parametrize("primitive", ["model", "instance"])
def test_ice40_engine_layers(primitive, seed, tmp_path):
    """The UP5K engine configuration, SPRAM activations and SB_MAC16 products, on whole layers."""
    config = ICE40_ENGINE_CONFIG
    engine = ConvEngine(config, ICE40_SOC.impl,
                        product_array=lambda c: Ice40ProductArray(c, primitive=primitive))
    platform = SpramSimPlatform(primitive=primitive)
    sources = [cells_sim_path()] if primitive == "instance" else []
    design = build_with_sources(engine, f"ice40_engine_{primitive}", config.name, sources,
                                 simulator_name(), platform=platform)
    run_cocotb(design, "tb.bench_conv_tb", run_name=f"seed{seed}",
               params={"config": config.as_dict(), "seed": seed, "log_dir": str(tmp_path),
                       "layers": [asdict(b) for b in ENGINE_LAYERS]}, seed=seed)
