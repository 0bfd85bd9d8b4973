/* Self-checking RV32I test programs (riscv-tests style), assembled by firmware/build.py with
 * runtime=False. Conventions: gp (x3) holds the number of the running test, t6 (x31) the expected
 * value; a test that fails writes its number to FINISH, a program that passes writes 0. Both
 * then execute ebreak (the core halts with cause 3). Tests never use gp or t6 otherwise.
 * Statements inside a macro are separated by ';'. */
#ifndef TEST_MACROS_H
#define TEST_MACROS_H

#define TESTNUM gp

#define RVTEST_BEGIN        \
    .section .text.start, "ax"; \
    .globl _start;          \
_start:                     \
    li TESTNUM, 0

#define RVTEST_END                  \
rvtest_pass:                        \
    li a0, 0;                       \
    j rvtest_finish;                \
rvtest_fail:                        \
    mv a0, TESTNUM;                 \
    bnez a0, rvtest_finish;         \
    li a0, -1;                      \
rvtest_finish:                      \
    li t0, SOC_FINISH_ADDR;         \
    sw a0, 0(t0);                   \
    ebreak

/* any code, then reg must equal result */
#define TEST_CASE(n, reg, result, ...) \
    li TESTNUM, n; __VA_ARGS__; li t6, result; bne reg, t6, rvtest_fail

#define TEST_RR_OP(n, inst, result, val1, val2) \
    TEST_CASE(n, a4, result, li a1, val1; li a2, val2; inst a4, a1, a2)
#define TEST_IMM_OP(n, inst, result, val1, imm) \
    TEST_CASE(n, a4, result, li a1, val1; inst a4, a1, imm)
/* destination = first source, = both sources, x0 as destination or source */
#define TEST_RR_SRC1_EQ_DEST(n, inst, result, val1, val2) \
    TEST_CASE(n, a1, result, li a1, val1; li a2, val2; inst a1, a1, a2)
#define TEST_RR_SRC2_EQ_DEST(n, inst, result, val1, val2) \
    TEST_CASE(n, a2, result, li a1, val1; li a2, val2; inst a2, a1, a2)
#define TEST_RR_SRC12_EQ_DEST(n, inst, result, val1) \
    TEST_CASE(n, a1, result, li a1, val1; inst a1, a1, a1)
#define TEST_RR_ZERODEST(n, inst, val1, val2) \
    TEST_CASE(n, x0, 0, li a1, val1; li a2, val2; inst x0, a1, a2)
#define TEST_RR_ZEROSRC1(n, inst, result, val) \
    TEST_CASE(n, a4, result, li a2, val; inst a4, x0, a2)
#define TEST_RR_ZEROSRC2(n, inst, result, val) \
    TEST_CASE(n, a4, result, li a1, val; inst a4, a1, x0)
#define TEST_IMM_SRC1_EQ_DEST(n, inst, result, val1, imm) \
    TEST_CASE(n, a1, result, li a1, val1; inst a1, a1, imm)
#define TEST_IMM_ZERODEST(n, inst, val1, imm) \
    TEST_CASE(n, x0, 0, li a1, val1; inst x0, a1, imm)

#endif
