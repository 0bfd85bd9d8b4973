"""The digits model (models/): the committed int8 .tflite, its metrics, and the NumPy training code.

FULL=1 also retrains from scratch and requires the committed .tflite byte for byte (~25 s).
"""

import hashlib

import numpy as np
import pytest

from golden.network import AvgPool2D, Conv2D, MaxPool2D, Reshape, run_network
from golden.tflite_import import load_tflite
from models import train_digits as td
from models.digits import (
    MODEL_PATH,
    LiteRTModel,
    accuracy,
    load_metrics,
    load_split,
    model_bytes,
    quantise_images,
)
from sim.options import full


@pytest.fixture(scope="module")
def split():
    return load_split()


def test_split_is_fixed(split):
    x_tr, y_tr, x_te, y_te = split
    assert x_tr.shape == (1347, 8, 8, 1) and x_te.shape == (450, 8, 8, 1)
    assert np.bincount(y_te).min() >= 43                     # stratified: ~45 per class
    # pixel / 16: the int8 input (scale 1/16, zero point -128) is exact
    q = quantise_images(x_te)
    assert np.array_equal((q.astype(np.int64) + 128) / 16.0, x_te)


def test_committed_model_matches_metrics():
    blob = model_bytes()
    m = load_metrics()
    assert len(blob) == m["bytes"] < 16384
    assert hashlib.sha256(blob).hexdigest() == m["sha256"]
    net = load_tflite(MODEL_PATH)
    kinds = [type(layer) for layer in net.layers]
    assert kinds == [Conv2D, MaxPool2D, Conv2D, AvgPool2D, Conv2D, Reshape]
    cls = net.layers[4]
    assert cls.weights.shape == (10, 2, 2, 32) and cls.padding == "VALID"   # kernel covers its input
    assert all(np.asarray(layer.weight_scales).size == layer.out_channels
               for layer in net.layers if isinstance(layer, Conv2D))        # per-channel weights
    assert m["float_accuracy"] >= 0.95 and m["int8_accuracy"] >= 0.95


def test_litert_equals_golden_and_metrics(split):
    """Every held-out logit of LiteRT (reference kernels) equals golden.run_network, and the int8
    accuracy is the one recorded by the training script."""
    _, _, x_te, y_te = split
    xq = quantise_images(x_te)
    lite = LiteRTModel(model_bytes()).logits(xq)
    net = load_tflite(MODEL_PATH)
    gold = np.stack([run_network(net, x[None]).reshape(-1) for x in xq])
    assert np.array_equal(lite, gold)
    assert accuracy(lite, y_te) == load_metrics()["int8_accuracy"]


def test_backward_matches_numerical_gradient():
    rng = np.random.default_rng(3)
    model = td.FloatCNN(rng)
    for k in model.p:
        model.p[k] = model.p[k] + 0.05 * rng.standard_normal(model.p[k].shape)   # non-zero biases
    x = rng.random((3, 8, 8, 1))
    y = np.array([1, 7, 3])

    def loss():
        return td.softmax_xent(model.forward(x)["logits"], y)[0]

    out = model.forward(x, keep=True)
    _, d = td.softmax_xent(out["logits"], y)
    grads = model.backward(d)
    eps = 1e-6
    for k, g in grads.items():
        flat = model.p[k].reshape(-1)
        for idx in rng.choice(flat.size, size=min(6, flat.size), replace=False):
            old = flat[idx]
            flat[idx] = old + eps
            up = loss()
            flat[idx] = old - eps
            down = loss()
            flat[idx] = old
            num = (up - down) / (2 * eps)
            assert abs(num - g.reshape(-1)[idx]) <= 1e-5 + 1e-4 * abs(num), (k, idx, num, g.reshape(-1)[idx])


def test_short_training_learns_and_quantises(split):
    """Two epochs on the real data: clearly better than chance, and the int8 export stays close."""
    x_tr, y_tr, x_te, y_te = split
    model = td.train(x_tr, y_tr, seed=5, epochs=2, log=None)
    f_acc = accuracy(model.forward(x_te)["logits"], y_te)
    net = td.quantise(model, x_tr[:300])
    q_acc = accuracy(td.golden_logits(net, quantise_images(x_te)), y_te)
    assert f_acc > 0.8 and q_acc > f_acc - 0.05


@pytest.mark.skipif(not full(), reason="FULL=1 retrains the model (~25 s)")
def test_retraining_reproduces_committed_model(tmp_path):
    out = tmp_path / "digits_int8.tflite"
    out.write_bytes(model_bytes())
    assert td.main(["--out", str(out), "--check"]) == 0
