/* a LOAD with funct3 = 3 (ld is RV64): cause 2 */
#include "trap_macros.h"
TRAP_BEGIN
    .globl trap_here
trap_here:
    .insn i 0x03, 3, a4, 0(s0)
TRAP_END
