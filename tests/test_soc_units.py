"""Unit checks of the SoC pieces that need no cocotb: the UART transmitter (Amaranth simulator),
the firmware image reaching the RAMs at elaboration, and the generated layer firmware."""

import gc
import random

import numpy as np
import pytest
from amaranth.hdl import Fragment
from amaranth.sim import Simulator

from bench.conv_layers import make_layer
from firmware.layer_image import build_layer_firmware, checksum, layer_header
from hw.soc import Soc, UartTx
from spec.config import AcceleratorConfig, SocConfig


def test_uart_tx_frames():
    cpb = 3
    dut = UartTx(clocks_per_bit=cpb)
    sent = [0x55, 0x00, 0xFF, 0xA3]
    line = []
    flags = {"overflow": 0}

    async def bench(ctx):
        assert ctx.get(dut.tx) == 1
        for byte in sent:
            ctx.set(dut.valid, 1)
            ctx.set(dut.data, byte)
            await ctx.tick()
            ctx.set(dut.valid, 0)
            for _ in range(10 * cpb):
                line.append(ctx.get(dut.tx))
                assert ctx.get(dut.busy) == 1
                await ctx.tick()
            assert ctx.get(dut.busy) == 0
        # A byte offered while busy is dropped and flagged.
        ctx.set(dut.valid, 1)
        ctx.set(dut.data, 1)
        await ctx.tick()
        ctx.set(dut.data, 2)
        flags["overflow"] = ctx.get(dut.overflow)
        await ctx.tick()
        ctx.set(dut.valid, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    for k, byte in enumerate(sent):
        frame = line[k * 10 * cpb:(k + 1) * 10 * cpb]
        bits = [frame[i * cpb + cpb // 2] for i in range(10)]
        assert bits[0] == 0 and bits[9] == 1, f"byte {k}: bad start/stop in {bits}"
        assert sum(b << i for i, b in enumerate(bits[1:9])) == byte
        assert all(frame[i * cpb + j] == bits[i] for i in range(10) for j in range(cpb))
    assert flags["overflow"] == 1


def _uart_line(byte, cpb):
    """The 8N1 frame of ``byte`` as the line level in each of its 10 * cpb cycles."""
    bits = [0] + [byte >> i & 1 for i in range(8)] + [1]
    return [b for b in bits for _ in range(cpb)]


@pytest.mark.parametrize("cpb", [1, 2, 5])
def test_uart_tx_random_traffic(seed, cpb):
    """Random bytes offered at random times (many while busy): every cycle's tx, busy and overflow
    equal a line-level model; a byte offered while busy is dropped."""
    rng = random.Random(seed)
    dut = UartTx(clocks_per_bit=cpb)
    failures, sent = [], []

    async def bench(ctx):
        line, pos = [], 0            # the model: samples of the frame on the line, and the next one
        for cycle in range(60 * 10 * cpb):
            busy = pos < len(line)
            valid = int(rng.random() < 0.15)
            byte = rng.choice([0x00, 0xFF, 0x55, 0xAA, 0x80, 0x01, rng.randrange(256)])
            ctx.set(dut.valid, valid)
            ctx.set(dut.data, byte)
            want = (line[pos] if busy else 1, int(busy), int(valid and busy))
            got = (ctx.get(dut.tx), ctx.get(dut.busy), ctx.get(dut.overflow))
            if got != want:
                failures.append((cycle, got, want))
            await ctx.tick()
            if busy:
                pos += 1
            elif valid:
                line, pos = _uart_line(byte, cpb), 0
                sent.append(byte)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert not failures, f"{len(failures)} mismatches (cycle, got, want), first {failures[:5]}"
    assert len(sent) >= 20      # the traffic was not vacuous


@pytest.mark.parametrize("cpb", [0, -1, 2.5, "8"])
@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_uart_tx_parameter(cpb):
    with pytest.raises(ValueError, match=rf"clocks_per_bit must be a positive integer, not {cpb!r}"):
        UartTx(clocks_per_bit=cpb)
    gc.collect()


def test_soc_firmware_init_and_elaboration():
    soc_config = SocConfig(engine=AcceleratorConfig(), clocks_per_bit=8)
    t = make_layer(np.random.default_rng(3), "x", 6, 6, 4, 4, 3, 3)
    image = build_layer_firmware(soc_config, t.layer, t.expected, name="conv_soc_unit")
    soc = Soc(soc_config, image)
    assert soc.ram.imem_init == image.imem and soc.ram.dmem_init == image.dmem
    Fragment.get(soc, None)      # the CFU connects to the core's port, everything elaborates
    assert "load_valid" not in soc.signature.members
    assert {"uart_tx", "halted", "finish_valid", "finish_code", "uart_overflow"} <= set(soc.signature.members)


def test_layer_header_golden_checksum():
    cfg = AcceleratorConfig()
    t = make_layer(np.random.default_rng(4), "x", 12, 5, 2, 4, 5, 5, stride=2)
    text = layer_header(cfg, t.layer, t.expected)
    assert f"#define L_EXPECTED_CHECKSUM 0x{checksum(t.expected):08x}u" in text
    assert "#define L_PASSES (2)" in text and text.count("cnn_run()") == 2
