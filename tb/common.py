"""Shared cocotb helpers: parameters from the pytest side, clock/reset, seeded randomness."""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge

__all__ = ["tb_params", "seeded_rng", "start_clock", "reset"]

CLOCK_NS = 10


def tb_params():
    """Parameters the pytest entry point passed through the TB_PARAMS environment variable."""
    return json.loads(os.environ.get("TB_PARAMS", "{}"))


def seeded_rng(dut, name):
    """A random generator seeded from TB_PARAMS['seed'] (or cocotb's seed); logs it for replay."""
    seed = tb_params().get("seed", cocotb.RANDOM_SEED)
    dut._log.info(f"{name}: seed {seed} (replay with SEED={seed})")
    return random.Random(f"{seed}:{name}")


async def start_clock(dut):
    # The C++ (GPI) clock: the Python-coroutine default costs a Python wake-up per edge.
    Clock(dut.clk, CLOCK_NS, unit="ns", impl="gpi").start()
    await FallingEdge(dut.clk)


async def reset(dut, cycles=2):
    dut.rst.value = 1
    await ClockCycles(dut.clk, cycles)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
