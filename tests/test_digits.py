"""End to end on the SoC RTL: the digits CNN (models/digits_int8.tflite) as firmware, bit-exact.

The compiler's firmware back end (compiler/firmware.py) turns the whole schedule into C data; the
generic driver loop firmware/net/net.c runs every layer and pass on the accelerator through the
generated command header, on the RV32I core of the SoC (hw/soc.py) in Verilator/Icarus. Each image is
written into the firmware's ``net_io`` through the SoC's loader port (one build, one firmware, many
images); the logits come back over the UART pin. Every logit must be bit-identical to LiteRT
(BUILTIN_REF) and to golden.run_network, and every layer's engine CYCLES / MAC_CYCLES (read by the
firmware) must equal spec.cycle_model's prediction.

Reuses the SoC simulator build of tests/test_soc.py (same configuration and RAM sizes).
``test_lowerings_firmware`` runs the other lowering rules (layers split into column-band and
row-band passes, so the firmware gathers input windows and scatters output windows; a standalone
pool; depthwise; both FULLY_CONNECTED lowerings) through the same firmware flow, against
golden.run_network.
``test_lowerings_on_rtl`` runs the lowering rules through the CPU bus-functional model instead
(random response stalls and command gaps on the CFU port, which the core never produces).
DIGITS_IMAGES sets the image count (default 3). The firmware tests are Verilator-only (see below).
"""


import numpy as np
import pytest
from test_digits_compiler import conv, fc

from compiler import compile_network
from demo.rtl import CONFIG, port_build, run_on_rtl
from demo.soc import compare, network_firmware, run_images
from golden.network import Add, AvgPool2D, MaxPool2D, Network, QuantParams, Reshape, Softmax, run_network
from golden.tflite_build import build_tflite
from golden.tflm import run_tflm
from models.digits import MODEL_PATH, LiteRTModel, load_split, model_bytes, quantise_images
from sim.options import digits_images
from sim.runner import simulator_name
from spec.config import SIM_SOC

pytestmark = pytest.mark.cocotb

# The firmware runs ~130k SoC cycles per image (inference + UART report): seconds on Verilator, many
# minutes on Icarus. Icarus runs the bus-functional-model test only (as tests/test_soc.py does).
verilator_only = pytest.mark.skipif(simulator_name() == "icarus",
                                    reason="~130k simulated SoC cycles per image: too slow on Icarus")

IMAGES = digits_images()


def check_cycles(schedule, report):
    """The firmware's per-layer engine counters equal spec.cycle_model (summed over passes)."""
    model = schedule.static_cost()
    assert len(report["layers"]) == len(model)
    for got, want, layer in zip(report["layers"], model, schedule.layers, strict=True):
        assert (got["engine_cycles"], got["mac_cycles"]) == (want["compute_cycles"], want["mac_cycles"]), \
            f"{layer.name}: CYCLES/MAC_CYCLES {got} != spec.cycle_model {want}"


def print_layers(schedule, report):
    print(f"{'engine layer':40s} {'cycles':>7s} {'engine':>7s} {'ideal':>6s} {'MAC util':>8s}")
    for layer, r in zip(schedule.layers, report["layers"], strict=True):
        ideal = layer.ideal_cycles(schedule.config)
        util = f"{ideal / r['engine_cycles']:8.1%}" if r["engine_cycles"] else f"{'core':>8s}"
        print(f"{layer.name[:40]:40s} {r['cycles']:7d} {r['engine_cycles']:7d} {ideal:6.0f} {util}")
    print(f"cycles per inference (rdcycle, whole firmware path): {report['accel_cycles']}")


@verilator_only
def test_digits_firmware_on_soc(seed):
    _, _, x_te, y_te = load_split()
    pick = np.random.default_rng(seed).choice(len(x_te), size=IMAGES, replace=False)
    xq = quantise_images(x_te[pick])
    litert = LiteRTModel(model_bytes()).logits(xq)
    fw = network_firmware(MODEL_PATH, SIM_SOC)
    schedule = fw.plan.schedule
    results = run_images(fw, xq, ids=pick, run_name=f"digits-fw-{seed}", seed=seed)
    assert len(results) == IMAGES
    for r, x, lite, label in zip(results, xq, litert, y_te[pick], strict=True):
        gold = run_network(schedule.net, x[None]).reshape(-1)
        c = compare(r, lite, gold)
        assert c["accel_ok"], r["uart_text"]
        assert c["match_litert"] and c["match_golden"], \
            f"image {r['id']}: firmware {r['logits']} LiteRT {lite.tolist()} golden {gold.tolist()}"
        check_cycles(schedule, r)
        print(f"image {r['id']}: label {label}, SoC prediction {int(np.argmax(r['logits']))}, logits "
              f"{r['logits']} (bit-identical to LiteRT and golden), {r['accel_cycles']} cycles")
    print_layers(schedule, results[0])


def _lowering_net(rng):
    """A conv split into 2 column-band passes (W = 130 > max_size, W*C = 1040 > one line-buffer line:
    the firmware gathers input windows byte by byte and scatters output windows), a conv split into 15
    row-band passes (64x5 input, 5x5 stride 2: a block of 4 output pixels needs 11 input rows > lb_lines
    8; its bands are whole rows, sent in place), RESHAPEs, a standalone max pool, depthwise, a conv with
    a fused max pool whose RELU6 is folded into the clamp, FC over 2x3x8 (a 2x3 conv) and FC over 12
    values (a 1x1 conv)."""
    q0 = QuantParams(float(np.float32(0.05)), 3)
    c0, qa = conv(rng, q0, 8, 10, 3, 3, padding="VALID", activation="RELU")
    c1, qb = conv(rng, qa, 4, 8, 5, 5, stride=2, padding="VALID", activation="RELU")
    dw, q1 = conv(rng, qb, 2, 0, 3, 3, depthwise=2)
    c2, q2 = conv(rng, q1, 4, 8, 3, 3, activation="RELU")
    f1, q3 = fc(rng, q2, 2 * 3 * 8, 12, activation="RELU")
    f2, _ = fc(rng, q3, 12, 10)
    return Network((1, 3, 130, 8), q0, [
        c0, Reshape((1, 64, 5, 4), qa), c1, Reshape((1, 10, 12, 2), qb),
        MaxPool2D((2, 2), (2, 2), "VALID", qb), dw, c2, MaxPool2D((2, 2), (2, 2), "VALID", q2, "RELU6"),
        Reshape((1, 48), q2), f1, f2])


@verilator_only
def test_lowerings_firmware(seed):
    rng = np.random.default_rng(seed)
    net = _lowering_net(rng)
    schedule = compile_network(net, CONFIG)
    assert [layer.passes for layer in schedule.layers] == [2, 15, 1, 1, 1, 1, 1]
    assert [layer.kind for layer in schedule.layers] == ["conv", "conv", "pool", "depthwise", "conv", "fc",
                                                         "fc"]
    fw = network_firmware(None, SIM_SOC, schedule=schedule, name="lowerings")
    x = rng.integers(-128, 128, (1, 1, 3, 130, 8)).astype(np.int8)
    results = run_images(fw, x, run_name=f"lowerings-fw-{seed}", seed=seed)
    for r, xi in zip(results, x, strict=True):
        gold = run_network(net, xi).reshape(-1)
        c = compare(r, golden=gold)
        assert c["accel_ok"] and c["match_golden"], f"firmware {r['logits']} golden {gold.tolist()}"
        check_cycles(schedule, r)
    print_layers(schedule, results[0])


def _graph_net(rng):
    """A graph with every core step: a 10x4 stride-2 first layer (space-to-depth on the core), a ResNet
    block (ADD of the block input and two convs), a strided block with a 1x1 shortcut, a 3x3/2 max
    pool the engine cannot fuse, a global average pool, FC over 16 values, SOFTMAX."""
    q0 = QuantParams(float(np.float32(0.05)), -7)
    c0, qa = conv(rng, q0, 1, 8, 10, 4, stride=2, activation="RELU")
    c1, q1 = conv(rng, qa, 8, 8, 3, 3, activation="RELU")
    c2, q2 = conv(rng, q1, 8, 8, 3, 3)
    qs = QuantParams(float(np.float32(max(q2.scale, qa.scale) * 1.3)), -128)
    add1 = Add(q2, qa, qs, "RELU")
    c3, q3 = conv(rng, qs, 8, 16, 3, 3, stride=2, activation="RELU")
    c4, q4 = conv(rng, q3, 16, 16, 3, 3)
    sc, q5 = conv(rng, qs, 8, 16, 1, 1, stride=2)
    qt = QuantParams(float(np.float32(max(q4.scale, q5.scale) * 1.3)), -128)
    add2 = Add(q4, q5, qt, "RELU")
    f, qf = fc(rng, qt, 16, 10)
    beta = 6.0 / (255 * qf.scale)       # logits 255 steps apart differ by e^6: a spread-out softmax
    layers = [c0, c1, c2, add1, c3, c4, sc, add2, MaxPool2D((3, 3), (2, 2), "SAME", qt),
              AvgPool2D((4, 2), (4, 2), "VALID", qt), Reshape((1, 16), qt), f, Softmax(qf, beta)]
    # 3: ADD(c2, c0); 6: shortcut of the ADD output; 7: ADD(c4, shortcut)
    return Network((1, 29, 10, 1), q0, layers, {3: (3, 1), 6: (4,), 7: (6, 7)}).validate()


@verilator_only
def test_graph_firmware(seed):
    """Graph, ADD, SOFTMAX, large-kernel and core-pool steps as firmware on the SoC: the output equals
    golden.run_network and TensorFlow Lite Micro bit for bit, and every engine layer's counters equal
    spec.cycle_model."""
    rng = np.random.default_rng(seed)
    net = _graph_net(rng)
    schedule = compile_network(net, CONFIG)
    assert [(s.runs_on, s.kind) for s in schedule.layers] == [
        ("core", "space_to_depth"), ("engine", "conv"), ("engine", "conv"), ("engine", "conv"),
        ("core", "add"), ("engine", "conv"), ("engine", "conv"), ("engine", "conv"), ("core", "add"),
        ("core", "max_pool"), ("core", "avg_pool"), ("engine", "fc"), ("core", "softmax")]
    fw = network_firmware(None, SIM_SOC, schedule=schedule, name="graph")
    x = rng.integers(-128, 128, (2, *net.input_shape)).astype(np.int8)
    x[1] = 127
    model = build_tflite(net)
    results = run_images(fw, x, run_name=f"graph-fw-{seed}", seed=seed, max_cycles=2_000_000)
    for r, xi in zip(results, x, strict=True):
        gold = run_network(net, xi).reshape(-1)
        assert np.array_equal(run_tflm(model, xi).reshape(-1), gold)
        c = compare(r, golden=gold)
        assert c["accel_ok"] and c["match_golden"], f"firmware {r['logits']} golden {gold.tolist()}"
        check_cycles(schedule, r)
    print_layers(schedule, results[0])


def test_lowerings_on_rtl(seed, tmp_path):
    """The other lowering rules on the RTL through the CPU bus-functional model: depthwise conv + avg
    pool, a folded max-pool clamp, a standalone pool (identity conv), FULLY_CONNECTED as a whole-input
    conv and as a 1x1 conv. Compared with golden.run_network (LiteRT's float FULLY_CONNECTED may
    differ by 1)."""
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
                         cmd_gap=0.05, seed=seed, design=port_build(CONFIG))
    for r in results:
        assert r["match_golden"] and r["first_bad_layer"] is None
