"""SocTop: the whole SoC on a board -- RV32I core, accelerator on the CFU port, UART TX, LEDs --
with the demo firmware (firmware/board/main.c) baked into the RAM initialisation.

    board oscillator (iCEBreaker 12 MHz, ULX3S 25 MHz) --> sync domain (the platform's default clock)
    power-on counter | button (2-FF synchronised) --> SoC reset
    Soc (hw/soc.py): core + IMEM/DMEM + CnnCfu(board engine) + UartTx --> UART TX pin, 115200 8N1
    FINISH code / halt --> LEDs: pass, fail, halted; a free-running counter --> heartbeat LED

Unlike :class:`boards.top.BoardTop` (which closes an arbitrary design with LFSRs and an XOR tree to
measure it), this top is a real application: the only I/O are the UART TX pin, the button and the
four LEDs, and everything the firmware does is observable on them.

The UART divisor comes from the board's oscillator (``Board.board_clock_mhz``), not from the
platform instance's default clock: :func:`boards.boards.constrained_platform` re-declares that
clock at the project's Fmax target for timing, while the bitstream still runs from the oscillator.

Without a platform (``platform=None``, simulation) the pins are the component's ports
(``uart_tx``, ``led_*`` out, ``button`` in) and ``clk``/``rst`` come from the implicit sync domain.
"""

from amaranth.hdl import Module, ResetInserter, Signal
from amaranth.lib import io, wiring
from amaranth.lib.wiring import In, Out

from hw.soc import Soc

__all__ = ["SocTop", "UART_BAUD", "uart_divisor", "make_soc_top"]

UART_BAUD = 115200
MIN_DIVISOR, MAX_DIVISOR = 8, 65535    # UartTx counts clock cycles per bit; 8N1 needs a few
MAX_BAUD_ERROR = 0.02                  # 8N1 tolerates a few percent between the two ends
POR_CYCLES = 4096                      # clock cycles the SoC is held in reset after configuration

def uart_divisor(clk_hz, baud=UART_BAUD):
    """Clock cycles per UART bit at ``clk_hz`` (12 MHz -> 104, 25 MHz -> 217); ValueError when the
    divisor is outside [8, 65535] or the baud rate error exceeds 2 %."""
    if not isinstance(clk_hz, (int, float)) or isinstance(clk_hz, bool) or clk_hz <= 0:
        raise ValueError(f"clk_hz must be a positive number, not {clk_hz!r}")
    divisor = round(clk_hz / baud)
    if not MIN_DIVISOR <= divisor <= MAX_DIVISOR:
        raise ValueError(f"UART divisor = {divisor} (clk_hz = {clk_hz:g}, baud = {baud}) is out of range: "
                         f"must be in [{MIN_DIVISOR}, {MAX_DIVISOR}]")
    error = abs(clk_hz / divisor - baud) / baud
    if error > MAX_BAUD_ERROR:
        raise ValueError(f"UART divisor = {divisor} gives {clk_hz / divisor:.0f} baud at clk_hz = "
                         f"{clk_hz:g}, {100 * error:.1f} % off {baud}: must be within "
                         f"{100 * MAX_BAUD_ERROR:g} %")
    return divisor


class SocTop(wiring.Component):
    """The SoC with clock, reset, UART pin and LEDs for one board.

    Parameters
    ----------
    soc : hw.soc.Soc
        The SoC, its firmware already in the RAM initialisation.
    clk_hz : number
        Frequency of the clock the design runs from (the board oscillator); sets the heartbeat
        rate. The SoC's UART must have been built with ``uart_divisor(clk_hz)``.
    leds : dict
        ``{"pass"|"fail"|"halted"|"heartbeat": (resource, number)}`` platform LEDs.
    button : (resource, number)
        Reset button (active when pressed; amaranth-boards inverts active-low pins).
    uart : (resource, number)
        UART resource whose ``tx`` subsignal gets the SoC's TX line.
    extra_resources : str or None
        Name of a platform attribute holding resources to add first (iCEBreaker: the snap-off
        PMOD's LEDs, ``break_off_pmod``).
    por_cycles : int
        Cycles the SoC is held in reset after configuration (power-on reset counter).

    Members
    -------
    uart_tx, led_pass, led_fail, led_halted, led_heartbeat : Out(1)
    button : In(1)
    """

    uart_tx: Out(1, init=1)
    led_pass: Out(1)
    led_fail: Out(1)
    led_halted: Out(1)
    led_heartbeat: Out(1)
    button: In(1)

    LED_ROLES = ("pass", "fail", "halted", "heartbeat")

    def __init__(self, soc, *, clk_hz, leds=None, button=("button", 0), uart=("uart", 0),
                 extra_resources=None, por_cycles=POR_CYCLES):
        if not isinstance(soc, Soc):
            raise TypeError(f"soc must be a hw.soc.Soc, not {soc!r}")
        divisor = uart_divisor(clk_hz)
        if soc.clocks_per_bit != divisor:
            raise ValueError(f"soc.clocks_per_bit = {soc.clocks_per_bit} does not match the "
                             f"{UART_BAUD} baud divisor {divisor} at clk_hz = {clk_hz:g}")
        if not isinstance(por_cycles, int) or not 1 <= por_cycles <= 2**24:
            raise ValueError(f"por_cycles = {por_cycles!r} is out of range: must be an integer in "
                             f"[1, {2**24}]")
        leds = dict(leds or {role: ("led", k) for k, role in enumerate(self.LED_ROLES)})
        if set(leds) != set(self.LED_ROLES):
            raise ValueError(f"leds = {leds!r} must name exactly the roles {', '.join(self.LED_ROLES)}")
        self.soc = soc
        self.clk_hz = clk_hz
        self.clocks_per_bit = divisor
        self.leds = leds
        self.button_pin = button
        self.uart_pin = uart
        self.extra_resources = extra_resources
        self.por_cycles = por_cycles
        # The heartbeat toggles every 2^(bits(clk_hz) - 2) cycles: 0.35 s at 12 MHz, 0.34 s at 25 MHz.
        self.heartbeat_bit = max(0, int(clk_hz).bit_length() - 2)
        super().__init__()

    def elaborate(self, platform):
        m = Module()

        # Reset: power-on counter (not reset itself) and the synchronised button.
        por = Signal(range(self.por_cycles + 1), init=self.por_cycles, reset_less=True)
        with m.If(por != 0):
            m.d.sync += por.eq(por - 1)
        button_sync = Signal(2, reset_less=True)
        m.d.sync += button_sync.eq(button_sync << 1 | self.button)
        # A flip-flop (held from configuration on): the reset fans out to most of the SoC's
        # flip-flops and, behind the CnnCfu's ABORT, into the engine's start logic, so it must not
        # carry the counter's compare in front of it (docs/timing.md, iCE40).
        soc_rst = Signal(init=1, reset_less=True)
        m.d.sync += soc_rst.eq((por != 0) | button_sync[1])
        m.submodules.soc = ResetInserter({"sync": soc_rst})(self.soc)

        # Result: FINISH code 0 before the halt = pass; a halt without it (or another code) = fail.
        finished, code_ok = Signal(), Signal()
        with m.If(soc_rst):
            m.d.sync += [finished.eq(0), code_ok.eq(0)]
        with m.Elif(self.soc.finish_valid):
            m.d.sync += [finished.eq(1), code_ok.eq(self.soc.finish_code == 0)]
        beat = Signal(self.heartbeat_bit + 1, reset_less=True)
        m.d.sync += beat.eq(beat + 1)
        m.d.comb += [
            self.uart_tx.eq(self.soc.uart_tx),
            self.led_halted.eq(self.soc.halted),
            self.led_pass.eq(self.soc.halted & finished & code_ok),
            self.led_fail.eq(self.soc.halted & ~(finished & code_ok)),
            self.led_heartbeat.eq(beat[-1]),
        ]

        if platform is not None:
            if self.extra_resources and hasattr(platform, self.extra_resources):
                names = {(r.name, r.number) for r in platform.resources.values()}
                platform.add_resources([r for r in getattr(platform, self.extra_resources)
                                        if (r.name, r.number) not in names])
            subsignals = platform.lookup(*self.uart_pin).ios    # tx, rx and, on some boards, more
            uart = platform.request(*self.uart_pin, dir={sub.name: "-" for sub in subsignals})
            m.submodules.uart_tx_buf = tx_buf = io.Buffer("o", uart.tx)
            m.d.comb += tx_buf.o.eq(self.uart_tx)
            for role in self.LED_ROLES:
                buf = io.Buffer("o", platform.request(*self.leds[role], dir="-"))
                m.submodules[f"led_{role}_buf"] = buf
                m.d.comb += buf.o.eq(getattr(self, f"led_{role}"))
            m.submodules.button_buf = btn = io.Buffer("i", platform.request(*self.button_pin, dir="-"))
            m.d.comb += self.button.eq(btn.i)
        return m


def make_soc_top(board, soc=None, *, seed=None, por_cycles=POR_CYCLES, shape=None):
    """SocTop for ``board`` (boards.boards.Board) running the SoC ``soc`` (a SocConfig, default
    ``board.soc``) with the demo firmware built for it (layer ``shape``, data from ``seed``)."""
    from firmware.board_image import BOARD_LAYER_SEED, build_board_firmware

    soc = board.soc if soc is None else soc
    clk_hz = board.board_clock_mhz * 1e6
    extra = {} if shape is None else {"shape": shape}
    image = build_board_firmware(soc.engine, clocks_per_bit=soc.clocks_per_bit, imem_words=soc.imem_words,
                                 dmem_words=soc.dmem_words, seed=BOARD_LAYER_SEED if seed is None else seed,
                                 board_name=board.name, **extra)
    return SocTop(Soc(soc, image), clk_hz=clk_hz, leds=dict(board.soc_leds), button=board.soc_button,
                  uart=("uart", 0), extra_resources=board.soc_extra_resources, por_cycles=por_cycles)
