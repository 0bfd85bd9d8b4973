"""The MLPerf Tiny look-alikes (models/mlperf_tiny.py): files, importer, reference engines, compiler.

* the committed .tflite files are byte-identical to what ``python -m models.mlperf_tiny`` generates,
  and ``load_tflite`` gives back the generated Network exactly;
* MACs equal the published models' (the layer lists are right);
* golden (``run_network`` on the imported Network) equals TensorFlow Lite Micro on every output
  element, on random inputs and on the edge inputs (all -128, all 127, all = input zero point);
* golden equals LiteRT BUILTIN_REF on every tensor that is not produced by a FULLY_CONNECTED or
  downstream of one; given LiteRT's own inputs, every non-FC operator equals golden exactly and every
  FULLY_CONNECTED (LiteRT requantises it in float, golden/README.md) differs by at most 1;
* ``compiler.compile_network`` lowers all four, and its schedule's executor equals golden.

Random inputs per model: 3 (VWW 2); FULL=1: 50 (VWW 20). Every test prints its seed and counts.
"""

import dataclasses
import functools
import time

import numpy as np
import pytest
import tflite

from compiler import compile_network
from golden.network import FullyConnected, run_network
from golden.tflite_import import load_tflite
from golden.tflm import run_tflm
from models.mlperf_tiny import (
    MODELS,
    REFERENCE_MACS,
    calibration_summary,
    generate,
    largest_activation,
    macs,
    model_path,
    parameter_bytes,
)
from sim.options import full

NAMES = list(MODELS)
RANDOM_INPUTS = {"vww_mobilenet": (2, 20)}     # (default, FULL=1); the others (3, 50)


@functools.cache
def _generated(name):
    return generate(name)


@functools.cache
def _committed(name):
    blob = model_path(name).read_bytes()
    return blob, load_tflite(blob)


def _inputs(name, net, rng):
    """Edge inputs (all -128, all 127, all = input zero point; duplicates dropped), then random ones."""
    count = RANDOM_INPUTS.get(name, (3, 50))[full()]
    edges = {v: np.full(net.input_shape, v, np.int8) for v in (-128, 127, net.input.zero_point)}
    rand = [rng.integers(-128, 128, size=net.input_shape, dtype=np.int8) for _ in range(count)]
    return list(edges.values()) + rand, len(edges)


def _downstream_of_fc(net):
    """For every layer, whether it is a FULLY_CONNECTED or reads (transitively) from one."""
    tainted = []
    for i, layer in enumerate(net.layers):
        src = [t - 1 for t in net.sources_of(i) if t > 0]
        tainted.append(isinstance(layer, FullyConnected) or any(tainted[j] for j in src))
    return tainted


def _litert_all(blob, x):
    """LiteRT BUILTIN_REF run of ``blob`` keeping every tensor: the output of each operator, in order."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_content=blob, experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                         experimental_preserve_all_tensors=True)
    interp.allocate_tensors()
    sg = tflite.Model.GetRootAs(blob, 0).Subgraphs(0)
    interp.set_tensor(int(sg.Inputs(0)), x)
    interp.invoke()
    return [interp.get_tensor(int(sg.Operators(k).Outputs(0))).copy() for k in range(sg.OperatorsLength())]


def _same_network(a, b):
    assert tuple(a.input_shape) == tuple(b.input_shape) and a.input == b.input
    assert len(a.layers) == len(b.layers)
    for i, (la, lb) in enumerate(zip(a.layers, b.layers, strict=True)):
        assert type(la) is type(lb), f"layer {i}: {type(la).__name__} != {type(lb).__name__}"
        assert a.sources_of(i) == b.sources_of(i), f"layer {i} sources"
        for f in dataclasses.fields(la):
            va, vb = getattr(la, f.name), getattr(lb, f.name)
            if isinstance(va, np.ndarray) or isinstance(vb, np.ndarray):
                assert va.dtype == vb.dtype and np.array_equal(va, vb), f"layer {i} {f.name}"
            else:
                assert va == vb, f"layer {i} {f.name}: {va!r} != {vb!r}"


@pytest.mark.parametrize("name", NAMES)
def test_committed_file_is_regenerated(name):
    """The checked-in .tflite equals the script's output byte for byte, and reads back as the same net."""
    t0 = time.perf_counter()
    net, blob = _generated(name)
    committed, loaded = _committed(name)
    assert committed == blob, f"{model_path(name)} is stale: run python -m models.mlperf_tiny"
    _same_network(net, loaded)
    print(f"{name}: {len(blob)} bytes, regenerated and re-imported identically in "
          f"{time.perf_counter() - t0:.2f} s")


@pytest.mark.parametrize("name", NAMES)
def test_architecture_size(name):
    """MACs equal the published model's; weights per-channel except the AD autoencoder's."""
    _, net = _committed(name)
    assert macs(net) == REFERENCE_MACS[name]
    for layer in net.layers:
        if hasattr(layer, "weight_scales"):
            per_channel = layer.weight_scales.size == layer.out_channels
            assert per_channel == (name != "ad_autoencoder"), type(layer).__name__
            assert layer.bias is not None and layer.bias.dtype == np.int32
    t, size = largest_activation(net)
    print(f"{name}: {macs(net):,} MACs, {parameter_bytes(net):,} parameter bytes, "
          f"largest activation tensor {t}: {size:,} bytes")


@pytest.mark.parametrize("name", NAMES)
def test_calibration_is_realistic(name, rng):
    """The int8 activations use their range: few outputs clamp at 127, the logits are not constant."""
    _, net = _committed(name)
    xs = [rng.integers(-128, 128, size=net.input_shape, dtype=np.int8) for _ in range(4)]
    c = calibration_summary(net, xs)
    print(f"{name}: ReLU outputs at -128 (= 0) {c['relu_zero']:.2%}, other outputs at -128 "
          f"{c['at_min']:.3%}, at 127 {c['at_max']:.3%}, "
          f"distinct logits {c['distinct_logits']} of {c['logits']}")
    assert 0.3 < c["relu_zero"] < 0.7
    assert c["at_min"] < 0.01 and c["at_max"] < 0.01
    assert c["distinct_logits"] >= min(c["logits"] // 4, 64)


@pytest.mark.parametrize("name", NAMES)
def test_golden_equals_tflm(name, rng):
    """golden.run_network on the imported net == TFLite Micro, every output element."""
    t0 = time.perf_counter()
    blob, net = _committed(name)
    xs, n_edge = _inputs(name, net, rng)
    elements = 0
    for k, x in enumerate(xs):
        gold, micro = run_network(net, x), run_tflm(blob, x)
        assert micro.shape == gold.shape
        assert np.array_equal(gold, micro), f"{name} input {k} ({'edge' if k < n_edge else 'random'})"
        elements += gold.size
    print(f"{name}: golden == TFLite Micro on {elements} output elements ({n_edge} edge + "
          f"{len(xs) - n_edge} random inputs) in {time.perf_counter() - t0:.2f} s")


@pytest.mark.parametrize("name", NAMES)
def test_golden_vs_litert(name, rng):
    """LiteRT BUILTIN_REF differs from golden only through its float FULLY_CONNECTED (<= 1 per operator)."""
    t0 = time.perf_counter()
    blob, net = _committed(name)
    assert tflite.Model.GetRootAs(blob, 0).Subgraphs(0).OperatorsLength() == len(net.layers)
    tainted = _downstream_of_fc(net)
    xs, n_edge = _inputs(name, net, rng)
    fc_elems = fc_diff = out_elems = out_diff = out_max = 0
    for k, x in enumerate(xs):
        gold = run_network(net, x, return_all=True)
        lite = _litert_all(blob, x)
        tensors = [x, *lite]
        for i, layer in enumerate(net.layers):
            where = f"{name} input {k}, layer {i} ({type(layer).__name__})"
            assert lite[i].shape == gold[i].shape, where
            if not tainted[i]:  # not FC and not downstream of one: end to end identical
                assert np.array_equal(lite[i], gold[i]), where
            # the operator alone, on LiteRT's own inputs
            mine = layer(*(tensors[t] for t in net.sources_of(i)))
            d = np.abs(mine.astype(np.int32) - lite[i].astype(np.int32))
            if isinstance(layer, FullyConnected):
                assert d.max() <= 1, where
                fc_elems += d.size
                fc_diff += int(np.count_nonzero(d))
            else:
                assert not d.any(), where
        d = np.abs(gold[-1].astype(np.int32) - lite[-1].astype(np.int32))
        out_elems += d.size
        out_diff += int(np.count_nonzero(d))
        out_max = max(out_max, int(d.max()))
    print(f"{name}: LiteRT BUILTIN_REF vs golden on {n_edge} edge + {len(xs) - n_edge} random inputs: "
          f"network output {out_diff}/{out_elems} elements differ (max {out_max}); "
          f"FULLY_CONNECTED alone {fc_diff}/{fc_elems} differ by 1; all other operators identical; "
          f"{time.perf_counter() - t0:.2f} s")


@pytest.mark.parametrize("name", NAMES)
def test_compiler_lowers(name, rng):
    """compile_network schedules every layer; its executor (golden per step) equals run_network."""
    t0 = time.perf_counter()
    _, net = _committed(name)
    schedule = compile_network(net)
    print(f"{name}: compiled in {time.perf_counter() - t0:.2f} s")
    print(schedule.table())
    for x in (rng.integers(-128, 128, size=net.input_shape, dtype=np.int8),
              np.full(net.input_shape, 127, np.int8)):
        assert np.array_equal(schedule.run_reference(x), run_network(net, x))
