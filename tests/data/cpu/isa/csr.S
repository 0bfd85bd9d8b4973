/* Zicntr counters through every Zicsr form that does not write: rdcycle/rdinstret(+h), time,
 * mcycle/minstret, csrrs/csrrc with rs1 = x0, csrrsi/csrrci with uimm = 0; fence and fence.i are
 * no-ops. instret counts exactly the retired instructions; the cycle counter runs at least two
 * cycles per instruction. (The exact CPI per class is measured from the retire trace.) */
#include "test_macros.h"
RVTEST_BEGIN

    /* instret: 5 instructions between two reads -> difference 6 (the first read itself counts) */
    li TESTNUM, 1
    rdinstret a1
    nop
    nop
    nop
    nop
    nop
    rdinstret a2
    sub a4, a2, a1
    li t6, 6
    bne a4, t6, rvtest_fail

    /* the same through csrrsi / csrrc / csrrci and the machine-mode alias */
    li TESTNUM, 2
    csrrsi a1, instret, 0
    csrrc a2, instret, x0
    sub a4, a2, a1
    li t6, 1
    bne a4, t6, rvtest_fail
    li TESTNUM, 3
    csrrci a1, minstret, 0
    csrrs a2, 0xb02, x0
    sub a4, a2, a1
    li t6, 1
    bne a4, t6, rvtest_fail

    /* cycle grows, at least 2 per instruction; time and mcycle read the same counter */
    li TESTNUM, 4
    rdcycle a1
    nop
    nop
    nop
    rdcycle a2
    sub a4, a2, a1
    li t6, 8
    bltu a4, t6, rvtest_fail
    li TESTNUM, 5
    rdcycle a1
    rdtime a2
    csrr a3, mcycle
    bgeu a1, a2, rvtest_fail
    bgeu a2, a3, rvtest_fail

    /* high halves are 0 this early */
    li TESTNUM, 6
    rdcycleh a4
    bnez a4, rvtest_fail
    rdinstreth a4
    bnez a4, rvtest_fail
    rdtimeh a4
    bnez a4, rvtest_fail
    csrr a4, mcycleh
    bnez a4, rvtest_fail
    csrr a4, minstreth
    bnez a4, rvtest_fail

    /* reads into x0 are allowed (csrrs x0, cycle, x0) */
    li TESTNUM, 7
    csrrs x0, cycle, x0
    bnez x0, rvtest_fail

    /* fence and fence.i are no-ops that retire */
    li TESTNUM, 8
    rdinstret a1
    fence
    fence.i
    fence rw, rw
    rdinstret a2
    sub a4, a2, a1
    li t6, 4
    bne a4, t6, rvtest_fail

RVTEST_END
