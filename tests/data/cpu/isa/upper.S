/* lui and auipc: upper immediates (bit 31 set gives a negative value), auipc relative to its own
 * address. */
#include "test_macros.h"
RVTEST_BEGIN

TEST_CASE(1, a4, 0x00000000, lui a4, 0x00000)
TEST_CASE(2, a4, 0xfffff000, lui a4, 0xfffff)
TEST_CASE(3, a4, 0x7ffff000, lui a4, 0x7ffff)
TEST_CASE(4, a4, 0x80000000, lui a4, 0x80000)
TEST_CASE(5, a4, 0x12345000, lui a4, 0x12345)
TEST_CASE(6, a4, 0xfffff800, lui a4, 0xfffff; srai a4, a4, 1)
TEST_CASE(7, a4, 0x12345678, lui a4, 0x12345; addi a4, a4, 0x678)

    /* auipc: a4 = its own address + (imm << 12), checked against the label's address */
    li TESTNUM, 10
1:  auipc a4, 0
    la a5, 1b
    bne a4, a5, rvtest_fail
    li TESTNUM, 11
2:  auipc a4, 0x1
    la a5, 2b
    sub a4, a4, a5
    li t6, 0x1000
    bne a4, t6, rvtest_fail
    li TESTNUM, 12
3:  auipc a4, 0xfffff
    la a5, 3b
    sub a4, a4, a5
    li t6, -0x1000
    bne a4, t6, rvtest_fail
    li TESTNUM, 13
4:  auipc a4, 0x80000
    la a5, 4b
    sub a4, a4, a5
    li t6, 0x80000000
    bne a4, t6, rvtest_fail

RVTEST_END
