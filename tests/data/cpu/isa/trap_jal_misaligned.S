/* jal .+6: cause 0 on the jal */
#include "trap_macros.h"
TRAP_BEGIN
    .globl trap_here
trap_here:
    .word 0x006000ef                    /* jal ra, .+6 (clang .insn j takes raw bits) */
    j not_trapped
    j not_trapped
TRAP_END
