/* jalr to an address = 2 mod 4: cause 0 (misaligned fetch), reported on the jalr, ra not written */
#include "trap_macros.h"
TRAP_BEGIN
    la a1, target
    addi a1, a1, 2
    .globl trap_here
trap_here:
    jalr ra, 0(a1)
    j not_trapped
    .balign 4
target:
    j not_trapped
TRAP_END
