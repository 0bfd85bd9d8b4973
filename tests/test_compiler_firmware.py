"""compiler/firmware.py without a simulator: what the generated net_data.h holds, the net_io layout the
host writes, and the error when a model does not fit the SoC's RAMs. (The firmware runs on the SoC RTL
in tests/test_digits.py.)"""

import dataclasses

import numpy as np
import pytest

from compiler import compile_tflite
from compiler.firmware import (
    FLAG_ACCEL,
    FLAG_SW,
    NET_IO_MAGIC,
    FirmwareSizeError,
    build_network_firmware,
    network_header,
    plan_network,
)
from driver.passes import split_layer
from models.digits import MODEL_PATH
from sim.runner import BUILD
from spec.config import SIM_SOC
from spec.registers import REG, Space


@pytest.fixture(scope="module")
def schedule():
    return compile_tflite(MODEL_PATH)


def test_plan_loads_only_what_changed(schedule):
    plan = plan_network(schedule)
    assert [p.layer for p in plan.passes] == [0, 1, 2]
    first = split_layer(schedule.config, schedule.layers[0].conv_layer(np.zeros((8, 8, 1), np.int8)))
    assert dict(plan.passes[0].regs) == {REG[k]: int(v) for k, v in first.passes[0].program.registers.items()}
    for p, layer in zip(plan.passes, schedule.layers, strict=True):
        assert p.load_input
        assert {s for s, _, _ in p.images} == {Space.WEIGHTS, Space.BIAS, Space.MULT, Space.SHIFT}
        H, W, C = layer.in_shape
        assert p.in_window == (0, H, 0, W, 0, C)
        E, F, M = layer.out_shape
        assert p.out_window == (0, E, 0, F, 0, M)
        assert p.in_words == -(-H * W * C // 4) and p.out_words == -(-E * F * M // 4)
    # registers equal to the previous pass's are not written again
    seen = {}
    for p in plan.passes:
        for reg, value in p.regs:
            assert seen.get(reg) != value
            seen[reg] = value


def test_header_arrays(schedule):
    text, plan = network_header(schedule, "digits")
    assert "#define NET_LAYERS 3u" in text and "#define NET_OUT_SIZE 10u" in text
    assert "#define NET_IN_SIZE 64u" in text
    for li, layer in enumerate(schedule.layers):
        ctype, values, _, _ = plan.arrays[f"sw_w_{li}"]
        assert ctype == "int8_t" and values == layer.w.reshape(-1).tolist()
        assert plan.arrays[f"sw_bias_{li}"][1] == np.asarray(layer.bias).tolist()


def test_io_words_and_size_error(schedule):
    out = BUILD / "firmware" / "net-unit"
    fw = build_network_firmware(schedule, out, SIM_SOC)
    assert fw.soc == SIM_SOC
    x = np.arange(-32, 32, dtype=np.int8).reshape(schedule.input_shape)
    words = fw.io_words(x, FLAG_ACCEL | FLAG_SW)
    assert words[:2] == [NET_IO_MAGIC, 3] and len(words) == 2 + 16
    assert words[2] == int.from_bytes(bytes(np.arange(-32, -28, dtype=np.int8).view(np.uint8)), "little")
    dmem = fw.dmem_with_input(x, FLAG_ACCEL)
    assert dmem[fw.io_word:fw.io_word + len(words)] == fw.io_words(x, FLAG_ACCEL)
    assert fw.image.symbol("net_io") == fw.io_addr
    with pytest.raises(ValueError, match="input must be int8"):
        fw.io_words(np.zeros(63, np.int8))
    with pytest.raises(FirmwareSizeError, match=r"dmem_words = 2048 holds 8192.*dmem_words >= 8192"):
        build_network_firmware(schedule, out, dataclasses.replace(SIM_SOC, dmem_words=2048))


def test_soc_engine_must_match_schedule(schedule):
    other = dataclasses.replace(SIM_SOC, engine=dataclasses.replace(SIM_SOC.engine, rows=2))
    with pytest.raises(ValueError, match=r"soc.engine = .* is not the configuration the schedule"):
        build_network_firmware(schedule, BUILD / "firmware" / "net-unit-mismatch", other)
