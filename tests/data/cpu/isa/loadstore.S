/* lb lh lw lbu lhu sb sh sw: byte lanes, sign vs zero extension, positive and negative offsets,
 * stores of every size followed by loads of every size, loads into x0. */
#include "test_macros.h"

#define BASE s0

RVTEST_BEGIN
    li BASE, SOC_DMEM_BASE + 0x100

    /* a known word, read back in every way */
    li a1, 0x80ff7f01
    sw a1, 0(BASE)
TEST_CASE(1, a4, 0x80ff7f01, lw a4, 0(BASE))
TEST_CASE(2, a4, 0x00000001, lb a4, 0(BASE))
TEST_CASE(3, a4, 0x0000007f, lb a4, 1(BASE))
TEST_CASE(4, a4, 0xffffffff, lb a4, 2(BASE))
TEST_CASE(5, a4, 0xffffff80, lb a4, 3(BASE))
TEST_CASE(6, a4, 0x00000001, lbu a4, 0(BASE))
TEST_CASE(7, a4, 0x0000007f, lbu a4, 1(BASE))
TEST_CASE(8, a4, 0x000000ff, lbu a4, 2(BASE))
TEST_CASE(9, a4, 0x00000080, lbu a4, 3(BASE))
TEST_CASE(10, a4, 0x00007f01, lh a4, 0(BASE))
TEST_CASE(11, a4, 0xffff80ff, lh a4, 2(BASE))
TEST_CASE(12, a4, 0x00007f01, lhu a4, 0(BASE))
TEST_CASE(13, a4, 0x000080ff, lhu a4, 2(BASE))

    /* negative offsets */
    addi a2, BASE, 4
TEST_CASE(14, a4, 0x80ff7f01, lw a4, -4(a2))
TEST_CASE(15, a4, 0xffffff80, lb a4, -1(a2))
TEST_CASE(16, a4, 0xffff80ff, lh a4, -2(a2))

    /* sb into each lane leaves the other lanes alone */
    li a1, 0
    sw a1, 8(BASE)
    li a1, 0x11
    sb a1, 8(BASE)
    li a1, 0x122
    sb a1, 9(BASE)
    li a1, 0x33
    sb a1, 10(BASE)
    li a1, -0x3c
    sb a1, 11(BASE)
TEST_CASE(20, a4, 0xc4332211, lw a4, 8(BASE))

    /* sh into both halves */
    li a1, 0x12345678
    sh a1, 12(BASE)
    li a1, 0xabcd
    sh a1, 14(BASE)
TEST_CASE(21, a4, 0xabcd5678, lw a4, 12(BASE))
TEST_CASE(22, a4, 0xffffabcd, lh a4, 14(BASE))
TEST_CASE(23, a4, 0x00000056, lbu a4, 13(BASE))

    /* sw with a negative offset, then byte reads */
    addi a2, BASE, 32
    li a1, 0xdeadbeef
    sw a1, -16(a2)
TEST_CASE(24, a4, 0xdeadbeef, lw a4, 16(BASE))
TEST_CASE(25, a4, 0xffffffde, lb a4, 19(BASE))
TEST_CASE(26, a4, 0x000000ad, lbu a4, 18(BASE))
TEST_CASE(27, a4, 0xffffbeef, lh a4, 16(BASE))

    /* sb/sh write only the low byte/halfword of rs2 */
    li a1, 0xffffffff
    sw a1, 20(BASE)
    li a1, 0x12345600
    sb a1, 20(BASE)
    sh a1, 22(BASE)
TEST_CASE(28, a4, 0x5600ff00, lw a4, 20(BASE))

    /* loads into x0 change nothing; a load into the base register uses the old base */
TEST_CASE(30, x0, 0, lw x0, 0(BASE))
    sw BASE, 24(BASE)
    mv a3, BASE
TEST_CASE(31, a3, 0, lw a3, 24(a3); sub a3, a3, BASE)

    /* store then load back-to-back at many addresses */
    li TESTNUM, 32
    li a1, 0
    li a2, 64
1:  slli a5, a1, 2
    add a5, a5, BASE
    xori a0, a1, 0x5a5
    sw a0, 64(a5)
    lw a4, 64(a5)
    bne a4, a0, rvtest_fail
    addi a1, a1, 1
    bne a1, a2, 1b

RVTEST_END
