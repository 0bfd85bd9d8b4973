"""Generator configuration: one object that drives elaboration, golden/, the tests and the reports.

Every generator parameter lives here and is validated on construction, so a bad value fails with a
message naming the parameter, its value and the allowed range before any gateware is built.
"""

from dataclasses import asdict, dataclass

__all__ = ["AcceleratorConfig", "check_int"]


def check_int(name, value, lo, hi):
    """Raise ValueError unless ``value`` is an int in [lo, hi]; the message names the parameter."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name} = {value!r} is out of range: must be an integer in [{lo}, {hi}]")


@dataclass(frozen=True)
class AcceleratorConfig:
    """Parameters of the generated accelerator.

    Parameters
    ----------
    rows : int
        MAC tile rows: output pixels (along the F loop) computed at once. Default 4.
    cols : int
        MAC tile columns: output channels (along the M loop) computed at once. Default 4.
    act_width : int
        Activation operand width in bits (signed). TFLite int8 semantics need 8.
    weight_width : int
        Weight operand width in bits (signed). TFLite int8 semantics need 8.
    acc_width : int
        Accumulator width in bits (signed, wraps like the int32 TFLite reference when 32).
    """

    rows: int = 4
    cols: int = 4
    act_width: int = 8
    weight_width: int = 8
    acc_width: int = 32

    def __post_init__(self):
        check_int("rows", self.rows, 1, 64)
        check_int("cols", self.cols, 1, 64)
        check_int("act_width", self.act_width, 2, 18)
        check_int("weight_width", self.weight_width, 2, 18)
        product_width = self.act_width + self.weight_width
        check_int("acc_width", self.acc_width, product_width, 64)

    @property
    def macs(self):
        """MACs the tile performs every cycle (rows * cols)."""
        return self.rows * self.cols

    @property
    def product_width(self):
        """Width of one signed product act * weight."""
        return self.act_width + self.weight_width

    @property
    def name(self):
        """Short, filesystem-safe tag used for build directories and reports."""
        return (f"r{self.rows}c{self.cols}_a{self.act_width}w{self.weight_width}"
                f"acc{self.acc_width}")

    def as_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, values):
        return cls(**values)
