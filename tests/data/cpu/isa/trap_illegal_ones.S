/* the all-ones word: cause 2 */
#include "trap_macros.h"
TRAP_BEGIN
    .globl trap_here
trap_here:
    .word 0xffffffff
TRAP_END
