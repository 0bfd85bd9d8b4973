"""Requantizer: int32 accumulator -> int8 output, bit-exact with TFLite's reference epilogue.

One element per beat (one beat per cycle, or per ``mul_cycles`` with the serial multiplier), exactly
the back end of ``reference_integer_ops::ConvPerChannel`` (golden.quant.requantize, "double
rounding", NOT the TFLITE_SINGLE_ROUNDING build):

    x = wrap32(acc + bias)
    a = wrap32(x * 2^left)                      left = max(shift, 0)
    q = SaturatingRoundingDoublingHighMul(a, M)
    r = RoundingDivideByPOT(q, right)           right = max(-shift, 0)
    y = wrap32(r + output_zero_point)
    out = min(max(y, act_min), act_max)

All parameters (bias, M, shift, zero point, clamps) travel with each element, so the engine can
feed per-channel values (with ``constant_clamps`` the zero point and clamps are ports instead:
layer constants read by the last two stages). Every int32 wraps like the compiled C++ reference
(two's complement); nothing saturates. SRDHM's only saturating case (a == M == INT32_MIN) cannot
occur because M is an unsigned 31-bit field (M <= 2^31 - 1).

Arithmetic identities the datapath uses (exact for every int32 ``a`` and 0 <= M < 2^31):

* SRDHM: with p = a*M, gemmlowp computes trunc((p + (p >= 0 ? 2^30 : 1 - 2^30)) / 2^31). For
  p < 0 the truncation toward zero of a negative number equals floor((p + 1 - 2^30 + 2^31 - 1) / 2^31),
  so in both cases q = floor((p + 2^30) / 2^31): one rounding constant, an arithmetic shift, and
  ties go toward +infinity as in the reference. q lies in [-(2^31 - 1), 2^31 - 2].
* p is built from four 16 x 16 partial products (a = ah*2^16 + al, M = mh*2^16 + ml with al, ml
  unsigned 16 bits, ah signed 16, mh unsigned 15): p = ahmh*2^32 + (ahml + almh)*2^16 + alml.
  Only bits >= 31 of p + 2^30 are kept, so with s = (ahml + almh) + ((alml >> 16) + 2^14):
  q = {(ahmh + (s >> 16)), s[15]} -- no adder wider than 34 bits.
* RoundingDivideByPOT(q, e) = (q >> e) + ((q & mask) > (mask >> 1) + (q < 0)) with mask = 2^e - 1
  equals (q + (e ? 2^(e-1) - (q < 0) : 0)) >> e (arithmetic shift of a 33-bit sum): half away
  from zero. The addend is formed without a subtractor or a special case for e = 0 by working with
  one extra (half) bit: q + (e ? 2^(e-1) - n : 0) = floor((2q + (1 - n) + (2^e - 1)) / 2), n = (q < 0).

Pipeline (every stage named below is a register stage by default; ``registers`` can leave some
out, which then become combinational and shorten the latency; ``clamp`` is always registered
because it is the output register). All stages advance together whenever the output register is
empty or being read (``advance = ~o.valid | o.ready``, which is also ``i.ready``); an input gap
travels down the pipeline as a bubble:

    stage    logic feeding the stage register                       critical path
    -------  -----------------------------------------------------  ---------------------------
    bias     x = wrap32(acc + bias); left/right from shift           32-bit adder
    lshift   a = wrap32(x << left)                                   5-level barrel shifter
    mul      alml, almh, ahml, ahmh (four 16x16 products)            16x16 multiplier (a DSP)
    mid      mid = ahml + almh; low = (alml >> 16) + 2^14            33-bit adder
    sum      s = mid + low                                           34-bit adder
    high     q = {ahmh + (s >> 16), s[15]}  (SRDHM result);          31-bit adder
             mask = 2^right - 1 (thermometer decode of right)
    round    qa = ({q, ~(q < 0)} + mask) >> 1                        34-bit adder
    rshift   r = qa >> right  (arithmetic)                           5-level barrel shifter
    zp       y = wrap32(r + output_zero_point)                       32-bit adder
    clamp    out = min(max(y, act_min), act_max)  (= o.payload)      32-bit comparators + mux

Latency: one cycle per registered stage (10 by default) from the cycle a beat is accepted on ``i``
to the cycle it is offered on ``o``. Throughput: one element per cycle while ``o.ready`` is high.
On ECP5 each 16x16 product maps to one MULT18X18D (4 per requantizer); on an iCE40 whose DSPs
are all in use by the MAC tile they would become LUT multipliers: use the serial multiplier
there.

Digit-serial multiplier (``mul_cycles`` = k > 1, for iCE40): the stages mul..high are replaced by
one iterative unit that consumes d = ceil(31 / k) bits of M per cycle, least significant digit
first: H = 2^30 (the rounding constant); k times: T = H + a * digit, shift T's d low bits into L,
H = T >> d; then q = {H, L}[31:63]. Its datapath is one 32 x d LUT multiplier and one (34 + d)-bit
adder. The pipeline is then two stall domains: bias/lshift advance when the unit takes their
element (``i.ready``), round..clamp advance when the output register is free; the unit loads a
new element in the cycle its result moves on, so an element takes exactly k' = ceil(31 / d)
cycles (``cycles_per_element``), and the latency is (registered stages other than mul..high) + k'.

Parameter ranges (as TFLite produces them; outside them the result is unspecified): multiplier 0
or [2^30, 2^31 - 1] (any value in [0, 2^31 - 1] is in fact computed exactly), shift [-31, 30]
(shift = 31 acts as a left shift by 31; shift = -32 is not supported).
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from spec.config import AcceleratorConfig, check_int
from spec.latency import (
    MULTIPLIER_WIDTH,
    REQUANT_LATENCY,
    REQUANT_SERIAL_STAGES,
    REQUANT_STAGES,
    requant_cycles_per_element,
    serial_digit_bits,
)

__all__ = ["Requantizer", "requant_in_layout", "requant_out_layout", "STAGES"]

# The pipeline stages in order (see the module docstring).
# The register stages in pipeline order, and the ones the digit-serial multiplier (mul_cycles > 1)
# replaces: spec/latency.py (the cycle model counts them from there).
STAGES = REQUANT_STAGES
SERIAL_REPLACES = REQUANT_SERIAL_STAGES
SHIFT_WIDTH = 6
BIAS_WIDTH = 32


def _check_tag_width(tag_width):
    if isinstance(tag_width, bool) or not isinstance(tag_width, int) or not 0 <= tag_width <= 64:
        raise ValueError(f"tag_width = {tag_width!r} is out of range: must be an integer in [0, 64]")


def requant_in_layout(config: AcceleratorConfig, tag_width=0, constant_clamps=False):
    """Payload of one input beat: an accumulator and the parameters of its output channel.

    With ``constant_clamps`` the zero point and clamps are not part of the beat (they are ports
    of the requantizer, see :class:`Requantizer`)."""
    _check_tag_width(tag_width)
    fields = {
        "acc": signed(config.acc_width),               # int32 accumulator (sign-extended if narrower)
        "bias": signed(BIAS_WIDTH),                    # int32 bias, added with int32 wrap
        "multiplier": unsigned(MULTIPLIER_WIDTH),      # 0 or [2^30, 2^31 - 1]
        "shift": signed(SHIFT_WIDTH),                  # [-31, 30], positive = left shift
    }
    if not constant_clamps:
        fields.update({
            "output_zero_point": signed(config.act_width),
            "act_min": signed(config.act_width),
            "act_max": signed(config.act_width),
        })
    fields["last"] = 1                                 # passed through unchanged
    if tag_width:
        fields["tag"] = unsigned(tag_width)            # passed through unchanged
    return data.StructLayout(fields)


def requant_out_layout(config: AcceleratorConfig, tag_width=0):
    """Payload of one output beat: the int8 result and the passthrough fields."""
    _check_tag_width(tag_width)
    fields = {"value": signed(config.act_width), "last": 1}
    if tag_width:
        fields["tag"] = unsigned(tag_width)
    return data.StructLayout(fields)


class Requantizer(wiring.Component):
    """Streaming TFLite requantizer (MultiplyByQuantizedMultiplier + zero point + clamp).

    Parameters
    ----------
    config : AcceleratorConfig, optional
        Default ``AcceleratorConfig()``. Uses ``acc_width`` (at most 32; a narrower accumulator is
        sign-extended) and ``act_width`` (output, zero point and clamp width; 8 for TFLite int8).
    tag_width : int
        Width of an optional ``tag`` field passed from ``i`` to ``o`` unchanged (0 = no field).
        ``last`` is always passed through.
    registers : iterable of str, optional
        Names from :data:`STAGES` that get a pipeline register (default: all). Leaving stages out
        trades Fmax for latency and flip-flops; ``"clamp"`` (the output register) is always kept.
    mul_cycles : int
        1 (default): the pipelined 4 x (16x16) multiplier, one element per cycle.
        2..31: a digit-serial multiplier for FPGAs without spare DSPs (iCE40): M is consumed
        ``d = ceil(31 / mul_cycles)`` bits per cycle by one 32 x d LUT multiplier and a 34+d-bit
        adder, so an element takes ``cycles_per_element = ceil(31 / d)`` cycles and the
        stages mul/mid/sum/high are replaced by the serial unit (see :attr:`latency`).
    constant_clamps : bool
        False (default): zero point and clamps travel with every beat. True: they are the ports
        ``output_zero_point``, ``act_min``, ``act_max``, read by the zp and clamp stages directly,
        for a user whose values are layer constants (the conv engine: its registers cannot change
        while a layer runs). This saves carrying 3 x act_width bits through every stage.

    Members
    -------
    i : In(stream.Signature(requant_in_layout(config, tag_width, constant_clamps)))
    o : Out(stream.Signature(requant_out_layout(config, tag_width)))
    output_zero_point, act_min, act_max : In(signed(act_width))   only with ``constant_clamps``
    """

    def __init__(self, config: AcceleratorConfig | None = None, *, tag_width=0, registers=STAGES,
                 mul_cycles=1, constant_clamps=False):
        if config is None:
            config = AcceleratorConfig()
        if not isinstance(config, AcceleratorConfig):
            raise TypeError(f"config must be an AcceleratorConfig, not {config!r}")
        if config.acc_width > 32:
            raise ValueError(f"acc_width = {config.acc_width} is out of range: the requantizer takes "
                             f"at most a 32-bit (int32) accumulator")
        _check_tag_width(tag_width)
        if isinstance(registers, str):
            raise TypeError(f"registers must be an iterable of stage names, not the string {registers!r}")
        registers = frozenset(registers)
        unknown = sorted(registers - set(STAGES))
        if unknown:
            raise ValueError(f"registers = {unknown!r} names unknown stages (allowed: {', '.join(STAGES)})")
        check_int("mul_cycles", mul_cycles, 1, MULTIPLIER_WIDTH)
        if not isinstance(constant_clamps, bool):
            raise TypeError(f"constant_clamps = {constant_clamps!r} must be a bool")
        self._constant_clamps = constant_clamps
        self._config = config
        self._tag_width = tag_width
        self._registers = registers | {"clamp"}
        self._mul_cycles = mul_cycles
        self._digit = serial_digit_bits(mul_cycles)
        members = {
            "i": In(stream.Signature(requant_in_layout(config, tag_width, constant_clamps))),
            "o": Out(stream.Signature(requant_out_layout(config, tag_width))),
        }
        if constant_clamps:
            members.update({name: In(signed(config.act_width))
                            for name in ("output_zero_point", "act_min", "act_max")})
        super().__init__(members)

    @property
    def config(self):
        return self._config

    @property
    def tag_width(self):
        return self._tag_width

    @property
    def constant_clamps(self):
        return self._constant_clamps

    @property
    def serial(self):
        """True if the digit-serial multiplier is used (``mul_cycles`` > 1)."""
        return self._mul_cycles > 1

    @property
    def digit_bits(self):
        """Bits of the multiplier consumed per cycle by the serial unit (31 = parallel)."""
        return self._digit if self.serial else MULTIPLIER_WIDTH

    @property
    def cycles_per_element(self):
        """Cycles between accepted elements at full rate (1 for the parallel multiplier)."""
        return requant_cycles_per_element(self._mul_cycles)

    @property
    def registers(self):
        """The registered stages, in pipeline order (the serial unit replaces mul..high)."""
        return tuple(s for s in STAGES if s in self._registers and not (self.serial and s in SERIAL_REPLACES))

    @property
    def latency(self):
        """Cycles from accepting a beat on ``i`` (into an empty pipeline) to offering its result on ``o``."""
        if self.serial:
            return len(self.registers) + self.cycles_per_element
        return len(self.registers)

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        w = cfg.act_width

        # advance_front moves bias/lshift, advance_back moves round..clamp (the output register).
        # With the parallel multiplier both are the same signal: everything stalls together.
        advance_back = Signal()
        m.d.comb += advance_back.eq(~self.o.valid | self.o.ready)
        if self.serial:
            advance_front = Signal()
        else:
            advance_front = advance_back
        m.d.comb += self.i.ready.eq(advance_front)

        built = []     # the stages in the order elaborated (checked against ``registers``)

        def stage(name, valid, values, advance):
            """Register (or, if the stage is not registered, just name) ``values`` after ``name``."""
            built.append(name)
            registered = name in self._registers
            out_valid = Signal(name=f"{name}_valid")
            out = {}
            for key, value in values.items():
                out[key] = Signal(value.shape(), name=f"{name}_{key}")
            if registered:
                with m.If(advance):
                    m.d.sync += out_valid.eq(valid)
                    m.d.sync += [out[k].eq(v) for k, v in values.items()]
            else:
                m.d.comb += out_valid.eq(valid)
                m.d.comb += [out[k].eq(v) for k, v in values.items()]
            return out_valid, out

        p = self.i.payload
        passthrough = {"last": p.last}
        if self._tag_width:
            passthrough["tag"] = p.tag
        if self._constant_clamps:
            clamps = {}
            consts = {"zp": self.output_zero_point, "act_min": self.act_min, "act_max": self.act_max}
        else:
            clamps = {"zp": p.output_zero_point, "act_min": p.act_min, "act_max": p.act_max}

        # bias: x = wrap32(acc + bias); split the shift into a left and a right amount.
        x = Signal(signed(32))
        neg_shift = p.shift < 0
        m.d.comb += x.eq((p.acc + p.bias)[:32])
        v, s = stage("bias", self.i.valid, {
            "x": x,
            "left": Mux(neg_shift, 0, p.shift[:5]),
            "right": Mux(neg_shift, -p.shift, 0)[:5],
            "mult": p.multiplier,
            **clamps, **passthrough,
        }, advance_front)

        # lshift: a = wrap32(x << left).
        a = Signal(signed(32))
        m.d.comb += a.eq((s["x"] << s["left"])[:32])
        keep = {k: s[k] for k in ("right", *clamps, *passthrough)}
        v, s = stage("lshift", v, {"a": a, "mult": s["mult"], **keep}, advance_front)

        if self.serial:
            v, s = self._serial_multiplier(m, v, s, advance_front, advance_back, (*clamps, *passthrough))
        else:
            v, s = self._parallel_multiplier(m, v, s, stage, advance_back, (*clamps, *passthrough))

        # round: qa = q + (right ? 2^(right-1) - (q < 0) : 0), as one adder with a half bit:
        # qa = ({q, ~(q < 0)} + (2^right - 1)) >> 1.
        keep = {k: s[k] for k in ("right", *clamps, *passthrough)}
        qa2 = Signal(signed(34))
        m.d.comb += qa2.eq(Cat(~s["q"][31], s["q"]).as_signed() + s["mask"])
        v, s = stage("round", v, {"qa": qa2[1:].as_signed(), **keep}, advance_back)

        # rshift: r = qa >> right (arithmetic).
        keep = {k: s[k] for k in (*clamps, *passthrough)}
        r = Signal(signed(32))
        m.d.comb += r.eq((s["qa"] >> s["right"])[:32])
        v, s = stage("rshift", v, {"r": r, **keep}, advance_back)

        # zp: y = wrap32(r + output_zero_point).
        keep = {k: s[k] for k in (*clamps, *passthrough) if k != "zp"}
        y = Signal(signed(32))
        zp = consts["zp"] if self._constant_clamps else s["zp"]
        m.d.comb += y.eq((s["r"] + zp)[:32])
        v, s = stage("zp", v, {"y": y, **keep}, advance_back)

        # clamp: min(max(y, act_min), act_max) like numpy.clip (act_max wins if act_min > act_max).
        bounds = consts if self._constant_clamps else s
        lo, hi, yv = bounds["act_min"], bounds["act_max"], s["y"]
        value = Signal(signed(w))
        with m.If((lo > hi) | (yv > hi)):
            m.d.comb += value.eq(hi)
        with m.Elif(yv < lo):
            m.d.comb += value.eq(lo)
        with m.Else():
            m.d.comb += value.eq(yv[:w])
        with m.If(advance_back):
            m.d.sync += [
                self.o.valid.eq(v),
                self.o.payload.value.eq(value),
                self.o.payload.last.eq(s["last"]),
            ]
            if self._tag_width:
                m.d.sync += self.o.payload.tag.eq(s["tag"])
        self._check_latency(built + ["clamp"])
        return m

    def _check_latency(self, built):
        """The pipeline just elaborated has the registers :attr:`latency` counts, and with every
        stage registered and the parallel multiplier its latency is spec/latency.py's REQUANT_LATENCY
        (which the cycle model uses)."""
        registered = tuple(name for name in built if name in self._registers)
        if registered != self.registers:
            raise AssertionError(f"requantizer elaborated the register stages {registered}, "
                                 f"its latency counts {self.registers}")
        if not self.serial and set(STAGES) <= self._registers and self.latency != REQUANT_LATENCY:
            raise AssertionError(f"requantizer latency = {self.latency}, spec/latency.py "
                                 f"REQUANT_LATENCY = {REQUANT_LATENCY}")

    @staticmethod
    def _mask(right):
        """2^right - 1 as a 31-bit thermometer code (the RoundingDivideByPOT addend)."""
        return Cat(right > i for i in range(31))

    def _parallel_multiplier(self, m, v, s, stage, advance, carried):
        """Stages mul, mid, sum, high: q = SRDHM(a, M) from four 16x16 partial products."""
        # mul: four 16x16 partial products of a (signed 32) and M (unsigned 31).
        al, ah = s["a"][:16], s["a"][16:].as_signed()
        ml, mh = s["mult"][:16], s["mult"][16:31]
        keep = {k: s[k] for k in ("right", *carried)}
        v, s = stage("mul", v, {
            "alml": (al * ml)[:32],
            "almh": (al * mh)[:31],
            "ahml": (ah * ml)[:32].as_signed(),
            "ahmh": (ah * mh)[:31].as_signed(),
            **keep,
        }, advance)

        # mid: the two middle products, and the high half of the low product with the rounding
        # constant 2^30 (>> 16 = 2^14) folded in.
        keep = {k: s[k] for k in ("ahmh", "right", *carried)}
        mid = Signal(signed(33))
        low = Signal(unsigned(17))
        m.d.comb += [
            mid.eq(s["ahml"] + s["almh"]),
            low.eq(s["alml"][16:] + (1 << 14)),
        ]
        v, s = stage("mid", v, {"mid": mid, "low": low, **keep}, advance)

        # sum: s = mid + low = ((alml + ahml*2^16 + almh*2^16 + 2^30) >> 16).
        keep = {k: s[k] for k in ("ahmh", "right", *carried)}
        total = Signal(signed(34))
        m.d.comb += total.eq(s["mid"] + s["low"])
        v, s = stage("sum", v, {"s": total, **keep}, advance)

        # high: q = (p + 2^30) >> 31 = {ahmh + (s >> 16), s[15]}; the rounding mask 2^right - 1.
        keep = {k: s[k] for k in ("right", *carried)}
        q = Signal(signed(32))
        m.d.comb += q.eq(Cat(s["s"][15], (s["ahmh"] + s["s"][16:].as_signed())[:31]))
        return stage("high", v, {"q": q, "mask": self._mask(s["right"]), **keep}, advance)

    def _serial_multiplier(self, m, v, s, advance_front, advance_back, carried):
        """Digit-serial SRDHM: q = (a*M + 2^30) >> 31, d bits of M per cycle, LSB digit first.

        H accumulates in units of 2^(d*step): T = H + a*digit; the d low bits of T are final and
        shift into L, H = T >> d. H starts at 2^30 (the rounding constant). After k steps
        a*M + 2^30 = H * 2^(d*k) + L, so q = {H, L}[31:63]. |H| < 2^32 throughout. Bits >= 31
        of L all lie in its last digit (d*(k-1) < 31), the only part of L kept.
        """
        d = self._digit
        k = self.cycles_per_element
        full = Signal()                      # the unit holds an element
        done = Signal()                      # ... and its result is complete
        steps_left = Signal(range(k))
        stepping = Signal()
        take = Signal()
        load = Signal()
        m.d.comb += [
            stepping.eq(full & ~done),
            take.eq(done & advance_back),
            load.eq(v & (~full | take)),
            advance_front.eq(~v | load),
        ]

        acc_h = Signal(signed(33), name="ser_h")
        # Only the last digit's low bits reach q (bits >= 31 of the d*k-bit L), so L keeps just
        # the digit shifted in last.
        acc_l = Signal(unsigned(d), name="ser_l")
        mcand = Signal(signed(32), name="ser_a")
        mrem = Signal(unsigned(d * k), name="ser_m")
        held = {key: Signal(s[key].shape(), name=f"ser_{key}") for key in ("right", *carried)}
        mask = Signal(unsigned(31), name="ser_mask")

        # One step: on the held operands while stepping, otherwise on the fresh ones (the step a
        # load performs). The operand select comes straight from flip-flops, not from ``load``.
        h_in = Mux(stepping, acc_h, 1 << 30)
        a_in = Mux(stepping, mcand, s["a"])
        m_in = Mux(stepping, mrem, s["mult"])
        t = Signal(signed(33 + d + 1), name="ser_t")
        m.d.comb += t.eq(h_in + a_in * m_in[:d])

        with m.If(load):
            m.d.sync += [
                full.eq(1),
                done.eq(0),
                steps_left.eq(k - 1),
                mcand.eq(s["a"]),
                mask.eq(self._mask(s["right"])),
                *[held[key].eq(s[key]) for key in held],
            ]
        with m.Elif(take):
            m.d.sync += [full.eq(0), done.eq(0)]
        with m.Elif(stepping):
            m.d.sync += [steps_left.eq(steps_left - 1), done.eq(steps_left == 1)]
        with m.If(load | stepping):
            m.d.sync += [
                acc_h.eq(t >> d),
                acc_l.eq(t[:d]),
                mrem.eq(m_in >> d),
            ]

        q = Cat(acc_l[d - (d * k - 31):], acc_h)[:32].as_signed()
        return done, {"q": q, "mask": mask, **held}
