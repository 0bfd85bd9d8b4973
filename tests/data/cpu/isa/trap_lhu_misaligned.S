/* lhu from an odd address: cause 4 */
#include "trap_macros.h"
TRAP_BEGIN
    .globl trap_here
trap_here:
    lhu a4, 1(s0)
TRAP_END
