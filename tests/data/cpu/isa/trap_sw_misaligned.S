/* sw to an address = 1 mod 4: cause 6 (misaligned store), memory untouched */
#include "trap_macros.h"
TRAP_BEGIN
    .globl trap_here
trap_here:
    sw a1, 1(s0)
TRAP_END
