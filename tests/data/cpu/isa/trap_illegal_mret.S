/* mret (no trap handling in this core): cause 2 */
#include "trap_macros.h"
TRAP_BEGIN
    .globl trap_here
trap_here:
    mret
TRAP_END
