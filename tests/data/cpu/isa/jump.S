/* jal and jalr: link values (pc + 4), rd = x0, jalr clears bit 0 of the target, negative
 * offsets, rd = rs1 (the target uses the old rs1). */
#include "test_macros.h"
RVTEST_BEGIN

    /* jal: ra = address of the instruction after the jal */
    li TESTNUM, 1
    li ra, 0
1:  jal ra, 2f
    j rvtest_fail
2:  la a5, 1b
    addi a5, a5, 4
    bne ra, a5, rvtest_fail

    /* jal x0: no link */
    li TESTNUM, 2
    jal x0, 3f
    j rvtest_fail
3:  bnez x0, rvtest_fail

    /* jal backward */
    li TESTNUM, 3
    j 5f
4:  j 6f
5:  jal a4, 4b
    j rvtest_fail
6:  la a5, 5b
    addi a5, a5, 4
    bne a4, a5, rvtest_fail

    /* jalr: link and target */
    li TESTNUM, 4
    la a1, 8f
7:  jalr a4, 0(a1)
    j rvtest_fail
8:  la a5, 7b
    addi a5, a5, 4
    bne a4, a5, rvtest_fail

    /* jalr clears bit 0 of rs1 + imm: odd register value, and odd immediate */
    li TESTNUM, 5
    la a1, 9f
    addi a1, a1, 1
    jalr x0, 0(a1)
    j rvtest_fail
9:  li TESTNUM, 6
    la a1, 10f
    jalr x0, 1(a1)
    j rvtest_fail
10: li TESTNUM, 7
    la a1, 11f
    addi a1, a1, 8
    jalr x0, -7(a1)                     /* target 11f + 1 -> 11f */
    j rvtest_fail
11:
    /* jalr with rd = rs1: target from the old value, link written */
    li TESTNUM, 8
    la a1, 13f
12: jalr a1, 0(a1)
    j rvtest_fail
13: la a5, 12b
    addi a5, a5, 4
    bne a1, a5, rvtest_fail

    /* call / ret through a function */
    li TESTNUM, 9
    li a0, 20
    call double_it
    li t6, 40
    bne a0, t6, rvtest_fail
    j 14f
double_it:
    add a0, a0, a0
    ret
14:
RVTEST_END
