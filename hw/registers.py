"""The gateware's view of the register map: Amaranth types generated from spec/registers.py.

* :data:`Space`: the host bus's address spaces as an ``amaranth.lib.enum.Enum`` (its shape is
  the narrowest that holds every value), with
  the names and values of ``spec.registers.Space``.
* :data:`STATUS_LAYOUT`: the 32-bit status word (STATUS register, STATUS / WAIT responses) as a
  ``lib.data`` layout whose fields sit where ``spec.registers.STATUS_FIELDS`` puts them (bits
  between fields are padding and read 0 in every producer here).

Nothing in this file types a number of the map: every value comes from spec/registers.py.
"""

from amaranth.hdl import unsigned
from amaranth.lib import data, enum

from spec.registers import STATUS_FIELDS
from spec.registers import Space as _SpecSpace

__all__ = ["Space", "STATUS_LAYOUT", "STATUS_WIDTH", "status_half"]



def _space_enum():
    shape = unsigned(max(_SpecSpace.NAMES).bit_length())
    members = enum.EnumType.__prepare__("Space", (enum.Enum,), shape=shape)
    members["__doc__"] = "Address spaces of the host bus (spec.registers.Space as an Amaranth enum)."
    members["__module__"] = __name__
    for index, name in sorted(_SpecSpace.NAMES.items()):
        members[name] = index
    return enum.EnumType("Space", (enum.Enum,), members, shape=shape)


Space = _space_enum()

STATUS_WIDTH = 32

STATUS_LAYOUT = data.FlexibleLayout(STATUS_WIDTH, {
    f.name.lower(): data.Field(f.width, f.lsb) for f in STATUS_FIELDS
})


def status_half(lo, hi):
    """The field names of STATUS_LAYOUT in bits ``lo..hi-1`` (checked not to straddle ``lo``/``hi``)."""
    names = []
    for f in STATUS_FIELDS:
        if f.lsb + f.width <= lo or f.lsb >= hi:
            continue
        if not (lo <= f.lsb and f.lsb + f.width <= hi):
            raise ValueError(f"status field {f.name} (bits {f.lsb}..{f.lsb + f.width - 1}) straddles "
                             f"the range {lo}..{hi - 1}")
        names.append(f.name.lower())
    return names
