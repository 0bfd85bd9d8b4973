"""SerialCore: a small bit-serial RV32I core for the iCE40UP5K SoC, a drop-in for :class:`Core`.

Same ports (instruction/data bus, CFU port, ``halted``/``halt_cause``/``halt_pc``, optional retire
trace), same instruction set (the shared :class:`hw.cpu.decoder.Decoder`: RV32I, read-only
Zicntr counters, custom-0 -> CFU) and the same traps as :class:`hw.cpu.core.Core`, in less than
half of its logic: the 32-bit ALU, the barrel shifter, the load/store lane logic, the 64-bit
counters and the second register file read port are replaced by one-bit-per-cycle passes over
two shift registers. ``SocRam(core="serial")`` / ``Soc(core="serial")`` select it; the
iCEBreaker board SoC uses it without instret (boards/boards.py ``ICE40_SOC``).

Measured on the iCE40UP5K (``python -m boards.cpu_synth --core serial --no-instret``): 625 LCs and
2 EBR for the core alone (the multi-cycle core: 1394 LCs, 4 EBR), 686 LCs with instret; Fmax
38.9 MHz (nextpnr seed 1, the core with its RAMs and a CFU). 46 cycles per instruction
on the random lock-step programs, 20.7x the multi-cycle core's cycles on firmware/examples/hello.c.

Architecture
------------
* register file (:class:`RegisterRam`): one 32 x 32 block RAM with ONE read port (2 EBR on the
  iCE40 instead of 4): rs1 and rs2 are read in two consecutive cycles;
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
  cycle wraps after 2^32 cycles (143 s at 30 MHz).

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
         --> JCHK JUMP1 JUMP2 --> WB                                            jal, jalr
    WB: write rd, store to the bus, pc <= pc + 4 or the target; the instruction retires.

Cycles per instruction (from one retire to the next; :func:`serial_cycles` computes them and the
lock-step test checks every instruction against it):

    ===========================================  ======================================
    csr read                                     5
    fence                                        4
    alu reg-reg / reg-imm (not shifts), lui,     38
    auipc
    slli/srli/srai/sll/srl/sra by n              39 + n (right) or 39 + (32 - n) % 32 (left)
    branch not taken                             39
    branch taken                                 72
    jal, jalr                                    40
    lw                                           41;  lb/lbu/lh/lhu: 73 + 8 x byte offset
    sw                                           40;  sb/sh: 72
    custom-0 (CFU)                               7 + cycles waiting for cmd_ready + cycles
                                                 from acceptance to rsp_valid
    ===========================================  ======================================

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

from amaranth.hdl import C, Cat, ClockSignal, Const, Instance, Module, Mux, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from .core_ports import CorePorts
from .decoder import Decoder
from .isa import Cause, Funct3, Opcode

__all__ = ["SerialCore", "serial_cycles", "SERIAL_CYCLES"]

#: Fixed cycles per instruction class (the table above; shifts, sub-word loads and CFU
#: instructions depend on their operands: :func:`serial_cycles`).
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


class RegisterRam(wiring.Component):
    """The 32 x 32 register file RAM: one synchronous read port (``raddr`` -> ``rdata`` one cycle
    later, held while ``ren`` is low) and one write port; x0 is never written (the core drops it).

    On an iCE40 platform (``platform.device`` iCE40..., unless ``platform.ice40_primitive`` is
    ``"model"``) it is two ``SB_RAM40_4K`` in 256 x 16 mode, instantiated directly: from
    Amaranth's RTLIL (the board flow) Yosys emulates "read old data on a collision" for a
    synchronous read port despite ``no_rw_check`` (~70 flip-flops and a bypass multiplexer; this
    core never reads and writes in the same cycle), and for an asynchronous read plus register
    it emulates the register's power-up value 0 (32 LUTs). Elsewhere (simulation, ECP5) it is an
    ``amaranth.lib.memory.Memory`` with an asynchronous read and a reset-less register.
    tests/test_cpu_cocotb.py runs the ISA programs on the instances (Yosys's cells_sim.v).
    """

    raddr: In(5)
    ren: In(1)
    rdata: Out(32)
    waddr: In(5)
    wdata: In(32)
    we: In(1)

    def elaborate(self, platform):
        m = Module()
        device = str(getattr(platform, "device", "")).lower()
        if device.startswith("ice40") and getattr(platform, "ice40_primitive", None) != "model":
            for half in range(2):
                bits = slice(16 * half, 16 * half + 16)
                m.submodules[f"ebr{half}"] = Instance(
                    "SB_RAM40_4K",
                    p_READ_MODE=0, p_WRITE_MODE=0,                      # 256 x 16
                    i_RADDR=Cat(self.raddr, Const(0, 6)), i_RCLK=ClockSignal(), i_RCLKE=self.ren,
                    i_RE=Const(1, 1), o_RDATA=self.rdata[bits],
                    i_WADDR=Cat(self.waddr, Const(0, 6)), i_WCLK=ClockSignal(), i_WCLKE=self.we,
                    i_WE=Const(1, 1), i_WDATA=self.wdata[bits], i_MASK=Const(0, 16))
            return m
        m.submodules.mem = mem = memory.Memory(shape=32, depth=32, init=[], attrs={"no_rw_check": 1})
        wr = mem.write_port()
        rd = mem.read_port(domain="comb")
        m.d.comb += [rd.addr.eq(self.raddr), wr.addr.eq(self.waddr), wr.data.eq(self.wdata),
                     wr.en.eq(self.we)]
        data = Signal(32, reset_less=True)      # no reset: the EBR's output register has none
        m.d.comb += self.rdata.eq(data)
        with m.If(self.ren):
            m.d.sync += data.eq(rd.data)
        return m


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

        pc = Signal(32, init=self._reset_vector)
        pc_plus4 = Signal(32)
        ir = Signal(32)
        a = Signal(32)
        b = Signal(32)
        cnt = Signal(5)          # bit position of a pass
        shamt = Signal(5)        # shift amount, then the remaining shift steps
        carry = Signal()
        eq = Signal()            # compare pass: all bits so far equal
        lt = Signal()            # compare pass: a < b (signed or unsigned) after the last bit
        tgt = Signal()           # a taken branch's target pass
        fill = Signal()          # sign of a sub-word load (LD_EXT)
        halt_cause = Signal(4)
        cmd_valid = Signal()     # CFU handshake flags: set entering CFU, cleared by the handshakes
        rsp_ready = Signal()
        dec = decoder.dec

        m.d.comb += [
            decoder.insn.eq(ir),
            pc_plus4.eq(pc + 4),
            self.halt_pc.eq(pc),
            self.halt_cause.eq(halt_cause),
            self.ibus.addr.eq(pc[2:32]),
            self.dbus.addr.eq(a[2:32]),
            self.dbus.wdata.eq(b),
            # straight from the instruction register ({funct7, funct3}) and from flip-flops: the
            # CFU may answer combinationally, so its logic follows these without core logic before
            self.cfu.cmd_payload_function_id.eq(Cat(ir[12:15], ir[25:32])),
            self.cfu.cmd_valid.eq(cmd_valid),
            self.cfu.rsp_ready.eq(rsp_ready),
            self.cfu.cmd_payload_inputs_0.eq(a),
            self.cfu.cmd_payload_inputs_1.eq(b),
        ]

        opcode = ir[2:7]
        is_fence = opcode == Opcode.MISC_MEM
        size = dec.funct3[0:2]
        offset = a[0:2]

        # Counters.
        cycle = Signal(32)
        m.d.sync += cycle.eq(cycle + 1)
        retire = Signal()
        counter = Signal(32)
        if self._instret:
            instret = Signal(32)
            with m.If(retire):
                m.d.sync += instret.eq(instret + 1)
            m.d.comb += counter.eq(Mux(dec.imm[1], instret, cycle))
        else:
            m.d.comb += counter.eq(Mux(dec.imm[1], 0, cycle))
        csr_value = Mux(dec.imm[7], 0, counter)

        # A and B: shift (the FSM gives the bit entering at the top) or load in parallel from an
        # AND-OR of one-hot selected sources (cheaper on LUT4s than a priority multiplexer).
        a_shift, a_top, a_rf, a_pc, a_ext = Signal(), Signal(), Signal(), Signal(), Signal()
        b_shift, b_top, b_rf, b_imm = Signal(), Signal(), Signal(), Signal()

        def sel(value, select):
            return value & select.replicate(32)

        with m.If(a_shift):
            m.d.sync += a.eq(Cat(a[1:32], a_top))
        with m.Elif(a_rf | a_pc | a_ext):
            m.d.sync += a.eq(sel(regs.rdata, a_rf) | sel(pc, a_pc)
                             | sel(self.dbus.rdata, a_ext & dec.load)
                             | sel(self.cfu.rsp_payload_outputs_0, a_ext & dec.cfu)
                             | sel(csr_value, a_ext & dec.csr))
        with m.If(b_shift):
            m.d.sync += b.eq(Cat(b[1:32], b_top))
        with m.Elif(b_rf | b_imm):
            m.d.sync += b.eq(sel(regs.rdata, b_rf) | sel(dec.imm, b_imm))

        # Register file: one read port, rs2 read in RS2 / ST_CHK, rs1 otherwise.
        read_rs2 = Signal()
        m.d.comb += [
            regs.raddr.eq(Mux(read_rs2, ir[20:25], ir[15:20])),
            regs.ren.eq(~regs.we),
            regs.waddr.eq(ir[7:12]),
            regs.wdata.eq(Cat(Mux(dec.sel_slt, lt, a[0]), a[1:32])),
        ]

        # The serial ALU of a pass.
        sub = dec.alu_sub & ~tgt
        bit_a = a[0] & ~dec.sel_imm
        bit_b = b[0] ^ sub
        total = bit_a + bit_b + carry       # 2 bits: sum, carry out
        logic = Mux(dec.logic_op == 1, a[0] ^ b[0], Mux(dec.logic_op == 2, a[0] | b[0], a[0] & b[0]))
        keep_sll = ~(cnt + shamt)[5]        # sll: clear the top shamt bits (rotated down later)
        result = Signal()
        with m.If(dec.logic_op != 0):
            m.d.comb += result.eq(logic)
        with m.Elif(dec.sel_sll):
            m.d.comb += result.eq(a[0] & keep_sll)
        with m.Elif(dec.sel_sr):
            m.d.comb += result.eq(a[0])
        with m.Else():
            m.d.comb += result.eq(total[0] & ~dec.sel_slt)
        unsigned = Mux(dec.branch, dec.funct3[1], dec.funct3[0])
        borrow = ~total[1]
        taken = Mux(dec.funct3[2], lt, eq) ^ dec.funct3[0]
        dest_b = dec.jal | dec.jalr | tgt

        def start_pass():
            m.d.sync += cnt.eq(0)

        def shift_a(top):
            m.d.comb += [a_shift.eq(1), a_top.eq(top)]

        def shift_b(top):
            m.d.comb += [b_shift.eq(1), b_top.eq(top)]

        def halt(cause):
            m.d.sync += halt_cause.eq(cause)
            m.next = "HALT"

        misaligned = Mux(size == 0, 0, Mux(size == 1, offset[0], offset != 0))
        wmask = Signal(4)
        with m.Switch(size):
            with m.Case(0):
                m.d.comb += wmask.eq(C(1, 4) << offset)
            with m.Case(1):
                m.d.comb += wmask.eq(Mux(offset[1], 0b1100, 0b0011))
            with m.Default():
                m.d.comb += wmask.eq(0b1111)

        with m.FSM(name="state"):
            with m.State("FETCH"):
                m.d.comb += self.ibus.en.eq(1)
                m.next = "DECODE"

            with m.State("DECODE"):
                m.d.sync += ir.eq(self.ibus.data)
                m.next = "RS1"

            with m.State("RS1"):
                m.d.sync += tgt.eq(0)
                with m.If(dec.illegal):
                    halt(Cause.ILLEGAL_INSTRUCTION)
                with m.Elif(dec.ecall):
                    halt(Cause.ECALL)
                with m.Elif(dec.ebreak):
                    halt(Cause.BREAKPOINT)
                with m.Elif(dec.csr):
                    m.next = "CSR"
                with m.Elif(is_fence):
                    m.next = "WB"
                with m.Else():
                    m.next = "RS2"

            with m.State("RS2"):
                m.d.comb += read_rs2.eq(1)
                m.d.comb += [a_pc.eq(dec.jal | dec.sel_target), a_rf.eq(~(dec.jal | dec.sel_target))]
                m.next = "LDB"

            with m.State("LDB"):
                use_imm = dec.use_imm | dec.jal | dec.sel_imm | dec.sel_target
                m.d.comb += [b_imm.eq(use_imm), b_rf.eq(~use_imm)]
                m.d.sync += [shamt.eq(Mux(use_imm, dec.imm[0:5], regs.rdata[0:5])), carry.eq(sub),
                             eq.eq(1)]
                start_pass()
                with m.If(dec.cfu):
                    m.d.sync += [cmd_valid.eq(1), rsp_ready.eq(1)]
                    m.next = "CFU"
                with m.Else():
                    m.next = "PASS"

            with m.State("PASS"):
                m.d.sync += [cnt.eq(cnt + 1), carry.eq(total[1])]
                with m.If(dest_b):
                    shift_a(a[0])
                    shift_b(result)
                with m.Else():
                    shift_a(result)
                    shift_b(b[0])
                with m.If(~tgt):
                    m.d.sync += [
                        eq.eq(eq & (a[0] == b[0])),
                        lt.eq(Mux(~unsigned & (a[0] ^ b[0]), a[0], borrow)),
                    ]
                with m.If(cnt == 31):
                    with m.If(dec.branch & ~tgt):
                        m.next = "BR"
                    with m.Elif(dec.jal | dec.jalr | tgt):
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
                with m.If(taken):
                    m.d.comb += [a_pc.eq(1), b_imm.eq(1)]
                    m.d.sync += [carry.eq(0), tgt.eq(1)]
                    start_pass()
                    m.next = "PASS"
                with m.Else():
                    m.next = "WB"

            with m.State("JCHK"):
                with m.If(b[1]):
                    halt(Cause.MISALIGNED_FETCH)
                with m.Elif(tgt):
                    m.next = "WB"
                with m.Else():
                    m.d.sync += pc.eq(pc_plus4)
                    m.next = "JUMP"

            with m.State("JUMP"):
                m.d.comb += a_pc.eq(1)           # pc + 4 by now: the link value
                m.next = "WB"

            with m.State("SHIFT"):
                with m.If(shamt == 0):
                    start_pass()
                    with m.If(dec.load & (size != 2)):
                        m.next = "LD_EXT"
                    with m.Else():
                        m.next = "WB"
                with m.Elif(dec.sel_sll):
                    shift_a(a[0])
                    m.d.sync += shamt.eq(shamt + 1)
                with m.Else():
                    shift_a(dec.sel_sr & dec.alu_sra & a[31])
                    m.d.sync += shamt.eq(shamt - 1)

            with m.State("LD_REQ"):
                with m.If(misaligned):
                    halt(Cause.MISALIGNED_LOAD)
                with m.Else():
                    m.d.comb += self.dbus.re.eq(1)
                    m.d.sync += shamt.eq(Cat(C(0, 3), offset))
                    m.next = "LD_DATA"

            with m.State("LD_DATA"):
                m.d.comb += a_ext.eq(1)
                m.next = "SHIFT"

            with m.State("LD_EXT"):
                m.d.sync += cnt.eq(cnt + 1)
                keep = Mux(size == 0, cnt[3:5] == 0, cnt[4] == 0)
                with m.If(Mux(size == 0, cnt == 7, cnt == 15)):
                    m.d.sync += fill.eq(a[0] & ~dec.funct3[2])
                shift_a(Mux(keep, a[0], fill))
                with m.If(cnt == 31):
                    m.next = "WB"

            with m.State("ST_CHK"):
                m.d.comb += read_rs2.eq(1)
                with m.If(misaligned):
                    halt(Cause.MISALIGNED_STORE)
                with m.Else():
                    m.next = "ST_LDB"

            with m.State("ST_LDB"):
                m.d.comb += b_rf.eq(1)
                start_pass()
                with m.If(size == 2):
                    m.next = "WB"
                with m.Else():
                    m.next = "ST_REP"

            with m.State("ST_REP"):
                m.d.sync += cnt.eq(cnt + 1)
                shift_b(Mux((size == 0) & (cnt[3:5] != 0), b[24],
                            Mux((size == 1) & cnt[4], b[16], b[0])))
                with m.If(cnt == 31):
                    m.next = "WB"

            with m.State("CSR"):
                m.d.comb += a_ext.eq(1)
                m.next = "WB"

            with m.State("CFU"):             # cmd_valid and rsp_ready high
                with m.If(self.cfu.cmd_ready):
                    m.d.sync += cmd_valid.eq(0)
                    with m.If(self.cfu.rsp_valid):
                        m.d.comb += a_ext.eq(1)
                        m.d.sync += rsp_ready.eq(0)
                        m.next = "WB"
                    with m.Else():
                        m.next = "CFU_WAIT"

            with m.State("CFU_WAIT"):        # rsp_ready high
                with m.If(self.cfu.rsp_valid):
                    m.d.comb += a_ext.eq(1)
                    m.d.sync += rsp_ready.eq(0)
                    m.next = "WB"

            with m.State("WB"):
                m.d.comb += [retire.eq(1), regs.we.eq(dec.rd_we)]
                with m.If(dec.store):
                    m.d.comb += self.dbus.wmask.eq(wmask)
                with m.If(dec.jal | dec.jalr | tgt):
                    m.d.sync += pc.eq(Cat(C(0, 2), b[2:32]))
                with m.Else():
                    m.d.sync += pc.eq(pc_plus4)
                m.next = "FETCH"

            with m.State("HALT"):
                m.d.comb += self.halted.eq(1)

        if self._trace:
            insn_pc = Signal(32)
            with m.If(self.ibus.en):
                m.d.sync += insn_pc.eq(pc)
            m.d.comb += [
                self.trace.valid.eq(retire),
                self.trace.pc.eq(insn_pc),
                self.trace.insn.eq(ir),
                self.trace.rd.eq(Mux(dec.rd_we, ir[7:12], 0)),
                self.trace.rd_data.eq(regs.wdata),
                self.trace.mem_addr.eq(a),
                self.trace.mem_wmask.eq(self.dbus.wmask),
                self.trace.mem_wdata.eq(self.dbus.wdata),
            ]
        return m
