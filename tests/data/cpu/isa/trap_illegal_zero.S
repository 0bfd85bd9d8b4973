/* the all-zero word (a 16-bit encoding): cause 2 */
#include "trap_macros.h"
TRAP_BEGIN
    .globl trap_here
trap_here:
    .word 0
TRAP_END
