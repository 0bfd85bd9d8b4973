/* beq bne blt bge bltu bgeu: taken and not taken, forward and backward, signed vs unsigned
 * with negative numbers, equal operands, x0 operands. A taken branch that should not be taken
 * (or the reverse) lands on "j rvtest_fail". */
#include "test_macros.h"

/* inst a, b must be taken: forward over a fail, then backward, then forward again */
#define TEST_BR_TAKEN(n, inst, val1, val2) \
    li TESTNUM, n; li a1, val1; li a2, val2; \
    inst a1, a2, 2f; j rvtest_fail; \
1:  j 3f; j rvtest_fail; \
2:  inst a1, a2, 1b; j rvtest_fail; \
3:

/* inst a, b must fall through (forward and backward targets) */
#define TEST_BR_NOT_TAKEN(n, inst, val1, val2) \
    li TESTNUM, n; li a1, val1; li a2, val2; \
    inst a1, a2, 1f; j 2f; \
1:  j rvtest_fail; \
2:  inst a1, a2, 1b

RVTEST_BEGIN

TEST_BR_TAKEN(1, beq, 0, 0)
TEST_BR_TAKEN(2, beq, 1, 1)
TEST_BR_TAKEN(3, beq, -1, -1)
TEST_BR_NOT_TAKEN(4, beq, 0, 1)
TEST_BR_NOT_TAKEN(5, beq, 1, 0)
TEST_BR_NOT_TAKEN(6, beq, -1, 1)
TEST_BR_NOT_TAKEN(7, beq, 0x80000000, 0)

TEST_BR_TAKEN(10, bne, 0, 1)
TEST_BR_TAKEN(11, bne, 1, 0)
TEST_BR_TAKEN(12, bne, -1, 1)
TEST_BR_TAKEN(13, bne, 0x80000000, 0)
TEST_BR_NOT_TAKEN(14, bne, 0, 0)
TEST_BR_NOT_TAKEN(15, bne, -1, -1)

TEST_BR_TAKEN(20, blt, 0, 1)
TEST_BR_TAKEN(21, blt, -1, 1)
TEST_BR_TAKEN(22, blt, -2, -1)
TEST_BR_TAKEN(23, blt, 0x80000000, 0x7fffffff)
TEST_BR_NOT_TAKEN(24, blt, 1, 0)
TEST_BR_NOT_TAKEN(25, blt, 1, -1)
TEST_BR_NOT_TAKEN(26, blt, -1, -2)
TEST_BR_NOT_TAKEN(27, blt, 5, 5)
TEST_BR_NOT_TAKEN(28, blt, 0x7fffffff, 0x80000000)

TEST_BR_TAKEN(30, bge, 0, 0)
TEST_BR_TAKEN(31, bge, 1, 0)
TEST_BR_TAKEN(32, bge, 1, -1)
TEST_BR_TAKEN(33, bge, -1, -2)
TEST_BR_TAKEN(34, bge, 0x7fffffff, 0x80000000)
TEST_BR_NOT_TAKEN(35, bge, 0, 1)
TEST_BR_NOT_TAKEN(36, bge, -1, 1)
TEST_BR_NOT_TAKEN(37, bge, -2, -1)
TEST_BR_NOT_TAKEN(38, bge, 0x80000000, 0x7fffffff)

TEST_BR_TAKEN(40, bltu, 0, 1)
TEST_BR_TAKEN(41, bltu, 1, -1)
TEST_BR_TAKEN(42, bltu, -2, -1)
TEST_BR_TAKEN(43, bltu, 0x7fffffff, 0x80000000)
TEST_BR_NOT_TAKEN(44, bltu, 1, 0)
TEST_BR_NOT_TAKEN(45, bltu, -1, 1)
TEST_BR_NOT_TAKEN(46, bltu, -1, -2)
TEST_BR_NOT_TAKEN(47, bltu, 0x80000000, 0x7fffffff)
TEST_BR_NOT_TAKEN(48, bltu, 7, 7)

TEST_BR_TAKEN(50, bgeu, 0, 0)
TEST_BR_TAKEN(51, bgeu, 1, 0)
TEST_BR_TAKEN(52, bgeu, -1, 1)
TEST_BR_TAKEN(53, bgeu, -1, -2)
TEST_BR_TAKEN(54, bgeu, 0x80000000, 0x7fffffff)
TEST_BR_NOT_TAKEN(55, bgeu, 0, 1)
TEST_BR_NOT_TAKEN(56, bgeu, 1, -1)
TEST_BR_NOT_TAKEN(57, bgeu, -2, -1)
TEST_BR_NOT_TAKEN(58, bgeu, 0x7fffffff, 0x80000000)

    /* x0 operands, and a loop with a backward taken branch (5 iterations) */
    li TESTNUM, 60
    bne x0, x0, rvtest_fail
    beq x0, x0, 1f
    j rvtest_fail
1:  li TESTNUM, 61
    li a1, 5
    li a4, 0
2:  addi a4, a4, 3
    addi a1, a1, -1
    bnez a1, 2b
    li t6, 15
    bne a4, t6, rvtest_fail

    /* a not-taken branch whose target would be misaligned does not trap */
    li TESTNUM, 62
    li a1, 1
    .insn b 0x63, 0, a1, x0, 6          /* beq a1, x0, .+6: not taken */
    .insn b 0x63, 1, x0, x0, 6          /* bne x0, x0, .+6: not taken */

RVTEST_END
