"""Train the 8x8 digits CNN in plain NumPy, quantise it to int8 and export a .tflite (``make train``).

    python -m models.train_digits [--seed 1] [--epochs 60] [--out models/digits_int8.tflite] [--check]

Network (every layer maps onto one conv-engine layer; NHWC, batch 1):

    input   8x8x1   int8, scale 1/16, zero point -128 (pixel - 128: exact)
    CONV_2D 3x3 SAME 1->16, ReLU     + MAX_POOL_2D 2x2/2      -> 4x4x16   (engine layer 1, fused pool)
    CONV_2D 3x3 SAME 16->32, ReLU    + AVERAGE_POOL_2D 2x2/2  -> 2x2x32   (engine layer 2, fused pool)
    CONV_2D 2x2 VALID 32->10 (the classifier: its kernel covers the whole 2x2x32 input, so it is a
            fully connected layer numerically, but LiteRT runs it on the integer requantisation path
            the hardware uses; its FULLY_CONNECTED kernel would requantise in float)  -> 1x1x10
    RESHAPE [1, 10]                                                               (no-op on the engine)

Training: float64 NumPy (im2col convolutions, hand-written backward pass), softmax cross-entropy,
Adam (lr 3e-3, cosine decay to 1e-4), batch 32, L2 1e-4, He initialisation, on the 1347 training images
of the fixed split (models.digits.load_split); the 450 held-out images are used only for the reported
accuracies (no model selection on them). Seeded and single-threaded BLAS: the same seed gives the same
.tflite bytes (``--check`` verifies the committed file).

Quantisation (post-training, TFLite int8 scheme):
  * weights int8 per output channel, symmetric: scale[m] = max|W[m]| / 127, zero point 0;
  * bias int32 = round(b[m] / (input_scale * weight_scale[m]));
  * activations per tensor, calibrated on the training set with the quantised network itself (layer by
    layer: each layer's range is measured on the int8 model's own previous outputs): after ReLU
    [0, max] -> scale max/255, zero point -128 (so ReLU is the clamp at -128); the logits [min, max]
    asymmetric; pooling keeps its input's quantisation.
"""

import os

# Deterministic, single-threaded BLAS (set before NumPy loads it).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from golden.network import AvgPool2D, Conv2D, MaxPool2D, Network, QuantParams, Reshape, run_network  # noqa: E402
from golden.tflite_build import build_tflite  # noqa: E402

from .digits import (  # noqa: E402
    INPUT_SCALE,
    INPUT_ZERO_POINT,
    METRICS_PATH,
    MODEL_PATH,
    SPLIT_SEED,
    LiteRTModel,
    accuracy,
    load_split,
    quantise_images,
)

__all__ = ["FloatCNN", "train", "quantise", "main"]

C1, C2, CLASSES = 16, 32, 10


# ---- float layers (NHWC, weights OHWI like TFLite) ---------------------------------------------------
def _im2col_same(x, R, S):
    """x [N][H][W][C] -> patches [N][H][W][R][S][C] of a stride-1 SAME conv (zero padding)."""
    N, H, W, C = x.shape
    pt, pl = (R - 1) // 2, (S - 1) // 2
    xp = np.zeros((N, H + R - 1, W + S - 1, C), x.dtype)
    xp[:, pt:pt + H, pl:pl + W] = x
    cols = np.empty((N, H, W, R, S, C), x.dtype)
    for r in range(R):
        for s in range(S):
            cols[:, :, :, r, s] = xp[:, r:r + H, s:s + W]
    return cols


def _col2im_same(dcols, shape):
    N, H, W, C = shape
    R, S = dcols.shape[3:5]
    pt, pl = (R - 1) // 2, (S - 1) // 2
    dxp = np.zeros((N, H + R - 1, W + S - 1, C), dcols.dtype)
    for r in range(R):
        for s in range(S):
            dxp[:, r:r + H, s:s + W] += dcols[:, :, :, r, s]
    return dxp[:, pt:pt + H, pl:pl + W]


def conv_same_forward(x, w, b):
    N, H, W, C = x.shape
    M, R, S, _ = w.shape
    cols = _im2col_same(x, R, S)
    out = cols.reshape(N * H * W, -1) @ w.reshape(M, -1).T + b
    return out.reshape(N, H, W, M), cols


def conv_same_backward(dout, cols, x_shape, w):
    M = w.shape[0]
    d2 = dout.reshape(-1, M)
    dw = (d2.T @ cols.reshape(d2.shape[0], -1)).reshape(w.shape)
    db = d2.sum(axis=0)
    dcols = (d2 @ w.reshape(M, -1)).reshape(cols.shape)
    return _col2im_same(dcols, x_shape), dw, db


def _windows(x):
    """[N][H][W][C] (H, W even) -> [N][H/2][W/2][4][C] (the 2x2 windows, VALID stride 2)."""
    N, H, W, C = x.shape
    return x.reshape(N, H // 2, 2, W // 2, 2, C).transpose(0, 1, 3, 2, 4, 5).reshape(N, H // 2, W // 2, 4, C)


def _unwindows(win, shape):
    N, H, W, C = shape
    return win.reshape(N, H // 2, W // 2, 2, 2, C).transpose(0, 1, 3, 2, 4, 5).reshape(shape)


def maxpool_forward(x):
    win = _windows(x)
    idx = win.argmax(axis=3)
    return np.take_along_axis(win, idx[:, :, :, None], axis=3)[:, :, :, 0], idx


def maxpool_backward(dout, idx, shape):
    N, H, W, C = shape
    dwin = np.zeros((N, H // 2, W // 2, 4, C))
    np.put_along_axis(dwin, idx[:, :, :, None], dout[:, :, :, None], axis=3)
    return _unwindows(dwin, shape)


def avgpool_forward(x):
    return _windows(x).mean(axis=3)


def avgpool_backward(dout, shape):
    return _unwindows(np.repeat(dout[:, :, :, None] / 4.0, 4, axis=3), shape)


class FloatCNN:
    """The float network; parameters in TFLite layouts (conv OHWI, classifier [10][2][2][32])."""

    def __init__(self, rng):
        def he(shape):
            fan_in = int(np.prod(shape[1:]))
            return rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)

        self.p = {
            "w1": he((C1, 3, 3, 1)), "b1": np.zeros(C1),
            "w2": he((C2, 3, 3, C1)), "b2": np.zeros(C2),
            "w3": he((CLASSES, 2, 2, C2)) * np.sqrt(0.5), "b3": np.zeros(CLASSES),
        }

    def forward(self, x, keep=False):
        p = self.p
        c1, cols1 = conv_same_forward(x, p["w1"], p["b1"])
        r1 = np.maximum(c1, 0)
        p1, idx1 = maxpool_forward(r1)
        c2, cols2 = conv_same_forward(p1, p["w2"], p["b2"])
        r2 = np.maximum(c2, 0)
        p2 = avgpool_forward(r2)
        flat = p2.reshape(len(x), -1)                       # NHWC flatten = the 2x2 kernel's OHWI order
        logits = flat @ p["w3"].reshape(CLASSES, -1).T + p["b3"]
        if keep:
            self.cache = (x, c1, cols1, r1, idx1, p1, c2, cols2, r2, flat)
        return {"r1": r1, "r2": r2, "logits": logits}

    def backward(self, dlogits):
        p = self.p
        x, c1, cols1, r1, idx1, p1, c2, cols2, r2, flat = self.cache
        g = {"w3": (dlogits.T @ flat).reshape(p["w3"].shape), "b3": dlogits.sum(axis=0)}
        dp2 = (dlogits @ p["w3"].reshape(CLASSES, -1)).reshape(len(x), 2, 2, C2)
        dr2 = avgpool_backward(dp2, r2.shape) * (c2 > 0)
        dp1, g["w2"], g["b2"] = conv_same_backward(dr2, cols2, p1.shape, p["w2"])
        dr1 = maxpool_backward(dp1, idx1, r1.shape) * (c1 > 0)
        _, g["w1"], g["b1"] = conv_same_backward(dr1, cols1, x.shape, p["w1"])
        return g


def softmax_xent(logits, y):
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    prob = e / e.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(prob[np.arange(len(y)), y] + 1e-12))
    d = prob.copy()
    d[np.arange(len(y)), y] -= 1
    return loss, d / len(y)


def train(x, y, seed=1, epochs=60, batch=32, lr=3e-3, lr_min=1e-4, l2=1e-4, log=print):
    rng = np.random.default_rng(seed)
    model = FloatCNN(rng)
    m = {k: np.zeros_like(v) for k, v in model.p.items()}
    v = {k: np.zeros_like(v) for k, v in model.p.items()}
    b1, b2, eps = 0.9, 0.999, 1e-8
    steps_per_epoch = -(-len(x) // batch)
    total, t = epochs * steps_per_epoch, 0
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        losses = []
        for i in range(0, len(x), batch):
            sel = order[i:i + batch]
            out = model.forward(x[sel], keep=True)
            loss, d = softmax_xent(out["logits"], y[sel])
            losses.append(loss)
            grads = model.backward(d)
            t += 1
            rate = lr_min + 0.5 * (lr - lr_min) * (1 + np.cos(np.pi * (t - 1) / total))
            for k, g in grads.items():
                if k.startswith("w"):
                    g = g + l2 * model.p[k]
                m[k] = b1 * m[k] + (1 - b1) * g
                v[k] = b2 * v[k] + (1 - b2) * g * g
                mh, vh = m[k] / (1 - b1 ** t), v[k] / (1 - b2 ** t)
                model.p[k] -= rate * mh / (np.sqrt(vh) + eps)
        if log and (epoch % 10 == 9 or epoch == epochs - 1):
            acc = accuracy(model.forward(x)["logits"], y)
            log(f"epoch {epoch + 1:3d}: loss {np.mean(losses):.4f}, training accuracy {acc:.4f}")
    return model


# ---- quantisation ------------------------------------------------------------------------------------
def _f32(v):
    return float(np.float32(v))


def _weights_q(w):
    """Symmetric per-output-channel int8 weights: (int8 OHWI, float32 scales [M])."""
    M = w.shape[0]
    amax = np.abs(w.reshape(M, -1)).max(axis=1)
    scales = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.round(w / scales.astype(np.float64)[:, None, None, None]), -127, 127).astype(np.int8)
    return q, scales


def _bias_q(b, in_scale, w_scales):
    bs = np.float64(in_scale) * w_scales.astype(np.float64)
    return np.clip(np.round(b / bs), -2**31, 2**31 - 1).astype(np.int32)


def _relu_quant(amax):
    return QuantParams(_f32(max(amax, 1e-6) / 255.0), -128)


def _asym_quant(lo, hi):
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = _f32(max(hi - lo, 1e-6) / 255.0)
    zp = int(np.clip(np.round(-128 - lo / scale), -128, 127))
    return QuantParams(scale, zp)


def _dequant(q, qp):
    return (q.astype(np.float64) - qp.zero_point) * qp.scale


def quantise(model, x_calib):
    """The float model -> a golden int8 Network, activations calibrated on ``x_calib`` (float images)
    by running the partially quantised int8 network layer by layer."""
    p = model.p
    in_q = QuantParams(INPUT_SCALE, INPUT_ZERO_POINT)
    xq = quantise_images(x_calib)
    layers = []

    def run(layers_so_far):
        net = Network((len(xq), 8, 8, 1), in_q, list(layers_so_far))
        return run_network(net, xq) if layers_so_far else xq

    # conv1: calibrate the ReLU output on the (exact) int8 inputs.
    w1, s1 = _weights_q(p["w1"])
    x0 = _dequant(xq, in_q)
    c1, _ = conv_same_forward(x0, w1.astype(np.float64) * s1[:, None, None, None], p["b1"])
    q1 = _relu_quant(np.maximum(c1, 0).max())
    layers.append(Conv2D(w1, _bias_q(p["b1"], in_q.scale, s1), s1, in_q, q1, (1, 1), "SAME",
                         activation="RELU"))
    layers.append(MaxPool2D((2, 2), (2, 2), "VALID", q1))

    # conv2 on the int8 network's own pooled outputs.
    w2, s2 = _weights_q(p["w2"])
    x1 = _dequant(run(layers), q1)
    c2, _ = conv_same_forward(x1, w2.astype(np.float64) * s2[:, None, None, None], p["b2"])
    q2 = _relu_quant(np.maximum(c2, 0).max())
    layers.append(Conv2D(w2, _bias_q(p["b2"], q1.scale, s2), s2, q1, q2, (1, 1), "SAME", activation="RELU"))
    layers.append(AvgPool2D((2, 2), (2, 2), "VALID", q2))

    # classifier: a 2x2 VALID conv over the whole 2x2x32 input.
    w3, s3 = _weights_q(p["w3"])
    x2 = _dequant(run(layers), q2).reshape(len(xq), -1)
    logits = x2 @ (w3.astype(np.float64) * s3[:, None, None, None]).reshape(CLASSES, -1).T + p["b3"]
    q3 = _asym_quant(float(logits.min()), float(logits.max()))
    layers.append(Conv2D(w3, _bias_q(p["b3"], q2.scale, s3), s3, q2, q3, (1, 1), "VALID"))
    layers.append(Reshape((1, CLASSES), q3))
    return Network((1, 8, 8, 1), in_q, layers).validate()


def golden_logits(net, images_q):
    """int8 logits [N][10] of the golden model (one image at a time, as the network is batch 1)."""
    return np.stack([run_network(net, x[None]).reshape(-1) for x in images_q])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1, help="initialisation and shuffling seed (default 1)")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--out", type=Path, default=MODEL_PATH, help="the .tflite to write")
    ap.add_argument("--metrics", type=Path, default=None, help="metrics JSON (default: next to --out)")
    ap.add_argument("--check", action="store_true",
                    help="do not write: fail unless the result is byte-identical to the existing --out")
    args = ap.parse_args(argv)
    metrics_path = args.metrics or (METRICS_PATH if args.out == MODEL_PATH else args.out.with_suffix(".json"))

    t0 = time.time()
    x_tr, y_tr, x_te, y_te = load_split()
    print(f"digits: {len(x_tr)} training, {len(x_te)} held-out images (split seed {SPLIT_SEED})")
    model = train(x_tr, y_tr, seed=args.seed, epochs=args.epochs)
    t_train = time.time() - t0
    float_acc = accuracy(model.forward(x_te)["logits"], y_te)
    float_train_acc = accuracy(model.forward(x_tr)["logits"], y_tr)

    net = quantise(model, x_tr)
    blob = build_tflite(net)
    xq_te = quantise_images(x_te)
    ref = LiteRTModel(blob)
    lite = ref.logits(xq_te)
    gold = golden_logits(net, xq_te)
    identical = bool(np.array_equal(lite, gold))
    int8_acc = accuracy(lite, y_te)
    int8_train_acc = accuracy(ref.logits(quantise_images(x_tr)), y_tr)
    sha = hashlib.sha256(blob).hexdigest()

    print(f"float accuracy: held-out {float_acc:.4f} ({round(float_acc * len(y_te))}/{len(y_te)}), "
          f"training {float_train_acc:.4f}")
    print(f"int8 accuracy (LiteRT BUILTIN_REF): held-out {int8_acc:.4f} ({round(int8_acc * len(y_te))}/"
          f"{len(y_te)}), training {int8_train_acc:.4f}")
    print(f"golden.run_network logits bit-identical to LiteRT on all {len(y_te)} held-out images: "
          f"{identical}")
    print(f"model: {len(blob)} bytes, sha256 {sha}; training took {t_train:.1f} s")
    if not identical:
        print("error: golden and LiteRT disagree", file=sys.stderr)
        return 1

    metrics = {
        "model": args.out.name, "bytes": len(blob), "sha256": sha,
        "dataset": "sklearn.datasets.load_digits (8x8, pixels 0..16)",
        "split": {"test_size": 0.25, "random_state": SPLIT_SEED, "stratify": True,
                  "train": len(y_tr), "test": len(y_te)},
        "training": {"seed": args.seed, "epochs": args.epochs, "batch": 32, "optimizer": "adam",
                     "lr": 3e-3, "lr_min": 1e-4, "l2": 1e-4, "framework": "numpy float64"},
        "float_accuracy": float_acc, "float_train_accuracy": float_train_acc,
        "int8_accuracy": int8_acc, "int8_train_accuracy": int8_train_acc,
        "int8_correct": int(round(int8_acc * len(y_te))), "float_correct": int(round(float_acc * len(y_te))),
        "golden_equals_litert": identical,
        "input": {"scale": INPUT_SCALE, "zero_point": INPUT_ZERO_POINT, "float": "pixel / 16"},
    }
    if args.check:
        old = args.out.read_bytes() if args.out.exists() else b""
        if old != blob:
            print(f"--check: {args.out} differs from the regenerated model (sha256 "
                  f"{hashlib.sha256(old).hexdigest()[:16]} vs {sha[:16]})", file=sys.stderr)
            return 1
        print(f"--check: {args.out} is byte-identical to the regenerated model")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(blob)
    metrics_path.write_text(json.dumps(metrics, indent=1) + "\n")
    print(f"wrote {args.out} and {metrics_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
