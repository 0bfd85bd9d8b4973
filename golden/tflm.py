"""Run an int8 .tflite model in the TensorFlow Lite Micro interpreter (PyPI ``tflite-micro``).

TFLite Micro's kernels are the ones microcontrollers run (and the MLPerf Tiny reference submissions);
its integer operators are golden's contract (golden/README.md).  ``run_tflm(model, x)`` is the
counterpart of :func:`golden.tflite_build.run_litert`.

The tensor arena is sized from the model: every tensor that has no constant data (activations and
intermediates) counted at its full size as if none were shared, plus the model's size and a fixed
64 KiB for the interpreter's own bookkeeping.  This only over-estimates what the memory planner needs.
"""

import contextlib
import os
import sys
import tempfile

import numpy as np
import tflite

__all__ = ["run_tflm", "arena_size_for"]

_ARENA_BASE = 1 << 16
_ARENA_PER_TENSOR = 256  # TfLiteTensor / TfLiteEvalTensor records and alignment padding
_ITEMSIZE = {
    tflite.TensorType.INT8: 1,
    tflite.TensorType.UINT8: 1,
    tflite.TensorType.BOOL: 1,
    tflite.TensorType.INT16: 2,
    tflite.TensorType.FLOAT16: 2,
    tflite.TensorType.INT32: 4,
    tflite.TensorType.FLOAT32: 4,
}
_TYPE_NAMES = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}


def _read(model: bytes):
    """(flatbuffer Model, its single subgraph); ValueError if ``model`` is not a one-subgraph .tflite."""
    if not isinstance(model, (bytes, bytearray)):
        raise ValueError(f"model must be the bytes of a .tflite file, not {type(model).__name__}")
    if len(model) < 8 or bytes(model[4:8]) != b"TFL3":
        raise ValueError(
            f"model is not a .tflite flatbuffer (file identifier {bytes(model[4:8])!r}, expected b'TFL3')"
        )
    try:
        m = tflite.Model.GetRootAs(model, 0)
        n_sub = m.SubgraphsLength()
    except Exception as exc:  # a truncated or corrupt flatbuffer fails while reading offsets
        raise ValueError(f"model is not a readable .tflite flatbuffer: {exc}") from None
    if n_sub != 1:
        raise ValueError(f"model has {n_sub} subgraphs; run_tflm supports exactly 1")
    return m, m.Subgraphs(0)


def arena_size_for(model: bytes) -> int:
    """Tensor arena size (bytes) for ``model``: generous, see the module docstring."""
    m, sg = _read(model)
    total = _ARENA_BASE + len(model)
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        buf = m.Buffers(t.Buffer())
        if buf is not None and (buf.DataLength() > 0 or buf.Size() > 0):
            continue  # constant: read in place from the flatbuffer
        numel = int(np.prod([max(int(d), 1) for d in t.ShapeAsNumpy()])) if t.ShapeLength() else 1
        total += numel * _ITEMSIZE.get(t.Type(), 8) + _ARENA_PER_TENSOR
    return (total + 15) // 16 * 16


@contextlib.contextmanager
def _native_stderr(log: list):
    """Collect what the C++ interpreter writes to file descriptor 2 (its error reports) into ``log``."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            log.append(tmp.read().decode(errors="replace").strip())


def _io_tensor(sg, which: str):
    count = sg.InputsLength() if which == "input" else sg.OutputsLength()
    if count != 1:
        raise ValueError(f"model has {count} {which}s; run_tflm supports exactly one input and one output")
    t = sg.Tensors(int(sg.Inputs(0) if which == "input" else sg.Outputs(0)))
    if t.Type() != tflite.TensorType.INT8:
        name = _TYPE_NAMES.get(t.Type(), str(t.Type()))
        raise ValueError(f"model {which} has type {name}; run_tflm supports INT8 only")
    return tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()


def run_tflm(model: bytes, x: np.ndarray) -> np.ndarray:
    """Run a single-input, single-output int8 model in TFLite Micro and return its int8 output.

    Parameters
    ----------
    model: the .tflite flatbuffer (bytes).
    x: int8 array of exactly the model input's shape.

    Raises ValueError if ``model`` is not a one-subgraph .tflite with one int8 input and one int8
    output, if ``x`` has another dtype or shape, or if TFLite Micro refuses the model (an operator
    it does not register, or one whose Prepare step rejects its tensors); the message then carries
    the interpreter's own report.
    """
    from tflite_micro import runtime

    _m, sg = _read(model)
    in_shape = _io_tensor(sg, "input")
    _io_tensor(sg, "output")
    x = np.asarray(x)
    if x.dtype != np.int8:
        raise ValueError(f"x has dtype {x.dtype}; the model input is int8")
    if x.shape != in_shape:
        raise ValueError(f"x has shape {x.shape}; the model input has shape {in_shape}")
    log = []
    try:
        with _native_stderr(log):
            interp = runtime.Interpreter.from_bytes(bytes(model), arena_size=arena_size_for(model))
            interp.set_input(np.ascontiguousarray(x), 0)
            interp.invoke()
    except RuntimeError as exc:
        report = "; ".join(line for line in log[0].splitlines() if line.strip()) if log else ""
        raise ValueError(f"TFLite Micro refused the model: {exc} ({report or 'no report'})") from None
    if log and log[0]:
        print(log[0], file=sys.stderr)  # warnings of a successful run are passed on, not swallowed
    return np.array(interp.get_output(0), dtype=np.int8, copy=True)
