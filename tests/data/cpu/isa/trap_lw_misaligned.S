/* lw from an address = 2 mod 4: cause 4 (misaligned load), a4 not written */
#include "trap_macros.h"
TRAP_BEGIN
    li a4, 0x55
    .globl trap_here
trap_here:
    lw a4, 2(s0)
TRAP_END
