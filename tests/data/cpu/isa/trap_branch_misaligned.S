/* taken beq to .+10: cause 0 on the branch (not taken ones do not trap, see branch.S) */
#include "trap_macros.h"
TRAP_BEGIN
    li a1, 3
    .globl trap_here
trap_here:
    .insn b 0x63, 0, a1, a1, 10
    j not_trapped
    j not_trapped
    j not_trapped
TRAP_END
