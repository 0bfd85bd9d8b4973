"""Argument checks shared by every golden/ operator.

Every check raises ``ValueError`` with a message that names the parameter, the offending value and
the allowed range or form, e.g. ``input_zero_point = 300 is out of range [-128, 127]``.
"""

import numbers

import numpy as np

__all__ = [
    "INT32_MIN",
    "INT32_MAX",
    "MULTIPLIER_MIN",
    "SHIFT_MIN",
    "SHIFT_MAX",
    "check_scalar",
    "check_array",
    "check_values",
    "check_multiplier",
    "check_shift",
    "check_pair",
    "per_channel",
    "check_act_range",
]

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
MULTIPLIER_MIN = 2**30  # a normalised TFLite multiplier is 0 or in [2^30, 2^31 - 1]
SHIFT_MIN = -31  # TFLite range of the exponent (positive = left shift)
SHIFT_MAX = 30


def check_scalar(name, value, lo, hi):
    """``value`` must be an integer (Python or NumPy, not bool) in [lo, hi]; returns it as int."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} = {value!r} is not an integer (allowed range [{lo}, {hi}])")
    value = int(value)
    if not lo <= value <= hi:
        raise ValueError(f"{name} = {value} is out of range [{lo}, {hi}]")
    return value


def check_array(name, arr, dtype=None, ndim=None, shape=None):
    """``arr`` must be a NumPy array with the given dtype, rank and shape (None = any)."""
    if not isinstance(arr, np.ndarray):
        raise ValueError(f"{name} must be a numpy.ndarray, got {type(arr).__name__}")
    if dtype is not None and arr.dtype != np.dtype(dtype):
        raise ValueError(f"{name}.dtype = {arr.dtype} is not allowed (must be {np.dtype(dtype)})")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} has rank {arr.ndim} (shape {arr.shape}); must have rank {ndim}")
    if shape is not None and tuple(arr.shape) != tuple(shape):
        raise ValueError(f"{name}.shape = {tuple(arr.shape)} does not match the expected {tuple(shape)}")
    return arr


def check_values(name, arr, lo, hi):
    """Every element of integer array-like ``arr`` must lie in [lo, hi]; returns an int64 array."""
    a = np.asarray(arr)
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.integer):
        if a.dtype == object:
            try:
                a = a.astype(np.int64)
            except (OverflowError, TypeError, ValueError):
                raise ValueError(f"{name} must hold integers in [{lo}, {hi}], got {arr!r}") from None
        else:
            raise ValueError(
                f"{name}.dtype = {a.dtype} is not an integer type (values must be in [{lo}, {hi}])"
            )
    if a.dtype == np.uint64 and a.size and int(a.max()) > 2**63 - 1:
        raise ValueError(f"{name} = {int(a.max())} is out of range [{lo}, {hi}]")
    a = a.astype(np.int64)
    bad = (a < lo) | (a > hi)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f"{name}[{', '.join(map(str, idx))}]" if a.ndim else name
        raise ValueError(f"{where} = {int(a[idx])} is out of range [{lo}, {hi}]")
    return a


def check_multiplier(name, arr):
    """Multipliers: 0 or in [2^30, 2^31 - 1] (the output of QuantizeMultiplier); returns int64."""
    a = check_values(name, arr, 0, INT32_MAX)
    bad = (a != 0) & (a < MULTIPLIER_MIN)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f"{name}[{', '.join(map(str, idx))}]" if a.ndim else name
        raise ValueError(
            f"{where} = {int(a[idx])} is out of range: must be 0 or in [{MULTIPLIER_MIN}, {INT32_MAX}]"
        )
    return a


def check_shift(name, arr):
    """Shifts: in [-31, 30], positive = left shift (TFLite convention); returns int64."""
    return check_values(name, arr, SHIFT_MIN, SHIFT_MAX)


def check_pair(name, value, lo, hi):
    """An int or a pair of ints, each in [lo, hi]; returns a tuple of two ints."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name} = {value!r} must be an integer or a pair of integers in [{lo}, {hi}]")
    return tuple(check_scalar(f"{name}[{i}]", v, lo, hi) for i, v in enumerate(value))


def per_channel(name, value, m, checker):
    """Broadcast a scalar or a length-``m`` vector to shape [m] after ``checker`` validated it."""
    a = checker(name, value)
    if a.ndim == 0:
        return np.full(m, int(a), dtype=np.int64)
    if a.shape != (m,):
        raise ValueError(
            f"{name}.shape = {a.shape} does not match the expected ({m},) (one per output channel)"
        )
    return a


def check_act_range(act_min, act_max):
    """act_min / act_max are int8 values with act_min <= act_max; returns both as int."""
    act_min = check_scalar("act_min", act_min, -128, 127)
    act_max = check_scalar("act_max", act_max, -128, 127)
    if act_min > act_max:
        raise ValueError(f"act_min = {act_min} is greater than act_max = {act_max} (need act_min <= act_max)")
    return act_min, act_max
