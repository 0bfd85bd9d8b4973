/* mul a1, a1, a1 (M extension, funct7 = 1): cause 2 */
#include "trap_macros.h"
TRAP_BEGIN
    li a1, 3
    .globl trap_here
trap_here:
    .word 0x02b585b3
TRAP_END
