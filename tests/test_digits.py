"""End to end on the RTL: the digits CNN (models/digits_int8.tflite) on the conv engine, bit-exact.

Every engine layer of the compiled schedule runs through the CFU command port as the driver's
custom-0 program, executed by the CPU bus-functional model with response back-pressure and gaps;
the host reads each layer's output back and loads it as the next layer's input. Every logit must be
bit-identical to LiteRT (BUILTIN_REF) and to golden.run_network. Prints cycles per inference
(engine CYCLES counters + port cycles) and per-layer MAC utilisation (ideal = N*M*C*E*F*R*S/16).

Reuses the simulator build of tests/test_conv_engine.py (CnnCfu with the default AcceleratorConfig).
DIGITS_IMAGES sets the image count (default 3).
"""

import os

import numpy as np
import pytest
from test_digits_compiler import conv, fc

from compiler import compile_network
from demo.rtl import CONFIG, port_build, run_on_rtl
from golden.network import AvgPool2D, MaxPool2D, Network, QuantParams, Reshape
from golden.tflite_build import build_tflite
from models.digits import MODEL_PATH, LiteRTModel, load_split, model_bytes, quantise_images

pytestmark = pytest.mark.cocotb

IMAGES = int(os.environ.get("DIGITS_IMAGES", "3"))


@pytest.fixture(scope="module")
def port():
    return port_build(CONFIG)


def print_layers(results):
    first = results[0]["layers"]
    n = len(results)
    print(f"\n{'engine layer':40s} {'instr':>6s} {'port':>6s} {'compute':>8s} {'ideal':>7s} {'MAC util':>8s}")
    for i, layer in enumerate(first):
        port = sum(r["layers"][i]["port_cycles"] for r in results) / n
        comp = sum(r["layers"][i]["compute_cycles"] for r in results) / n
        print(f"{layer['name'][:40]:40s} {layer['instructions']:6d} {port:6.0f} {comp:8.0f} "
              f"{layer['ideal_cycles']:7.0f} {layer['ideal_cycles'] / comp:8.1%}")
    total = sum(r["cycles"] for r in results) / n
    port = sum(r["port_cycles"] for r in results) / n
    comp = sum(r["compute_cycles"] for r in results) / n
    print(f"cycles per inference: {total:.0f} = {port:.0f} port + {comp:.0f} engine (CYCLES counters)")


def test_digits_on_rtl(port, seed):
    _, _, x_te, y_te = load_split()
    pick = np.random.default_rng(seed).choice(len(x_te), size=IMAGES, replace=False)
    xq = quantise_images(x_te[pick])
    litert = LiteRTModel(model_bytes()).logits(xq)
    results = run_on_rtl(MODEL_PATH, xq, litert, ids=pick, run_name=f"digits-{seed}", rsp_stall=0.1,
                         cmd_gap=0.05, seed=seed, design=port)
    assert len(results) == IMAGES
    for r, label in zip(results, y_te[pick], strict=True):
        assert r["match_litert"] and r["match_golden"] and r["first_bad_layer"] is None
        assert r["output"] == r["litert"] == r["golden"]
        print(f"image {r['id']}: label {label}, RTL prediction {int(np.argmax(r['output']))}, logits "
              f"{r['output']} (bit-identical to LiteRT and golden)")
    print_layers(results)


def test_lowerings_on_rtl(port, seed, tmp_path):
    """The other lowering rules on the RTL: depthwise conv + avg pool, a folded max-pool clamp, a
    standalone pool (identity conv), FULLY_CONNECTED as a whole-input conv and as a 1x1 conv.
    Compared with golden.run_network (LiteRT's float FULLY_CONNECTED may differ by 1)."""
    rng = np.random.default_rng(seed)
    q0 = QuantParams(float(np.float32(0.05)), 3)
    c1, q1 = conv(rng, q0, 3, 8, 3, 3, activation="RELU")
    dw, q2 = conv(rng, q1, 8, 0, 3, 3, depthwise=2)
    f1, q3 = fc(rng, q2, 2 * 2 * 16, 24, activation="RELU")
    f2, _ = fc(rng, q3, 24, 10)
    net = Network((1, 16, 16, 3), q0, [
        MaxPool2D((2, 2), (2, 2), "VALID", q0),                 # standalone: identity conv + max pool
        c1, MaxPool2D((2, 2), (2, 2), "VALID", q1, "RELU6"),     # fused, RELU6 folded into the clamp
        dw, AvgPool2D((2, 2), (2, 2), "VALID", q2),              # depthwise + fused avg pool
        Reshape((1, 64), q2),                                    # no-op
        f1,                                                      # FC over 2x2x16: a 2x2 conv
        f2,                                                      # FC over 24 values: a 1x1 conv
    ])
    schedule = compile_network(net, CONFIG)
    assert [(layer.kind, layer.w.shape[1:3]) for layer in schedule.layers] == [
        ("pool", (1, 1)), ("conv", (3, 3)), ("depthwise", (3, 3)), ("fc", (2, 2)), ("fc", (1, 1))]
    path = tmp_path / "lowerings.tflite"
    path.write_bytes(build_tflite(net))
    x = rng.integers(-128, 128, (2, 1, 16, 16, 3)).astype(np.int8)
    results = run_on_rtl(path, x, run_name=f"lowerings-{seed}", require_litert=False, rsp_stall=0.1,
                         cmd_gap=0.05, seed=seed, design=port)
    for r in results:
        assert r["match_golden"] and r["first_bad_layer"] is None
    print_layers(results)
