/* sh to an odd address: cause 6 */
#include "trap_macros.h"
TRAP_BEGIN
    .globl trap_here
trap_here:
    sh a1, 5(s0)
TRAP_END
