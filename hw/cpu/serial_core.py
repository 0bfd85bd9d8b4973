"""SerialCore: a small bit-serial RV32I core for the iCE40UP5K SoC, a drop-in for :class:`Core`.

Same ports (instruction/data bus, CFU port, ``halted``/``halt_cause``/``halt_pc``, optional retire
trace), same instruction set (the shared :class:`hw.cpu.decoder.Decoder`: RV32I, read-only
Zicntr counters, custom-0 -> CFU) and the same traps as :class:`hw.cpu.core.Core`, in less
logic and more cycles per instruction: the 32-bit ALU, the barrel shifter, the load/store lane
logic, the 64-bit counters and the second register file read port are replaced by
one-bit-per-cycle passes over two shift registers. ``SocRam(core="serial")`` /
``Soc(core="serial")`` select it; the iCEBreaker board SoC uses it without instret
(boards/boards.py ``ICE40_SOC``).

Architecture
------------
* register file (:class:`hw.cpu.register_ram.RegisterRam`): one 32 x 32 block RAM with ONE read
  port (2 EBR on the iCE40 instead of 4): rs1 and rs2 are read in two consecutive cycles;
* ``A`` and ``B``: 32-bit shift registers (operands, then the result). A *pass* shifts both right
  32 times; a 1-bit adder (carry flop) / logic unit combines ``A[0]`` and ``B[0]`` and the result
  bit enters at the top of ``A`` (or of ``B`` for jump targets), so after 32 cycles the result is
  in parallel form: the register file writes ``A`` in one cycle, the data bus address is
  ``A[31:2]``, store data is ``B``, the CFU operands are ``A`` and ``B``, ``pc`` loads ``B``;
* ``pc``: a parallel register with a +4 incrementer (the instruction bus address);
* shifts: srl/sra shift ``A`` right ``shamt`` times (fill 0 / sign); sll first clears the top
  ``shamt`` bits in the pass, then rotates ``A`` right ``32 - shamt`` times;
* loads: the bus word goes into ``A``, is shifted right by 8 x the byte offset and then a pass
  zero- or sign-extends the byte/halfword (lw skips both);
* stores: after the address pass rs2 is read into ``B``; sb/sh replicate their byte/halfword into
  every lane with one more pass (``B[31] <= B[24]`` / ``B[16]`` after the first 8/16 bits);
* branches: a compare pass (a - b: equal and less-than flops), then, if taken, a target pass
  pc + imm; jal/jalr compute the target into ``B`` and write pc + 4 (the incremented ``pc``)
  to rd through ``A``;
* counters: a 32-bit ``cycle`` (``time``, ``mcycle`` alias it); ``instret`` (``minstret``) only
  with ``instret=True``, else it reads 0. The high halves (``cycleh``, ``instreth``, ...) read 0:
  cycle wraps after 2^32 cycles.

State sequence (one state per cycle unless noted)::

    FETCH DECODE RS1 --+-- trap ----------------------------------------------------> HALT
                       +-- csr: CSR (A <= counter) -----------------------------------> WB
                       +-- fence ------------------------------------------------------> WB
                       +-- RS2 (A <= rs1 or pc) LDB (B <= rs2 or imm) --+-- cfu: CFU [CFU_WAIT] -> WB
                                                                       +-- PASS (32) --> ...
    PASS --> WB                                        add/sub/logic/slt, lui, auipc
         --> SHIFT (n + 1) --> WB                      sll (n = 32 - shamt), srl, sra (n = shamt)
         --> LD_REQ LD_DATA SHIFT (8 x offset + 1) [LD_EXT (32)] --> WB         loads
         --> ST_CHK ST_LDB [ST_REP (32)] --> WB                                 stores
         --> BR [PASS (32) JCHK] --> WB                                         branches ([taken])
         --> JCHK JUMP --> WB                                                   jal, jalr
    WB: write rd, store to the bus, pc <= pc + 4 or the target; the instruction retires.

Cycles per instruction (from one retire to the next): :func:`serial_cycles`, from the instruction
word and its operands (shift amount, byte offset of a sub-word load, taken branch), and
:data:`SERIAL_CYCLES` per instruction class; a CFU instruction adds the cycles waiting for
``cmd_ready`` and from acceptance to ``rsp_valid``. The lock-step test checks every instruction
against :func:`serial_cycles`.

Traps: as :class:`Core`: ``ecall`` (11), ``ebreak`` (3), illegal (2) are recognised in RS1,
a jump or taken branch to an address that is not a multiple of 4 (0) in JCHK, a misaligned load
(4) or store (6) before the bus is touched; the core stops in HALT with ``halted``, ``halt_cause``
and ``halt_pc`` (the trapping instruction's address; ``pc`` only changes when an instruction
retires). The trapping instruction writes nothing and does not retire. Only reset leaves HALT.

Parameters
----------
reset_vector : int
    Address of the first instruction (a multiple of 4).
trace : bool
    Add the retire trace port (:func:`hw.cpu.bus.trace_signature`), for testbenches.
instret : bool
    Implement the ``instret`` counter (32 bit); without it ``instret`` reads 0.
"""

from amaranth.hdl import C, Cat, Module, Mux, Signal

from .core_ports import CorePorts
from .decoder import Decoder
from .isa import Cause, Funct3, Opcode
from .register_ram import RegisterRam

__all__ = ["SerialCore", "serial_cycles", "SERIAL_CYCLES"]

#: Fixed cycles per instruction class (shifts, sub-word loads and CFU instructions depend on
#: their operands: :func:`serial_cycles`).
SERIAL_CYCLES = {
    "csr read": 5,
    "fence": 4,
    "alu reg-reg": 38,
    "alu reg-imm": 38,
    "lui/auipc": 38,
    "branch not taken": 39,
    "branch taken": 72,
    "jal": 40,
    "jalr": 40,
    "store": 40,
    "custom-0 (CFU)": 7,
}


def serial_cycles(insn, rs1, rs2, taken=False):
    """Cycles of one instruction on :class:`SerialCore` (retire to retire), from its word, the
    values of rs1 and rs2 before it and whether it is a taken branch. CFU instructions: without
    the handshake delays."""
    opcode, funct3 = (insn >> 2) & 0x1F, (insn >> 12) & 7
    imm_i = (insn >> 20) - ((insn >> 20) & 0x800) * 2
    if opcode in (Opcode.OP, Opcode.OP_IMM) and funct3 in (Funct3.SLL, Funct3.SR):
        n = ((insn >> 20) if opcode == Opcode.OP_IMM else rs2) & 31
        return 39 + ((32 - n) % 32 if funct3 == Funct3.SLL else n)
    if opcode == Opcode.LOAD:
        if funct3 & 3 == 2:
            return 41
        return 73 + 8 * ((rs1 + imm_i) & 3)
    if opcode == Opcode.STORE:
        return 40 if funct3 & 3 == 2 else 72
    if opcode == Opcode.BRANCH:
        return 72 if taken else 39
    if opcode in (Opcode.JAL, Opcode.JALR):
        return 40
    if opcode == Opcode.SYSTEM:
        return 5
    if opcode == Opcode.MISC_MEM:
        return 4
    if opcode == Opcode.CUSTOM0:
        return 7
    return 38


class _SerialDatapath:
    """The serial core's registers and control strobes, shared by the phases of
    :meth:`SerialCore.elaborate` (one instance per elaboration), and the FSM actions on them."""

    def __init__(self, m, reset_vector, dec, regs):
        self.m = m
        self.dec = dec
        self.regs = regs
        self.pc = Signal(32, init=reset_vector)
        self.pc_plus4 = Signal(32)
        self.ir = Signal(32)
        self.a = Signal(32)
        self.b = Signal(32)
        self.cnt = Signal(5)          # bit position of a pass
        self.shamt = Signal(5)        # shift amount, then the remaining shift steps
        self.carry = Signal()
        self.eq = Signal()            # compare pass: all bits so far equal
        self.lt = Signal()            # compare pass: a < b (signed or unsigned) after the last bit
        self.tgt = Signal()           # a taken branch's target pass
        self.fill = Signal()          # sign of a sub-word load (LD_EXT)
        self.halt_cause = Signal(4)
        self.cmd_valid = Signal()     # CFU handshake flags: set entering CFU, cleared by the handshakes
        self.rsp_ready = Signal()
        self.retire = Signal()        # WB: the instruction retires
        self.read_rs2 = Signal()      # the register file reads rs2 (else rs1)
        # A and B: shift (the FSM gives the bit entering at the top) or load in parallel from
        # one-hot selected sources.
        self.a_shift, self.a_top, self.a_rf, self.a_pc, self.a_ext = (
            Signal(), Signal(), Signal(), Signal(), Signal())
        self.b_shift, self.b_top, self.b_rf, self.b_imm = Signal(), Signal(), Signal(), Signal()

        ir = self.ir
        self.opcode = ir[2:7]
        self.is_fence = self.opcode == Opcode.MISC_MEM
        self.size = dec.funct3[0:2]
        self.offset = self.a[0:2]
        self.sub = dec.alu_sub & ~self.tgt        # the pass subtracts (compares)
        self.jumps = dec.jal | dec.jalr | self.tgt  # the pass computes a target into B

    def start_pass(self):
        self.m.d.sync += self.cnt.eq(0)

    def shift_a(self, top):
        self.m.d.comb += [self.a_shift.eq(1), self.a_top.eq(top)]

    def shift_b(self, top):
        self.m.d.comb += [self.b_shift.eq(1), self.b_top.eq(top)]

    def halt(self, cause):
        self.m.d.sync += self.halt_cause.eq(cause)
        self.m.next = "HALT"


class SerialCore(CorePorts):
    """Bit-serial RV32I core; see the module docstring. Members: those of
    :class:`hw.cpu.core_ports.CorePorts`."""

    def __init__(self, *, reset_vector=0, trace=False, instret=True):
        if not isinstance(instret, bool):
            raise ValueError(f"instret must be True or False, not {instret!r}")
        self._instret = instret
        super().__init__(reset_vector=reset_vector, trace=trace)

    def elaborate(self, platform):
        m = Module()
        m.submodules.decoder = decoder = Decoder()
        m.submodules.regs = regs = RegisterRam()
        s = _SerialDatapath(m, self._reset_vector, decoder.dec, regs)
        m.d.comb += decoder.insn.eq(s.ir)
        self._connect_ports(m, s)
        csr_value = self._counters(m, s)
        self._operand_registers(m, s, csr_value)
        self._register_file(m, s)
        result = self._serial_alu(m, s)
        wmask = self._store_mask(m, s)
        with m.FSM(name="state"):
            self._issue_states(m, s)
            self._pass_states(m, s, result)
            self._load_states(m, s)
            self._store_states(m, s)
            self._csr_cfu_states(m, s)
            self._retire_states(m, s, wmask)
        if self._trace:
            self._connect_trace(m, s)
        return m

    def _connect_ports(self, m, s):
        m.d.comb += [
            s.pc_plus4.eq(s.pc + 4),
            self.halt_pc.eq(s.pc),
            self.halt_cause.eq(s.halt_cause),
            self.ibus.addr.eq(s.pc[2:32]),
            self.dbus.addr.eq(s.a[2:32]),
            self.dbus.wdata.eq(s.b),
            # straight from the instruction register ({funct7, funct3}) and from flip-flops: the
            # CFU may answer combinationally, so its logic follows these without core logic before
            self.cfu.cmd_payload_function_id.eq(Cat(s.ir[12:15], s.ir[25:32])),
            self.cfu.cmd_valid.eq(s.cmd_valid),
            self.cfu.rsp_ready.eq(s.rsp_ready),
            self.cfu.cmd_payload_inputs_0.eq(s.a),
            self.cfu.cmd_payload_inputs_1.eq(s.b),
        ]

    def _counters(self, m, s):
        """The 32-bit cycle and (with ``instret``) instret counters; returns the CSR read value
        selected by the instruction's CSR address (high halves read 0)."""
        dec = s.dec
        cycle = Signal(32)
        m.d.sync += cycle.eq(cycle + 1)
        counter = Signal(32)
        if self._instret:
            instret = Signal(32)
            with m.If(s.retire):
                m.d.sync += instret.eq(instret + 1)
            m.d.comb += counter.eq(Mux(dec.imm[1], instret, cycle))
        else:
            m.d.comb += counter.eq(Mux(dec.imm[1], 0, cycle))
        return Mux(dec.imm[7], 0, counter)

    def _operand_registers(self, m, s, csr_value):
        """A and B: shift by one bit or load in parallel from an AND-OR of one-hot selected
        sources (cheaper on LUT4s than a priority multiplexer)."""
        dec, a, b = s.dec, s.a, s.b

        def sel(value, select):
            return value & select.replicate(32)

        with m.If(s.a_shift):
            m.d.sync += a.eq(Cat(a[1:32], s.a_top))
        with m.Elif(s.a_rf | s.a_pc | s.a_ext):
            m.d.sync += a.eq(sel(s.regs.rdata, s.a_rf) | sel(s.pc, s.a_pc)
                             | sel(self.dbus.rdata, s.a_ext & dec.load)
                             | sel(self.cfu.rsp_payload_outputs_0, s.a_ext & dec.cfu)
                             | sel(csr_value, s.a_ext & dec.csr))
        with m.If(s.b_shift):
            m.d.sync += b.eq(Cat(b[1:32], s.b_top))
        with m.Elif(s.b_rf | s.b_imm):
            m.d.sync += b.eq(sel(s.regs.rdata, s.b_rf) | sel(dec.imm, s.b_imm))

    def _register_file(self, m, s):
        """One read port: rs2 while ``read_rs2`` (RS2, ST_CHK), rs1 otherwise; rd is written from A."""
        regs, ir = s.regs, s.ir
        m.d.comb += [
            regs.raddr.eq(Mux(s.read_rs2, ir[20:25], ir[15:20])),
            regs.ren.eq(~regs.we),
            regs.waddr.eq(ir[7:12]),
            regs.wdata.eq(Cat(Mux(s.dec.sel_slt, s.lt, s.a[0]), s.a[1:32])),
        ]

    def _serial_alu(self, m, s):
        """The 1-bit ALU of a pass on ``A[0]`` and ``B[0]``; returns the result bit (the adder's
        carry out is ``s.carry_out``, the signed/unsigned borrow ``s.borrow``)."""
        dec, a, b = s.dec, s.a, s.b
        bit_a = a[0] & ~dec.sel_imm
        bit_b = b[0] ^ s.sub
        total = bit_a + bit_b + s.carry       # 2 bits: sum, carry out
        logic = Mux(dec.logic_op == 1, a[0] ^ b[0], Mux(dec.logic_op == 2, a[0] | b[0], a[0] & b[0]))
        keep_sll = ~(s.cnt + s.shamt)[5]      # sll: clear the top shamt bits (rotated down later)
        result = Signal()
        with m.If(dec.logic_op != 0):
            m.d.comb += result.eq(logic)
        with m.Elif(dec.sel_sll):
            m.d.comb += result.eq(a[0] & keep_sll)
        with m.Elif(dec.sel_sr):
            m.d.comb += result.eq(a[0])
        with m.Else():
            m.d.comb += result.eq(total[0] & ~dec.sel_slt)
        s.carry_out = total[1]
        s.unsigned = Mux(dec.branch, dec.funct3[1], dec.funct3[0])
        s.borrow = ~total[1]
        return result

    def _store_mask(self, m, s):
        """The byte lanes of a store and ``s.misaligned`` (of a load or store), from A's low bits."""
        size, offset = s.size, s.offset
        s.misaligned = Mux(size == 0, 0, Mux(size == 1, offset[0], offset != 0))
        wmask = Signal(4)
        with m.Switch(size):
            with m.Case(0):
                m.d.comb += wmask.eq(C(1, 4) << offset)
            with m.Case(1):
                m.d.comb += wmask.eq(Mux(offset[1], 0b1100, 0b0011))
            with m.Default():
                m.d.comb += wmask.eq(0b1111)
        return wmask

    def _issue_states(self, m, s):
        """FETCH, DECODE, RS1 (traps, CSR, fence), RS2 (A <= rs1 or pc), LDB (B <= rs2 or imm)."""
        dec = s.dec
        with m.State("FETCH"):
            m.d.comb += self.ibus.en.eq(1)
            m.next = "DECODE"

        with m.State("DECODE"):
            m.d.sync += s.ir.eq(self.ibus.data)
            m.next = "RS1"

        with m.State("RS1"):
            m.d.sync += s.tgt.eq(0)
            with m.If(dec.illegal):
                s.halt(Cause.ILLEGAL_INSTRUCTION)
            with m.Elif(dec.ecall):
                s.halt(Cause.ECALL)
            with m.Elif(dec.ebreak):
                s.halt(Cause.BREAKPOINT)
            with m.Elif(dec.csr):
                m.next = "CSR"
            with m.Elif(s.is_fence):
                m.next = "WB"
            with m.Else():
                m.next = "RS2"

        with m.State("RS2"):
            m.d.comb += s.read_rs2.eq(1)
            m.d.comb += [s.a_pc.eq(dec.jal | dec.sel_target), s.a_rf.eq(~(dec.jal | dec.sel_target))]
            m.next = "LDB"

        with m.State("LDB"):
            use_imm = dec.use_imm | dec.jal | dec.sel_imm | dec.sel_target
            m.d.comb += [s.b_imm.eq(use_imm), s.b_rf.eq(~use_imm)]
            m.d.sync += [s.shamt.eq(Mux(use_imm, dec.imm[0:5], s.regs.rdata[0:5])), s.carry.eq(s.sub),
                         s.eq.eq(1)]
            s.start_pass()
            with m.If(dec.cfu):
                m.d.sync += [s.cmd_valid.eq(1), s.rsp_ready.eq(1)]
                m.next = "CFU"
            with m.Else():
                m.next = "PASS"

    def _pass_states(self, m, s, result):
        """PASS (32 cycles through the serial ALU), BR, JCHK, JUMP and SHIFT."""
        dec, a, b, cnt, shamt, tgt = s.dec, s.a, s.b, s.cnt, s.shamt, s.tgt
        with m.State("PASS"):
            m.d.sync += [cnt.eq(cnt + 1), s.carry.eq(s.carry_out)]
            with m.If(s.jumps):
                s.shift_a(a[0])
                s.shift_b(result)
            with m.Else():
                s.shift_a(result)
                s.shift_b(b[0])
            with m.If(~tgt):
                m.d.sync += [
                    s.eq.eq(s.eq & (a[0] == b[0])),
                    s.lt.eq(Mux(~s.unsigned & (a[0] ^ b[0]), a[0], s.borrow)),
                ]
            with m.If(cnt == 31):
                with m.If(dec.branch & ~tgt):
                    m.next = "BR"
                with m.Elif(s.jumps):
                    m.next = "JCHK"
                with m.Elif(dec.load):
                    m.next = "LD_REQ"
                with m.Elif(dec.store):
                    m.next = "ST_CHK"
                with m.Elif(dec.sel_sll | dec.sel_sr):
                    m.next = "SHIFT"
                with m.Else():
                    m.next = "WB"

        with m.State("BR"):
            taken = Mux(dec.funct3[2], s.lt, s.eq) ^ dec.funct3[0]
            with m.If(taken):
                m.d.comb += [s.a_pc.eq(1), s.b_imm.eq(1)]
                m.d.sync += [s.carry.eq(0), tgt.eq(1)]
                s.start_pass()
                m.next = "PASS"
            with m.Else():
                m.next = "WB"

        with m.State("JCHK"):
            with m.If(b[1]):
                s.halt(Cause.MISALIGNED_FETCH)
            with m.Elif(tgt):
                m.next = "WB"
            with m.Else():
                m.d.sync += s.pc.eq(s.pc_plus4)
                m.next = "JUMP"

        with m.State("JUMP"):
            m.d.comb += s.a_pc.eq(1)           # pc + 4 by now: the link value
            m.next = "WB"

        with m.State("SHIFT"):
            with m.If(shamt == 0):
                s.start_pass()
                with m.If(dec.load & (s.size != 2)):
                    m.next = "LD_EXT"
                with m.Else():
                    m.next = "WB"
            with m.Elif(dec.sel_sll):
                s.shift_a(a[0])
                m.d.sync += shamt.eq(shamt + 1)
            with m.Else():
                s.shift_a(dec.sel_sr & dec.alu_sra & a[31])
                m.d.sync += shamt.eq(shamt - 1)

    def _load_states(self, m, s):
        """LD_REQ (alignment check, bus read), LD_DATA (A <= bus word, then SHIFT by the byte
        offset) and LD_EXT (zero/sign extension of a byte or halfword)."""
        dec, a, cnt, size = s.dec, s.a, s.cnt, s.size
        with m.State("LD_REQ"):
            with m.If(s.misaligned):
                s.halt(Cause.MISALIGNED_LOAD)
            with m.Else():
                m.d.comb += self.dbus.re.eq(1)
                m.d.sync += s.shamt.eq(Cat(C(0, 3), s.offset))
                m.next = "LD_DATA"

        with m.State("LD_DATA"):
            m.d.comb += s.a_ext.eq(1)
            m.next = "SHIFT"

        with m.State("LD_EXT"):
            m.d.sync += cnt.eq(cnt + 1)
            keep = Mux(size == 0, cnt[3:5] == 0, cnt[4] == 0)
            with m.If(Mux(size == 0, cnt == 7, cnt == 15)):
                m.d.sync += s.fill.eq(a[0] & ~dec.funct3[2])
            s.shift_a(Mux(keep, a[0], s.fill))
            with m.If(cnt == 31):
                m.next = "WB"

    def _store_states(self, m, s):
        """ST_CHK (alignment check, read rs2), ST_LDB (B <= rs2) and ST_REP (sb/sh: replicate the
        byte/halfword into every lane)."""
        b, cnt, size = s.b, s.cnt, s.size
        with m.State("ST_CHK"):
            m.d.comb += s.read_rs2.eq(1)
            with m.If(s.misaligned):
                s.halt(Cause.MISALIGNED_STORE)
            with m.Else():
                m.next = "ST_LDB"

        with m.State("ST_LDB"):
            m.d.comb += s.b_rf.eq(1)
            s.start_pass()
            with m.If(size == 2):
                m.next = "WB"
            with m.Else():
                m.next = "ST_REP"

        with m.State("ST_REP"):
            m.d.sync += cnt.eq(cnt + 1)
            s.shift_b(Mux((size == 0) & (cnt[3:5] != 0), b[24],
                          Mux((size == 1) & cnt[4], b[16], b[0])))
            with m.If(cnt == 31):
                m.next = "WB"

    def _csr_cfu_states(self, m, s):
        """CSR (A <= counter) and the CFU handshake: CFU (cmd_valid and rsp_ready high), CFU_WAIT
        (rsp_ready high); A <= the response when it is accepted."""
        with m.State("CSR"):
            m.d.comb += s.a_ext.eq(1)
            m.next = "WB"

        with m.State("CFU"):
            with m.If(self.cfu.cmd_ready):
                m.d.sync += s.cmd_valid.eq(0)
                with m.If(self.cfu.rsp_valid):
                    m.d.comb += s.a_ext.eq(1)
                    m.d.sync += s.rsp_ready.eq(0)
                    m.next = "WB"
                with m.Else():
                    m.next = "CFU_WAIT"

        with m.State("CFU_WAIT"):
            with m.If(self.cfu.rsp_valid):
                m.d.comb += s.a_ext.eq(1)
                m.d.sync += s.rsp_ready.eq(0)
                m.next = "WB"

    def _retire_states(self, m, s, wmask):
        """WB (write rd, store to the bus, pc <= pc + 4 or the target in B; retire) and HALT."""
        dec = s.dec
        with m.State("WB"):
            m.d.comb += [s.retire.eq(1), s.regs.we.eq(dec.rd_we)]
            with m.If(dec.store):
                m.d.comb += self.dbus.wmask.eq(wmask)
            with m.If(s.jumps):
                m.d.sync += s.pc.eq(Cat(C(0, 2), s.b[2:32]))
            with m.Else():
                m.d.sync += s.pc.eq(s.pc_plus4)
            m.next = "FETCH"

        with m.State("HALT"):
            m.d.comb += self.halted.eq(1)

    def _connect_trace(self, m, s):
        insn_pc = Signal(32)
        with m.If(self.ibus.en):
            m.d.sync += insn_pc.eq(s.pc)
        m.d.comb += [
            self.trace.valid.eq(s.retire),
            self.trace.pc.eq(insn_pc),
            self.trace.insn.eq(s.ir),
            self.trace.rd.eq(Mux(s.dec.rd_we, s.ir[7:12], 0)),
            self.trace.rd_data.eq(s.regs.wdata),
            self.trace.mem_addr.eq(s.a),
            self.trace.mem_wmask.eq(self.dbus.wmask),
            self.trace.mem_wdata.eq(self.dbus.wdata),
        ]
