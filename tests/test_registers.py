"""spec/registers.py, the command map's single definition: the tables are consistent, and the decode
helpers (StatusWord, function_id, space_depth, register_limit) agree with the documented layout on
random and edge values (seed printed)."""

import random

import pytest

from spec.config import AcceleratorConfig, Output
from spec.registers import (
    COMMAND_BY_ID,
    COMMANDS,
    COUNTER,
    COUNTERS,
    ERROR_CODE,
    ERRORS,
    REG,
    REGISTERS,
    RESULT_OK,
    SPACES,
    STATUS_BITS,
    STATUS_FIELDS,
    Space,
    StatusWord,
    function_id,
    register_limit,
    space_depth,
)

SMALL = AcceleratorConfig(max_size=32, max_channels=32, lb_lines=8, lb_line_bytes=64, act_mem_bytes=512,
                          out_mem_bytes=512, weight_mem_words=64, pool_buf_words=32)
CONFIGS = [AcceleratorConfig(), SMALL, AcceleratorConfig(output=Output.RAW)]


def test_tables_are_dense_and_unique():
    assert [r.index for r in REGISTERS] == list(range(len(REGISTERS)))
    assert REG == {r.name: r.index for r in REGISTERS} and len(REG) == len(REGISTERS)
    assert all(bool(r.limit) == (r.access == "rw") for r in REGISTERS)
    assert [c.index for c in COUNTERS] == list(range(len(COUNTERS))) and len(COUNTER) == len(COUNTERS)
    for c in COUNTERS:   # an engine counter reads a read-only engine register of the same name
        assert c.register is None or REGISTERS[REG[c.register]].access == "r"
    assert {v: k for k, v in ERROR_CODE.items()} == {code: name for code, (name, _) in ERRORS.items()}
    assert ERROR_CODE["OK"] == RESULT_OK == 0
    assert all(0 <= code < 256 for code in ERRORS)         # fits the status word's 8-bit ERROR field
    assert len(COMMAND_BY_ID) == len(COMMANDS)
    memories = {n: getattr(Space, n) for n in Space.NAMES.values() if n != "REGS"}
    assert {s.name: s.index for s in SPACES} == memories
    assert Space.NAMES == {getattr(Space, n): n for n in Space.NAMES.values()}


def test_status_fields_tile_the_word():
    bits = [0] * 32
    for f in STATUS_FIELDS:
        assert 0 <= f.lsb and f.lsb + f.width <= 32, f
        for b in range(f.lsb, f.lsb + f.width):
            bits[b] += 1
    assert max(bits) == 1, "two status fields overlap"
    assert {k: v for k, v in STATUS_BITS.items()} == {"busy": 0, "done": 1}


def test_status_word_decodes_documented_layout(seed):
    rng = random.Random(seed)
    words = [0, 0xFFFF_FFFF, 0x0000_0001, 0x0000_0002, 0x0000_0004, 0x0000_FF00, 0xFFFF_0000]
    words += [rng.getrandbits(32) for _ in range(500)]
    for word in words:
        s = StatusWord(word)
        # The layout as documented in the STATUS register and docs/commands.md, written out by hand.
        assert (s.busy, s.done, s.cmd_error, s.error, s.cycles) == \
            (word & 1, word >> 1 & 1, word >> 2 & 1, word >> 8 & 0xFF, word >> 16), hex(word)
        assert s.error_name == ERRORS.get(s.error, ("UNKNOWN",))[0]
        assert s.error_name in repr(s)


def test_function_id(seed):
    rng = random.Random(seed)
    for funct7, funct3 in [(0, 0), (127, 7), (1, 0), (0, 1)] + [(rng.randrange(128), rng.randrange(8))
                                                                for _ in range(200)]:
        fid = function_id(funct7, funct3)
        assert 0 <= fid < 1024 and fid & 7 == funct3 and fid >> 3 == funct7
    for c in COMMANDS:
        assert COMMAND_BY_ID[c.function_id] is c and c.function_id == function_id(c.funct7, c.funct3)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_space_depths(config):
    requant = 0 if config.raw_output else config.max_channels
    want = {"ACT_IN": config.act_mem_bytes // 4, "WEIGHTS": config.weight_mem_words * config.cols // 4,
            "BIAS": requant, "MULT": requant, "SHIFT": requant, "ACT_OUT": config.out_mem_bytes // 4}
    for name, depth in want.items():
        assert space_depth(config, name) == depth == space_depth(config, getattr(Space, name)), name


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_register_limits(config):
    want = {"H": config.max_size, "W": config.max_size, "E": config.max_size, "F": config.max_size,
            "C": config.max_channels, "M": config.max_channels, "CG": config.max_channels,
            "C_STEP": config.max_channels, "R": config.max_kernel, "S": config.max_kernel,
            "U": config.max_stride, "PAD_TOP": config.max_kernel - 1, "PAD_LEFT": config.max_kernel - 1,
            "INPUT_ZP": 255, "OUTPUT_ZP": 255, "ACT_MIN": 255, "ACT_MAX": 255, "POOL": 2}
    assert set(want) == {r.name for r in REGISTERS if r.access == "rw"}
    for name, limit in want.items():
        assert register_limit(config, name) == limit == register_limit(config, REGISTERS[REG[name]]), name
