"""BoardTop: wraps any design component so a synthesis run measures the design and nothing else.

A design synthesised on its own has hundreds of I/O bits (the 4x4 tile alone has 68 inputs and 513
outputs), far more than a board has pins, and if its ports were simply left unconnected Yosys would
remove the whole design as dead logic. BoardTop therefore closes the design on-chip:

* every input port of the design (every ``In`` member of its signature: data, valid, ready) is
  driven by its own bit of a bank of free-running 32-bit LFSRs, each with a different seed, so no
  two inputs are provably equal or constant;
* every output port bit is first captured in a flip-flop of its own, then folded into one bit by a
  registered XOR tree of fan-in 4 (one LUT4 per node, a flip-flop after every level), so the
  reduction adds a few pipeline stages but is never the critical path; that bit drives a pin (an
  LED on the board). The capture register is what any user of the design would put behind an
  output: a combinational output (the engine's ``host_rdata``, straight from a block RAM through
  one LUT) is then timed up to that flip-flop, not through the harness's XOR logic as well.

Both are generic over the design's :class:`amaranth.lib.wiring.Signature`, so the same wrapper
serves the MAC tile today and the conv engine or SoC later. Without a platform (``platform=None``)
the observed bit is exposed as the ``led`` attribute instead of a pin, which keeps the top
elaboratable and convertible to Verilog in tests.
"""

from amaranth.hdl import Cat, Const, Elaboratable, Module, Shape, Signal
from amaranth.lib import io, wiring

__all__ = ["BoardTop", "Lfsr32", "xor_tree"]

# x^32 + x^22 + x^2 + x + 1: a maximal-length polynomial (Xilinx XAPP052 table), Fibonacci form.
LFSR_TAPS = (31, 21, 1, 0)
XOR_FANIN = 4  # one LUT4 per tree node on both iCE40 and ECP5


class Lfsr32(Elaboratable):
    """Free-running 32-bit Fibonacci LFSR; ``state`` is the register, reset to ``seed`` (non-zero)."""

    def __init__(self, seed):
        seed &= 0xFFFF_FFFF
        if seed == 0:
            raise ValueError("LFSR seed = 0 is not allowed: an all-zero LFSR never leaves zero")
        self.seed = seed
        self.state = Signal(32, init=seed)

    def elaborate(self, platform):
        m = Module()
        feedback = 0
        for tap in LFSR_TAPS:
            feedback ^= self.state[tap]
        m.d.sync += self.state.eq(Cat(feedback, self.state[:-1]))
        return m


def xor_tree(m, bits, *, fanin=XOR_FANIN, name="xor"):
    """Registered XOR reduction of ``bits`` (a list of 1-bit values) in ``m``'s sync domain.

    Each level XORs groups of ``fanin`` bits into a register; returns ``(result, levels)`` where
    ``result`` is the final 1-bit register (or the only input when there is just one) and ``levels``
    is the number of register stages added (the tree's latency in cycles).
    """
    if not bits:
        raise ValueError("xor_tree needs at least one bit")
    level = 0
    while len(bits) > 1 or level == 0:
        nxt = []
        for k in range(0, len(bits), fanin):
            reg = Signal(name=f"{name}_l{level}_{k // fanin}")
            group = bits[k:k + fanin]
            value = group[0]
            for bit in group[1:]:
                value = value ^ bit
            m.d.sync += reg.eq(value)
            nxt.append(reg)
        bits = nxt
        level += 1
    return bits[0], level


class BoardTop(Elaboratable):
    """Drive ``design``'s inputs from LFSRs and XOR-reduce its outputs to one pin.

    Parameters
    ----------
    design : wiring.Component
        Any component; its signature decides how many LFSR bits and XOR leaves are needed.
    seed : int
        Base seed of the LFSR bank (LFSR ``k`` starts at a value derived from ``seed`` and ``k``).
    pin : (str, int)
        Platform resource that receives the reduced bit; ``("led", 0)`` exists on every board here.

    Attributes
    ----------
    led : Signal
        The reduced bit (also routed to ``pin`` when elaborated for a platform).
    in_bits, out_bits : int
        Number of design input bits driven and output bits observed.
    xor_levels : int
        Register stages in the XOR tree (set on elaboration), after the capture register stage.
    """

    def __init__(self, design, *, seed=1, pin=("led", 0)):
        if not isinstance(design, wiring.Component):
            raise TypeError(f"design must be an amaranth wiring.Component, not {design!r}")
        self.design = design
        self.seed = seed
        self.pin = pin
        self.led = Signal()
        self.in_bits = self.out_bits = 0
        for _path, member, _value in design.signature.flatten(design):
            width = Shape.cast(member.shape).width
            if member.flow == wiring.In:
                self.in_bits += width
            else:
                self.out_bits += width
        self.xor_levels = None

    def lfsr_seeds(self, count):
        """Distinct non-zero 32-bit seeds, one per LFSR (golden-ratio spacing)."""
        return [((self.seed + 0x9E37_79B9 * k) & 0xFFFF_FFFF) or 1 for k in range(count)]

    def elaborate(self, platform):
        m = Module()
        m.submodules.design = design = self.design

        # Input side: one fresh LFSR bit per design input bit.
        n_lfsr = max(1, -(-self.in_bits // 32))
        lfsrs = [Lfsr32(s) for s in self.lfsr_seeds(n_lfsr)]
        for k, lfsr in enumerate(lfsrs):
            m.submodules[f"lfsr{k}"] = lfsr
        random_bits = Cat(*(lfsr.state for lfsr in lfsrs))
        offset = 0
        observed = []
        for _path, member, value in design.signature.flatten(design):
            width = Shape.cast(member.shape).width
            if member.flow == wiring.In:
                m.d.comb += value.eq(random_bits[offset:offset + width])
                offset += width
            else:
                observed.extend(Cat(value)[b] for b in range(width))

        # Output side: a capture register per output bit, then a registered XOR tree to one bit.
        if not observed:
            observed = [Const(0, 1)]
        captured = []
        for k, bit in enumerate(observed):
            reg = Signal(name=f"capture_{k}")
            m.d.sync += reg.eq(bit)
            captured.append(reg)
        result, self.xor_levels = xor_tree(m, captured)
        m.d.comb += self.led.eq(result)

        if platform is not None:
            m.submodules.led_buf = io.Buffer("o", platform.request(*self.pin, dir="-"))
            m.d.comb += m.submodules.led_buf.o.eq(self.led)
        return m
