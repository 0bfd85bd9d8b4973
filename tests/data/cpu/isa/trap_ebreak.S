/* ebreak: cause 3 */
#include "trap_macros.h"
TRAP_BEGIN
    .globl trap_here
trap_here:
    ebreak
TRAP_END
