"""firmware/pass_data.py: the per-pass C-data emitter shared by the single-layer firmware
(firmware/layer_image.py) and the network firmware (compiler/firmware.py), checked against the
driver's pass plans it is built from."""

import numpy as np
import pytest

from bench.conv_layers import make_layer
from driver.passes import split_layer
from firmware.pass_data import PassEmitter, c_array, c_hex, memory_images
from spec.config import AcceleratorConfig, Output
from spec.registers import REG, Space

CFG = AcceleratorConfig()


def _layers(seed):
    rng = np.random.default_rng(seed)
    print(f"seed {seed}")
    return [make_layer(rng, "multi-pass", 12, 5, 2, 4, 5, 5, stride=2).layer,
            make_layer(rng, "channel groups", 5, 5, 64, 96, 3, 3, padding="SAME").layer,
            make_layer(rng, "depthwise", 6, 6, 8, 8, 3, 3, kind="depthwise", k=1).layer]


def _replay(emitter, config, layers, input_images):
    """Registers and memories after every pass, replayed from the emitted writes, match the
    driver's plan of that pass (what the firmware leaves in the engine is what plan_conv wants)."""
    regs, mems = {}, {}
    passes = iter(emitter.passes)
    for li, layer in enumerate(layers):
        for p in split_layer(config, layer).passes:
            data = next(passes)
            assert data.layer == li
            for reg, value in data.regs:
                assert regs.get(reg) != value, "a register is rewritten with the value it holds"
                regs[reg] = value
            for space, cname, n in data.images:
                ctype, words, _, _ = emitter.arrays[cname]
                assert ctype == "uint32_t" and len(words) == n
                assert mems.get(space) != words, "an image is reloaded into a memory holding it"
                mems[space] = words
            want = memory_images(p.program)
            assert {REG[k]: int(v) for k, v in p.program.registers.items()}.items() <= regs.items()
            for space, words in want.items():
                if space == Space.ACT_IN and not input_images:
                    assert Space.ACT_IN not in mems
                    continue
                assert mems[space] == words
            (e0, e1), (f0, f1), (m0, m1) = p.rows, p.cols, p.chans
            assert data.out_window == (e0, e1, f0, f1, m0, m1)
            assert data.in_window == p.input_key
            assert data.out_words == p.program.out_words()
    assert next(passes, None) is None


@pytest.mark.parametrize("input_images", [True, False])
@pytest.mark.parametrize("config", [CFG, AcceleratorConfig(output=Output.RAW)],
                         ids=["requant", "raw"])
def test_emitter_replays_the_driver_plan(seed, config, input_images):
    layers = _layers(seed)
    emitter = PassEmitter(config, "img", input_images=input_images)
    for layer in layers:
        emitter.add_layer(layer)
    assert len(emitter.passes) > len(layers), "no layer was split: the test would not cover reloads"
    _replay(emitter, config, layers, input_images)
    # Distinct images get distinct arrays; every array is loaded by some pass.
    images = {(name.rsplit("_", 1)[0], words) for name, (_, words, _, _) in emitter.arrays.items()}
    assert len(images) == len(emitter.arrays)
    loaded = {cname for p in emitter.passes for _, cname, _ in p.images}
    assert loaded == set(emitter.arrays)


def test_c_array_format():
    assert c_array("int8_t", "a", [1, -2, 3], per_line=2) == (
        "static const int8_t a[3] __attribute__((aligned(4))) = {\n    1, -2,\n    3,\n};")
    empty = c_array("uint32_t", "e", [], fmt=c_hex)
    assert empty.endswith("e[1] __attribute__((aligned(4))) = {\n    0,\n};")
    assert c_hex(-1) == "0xffffffffu"


def test_emitter_rejects_a_bad_config():
    with pytest.raises(TypeError, match="config must be an AcceleratorConfig"):
        PassEmitter("default", "img", input_images=True)
