/* an unimplemented CSR (mstatus): cause 2 */
#include "trap_macros.h"
TRAP_BEGIN
    .globl trap_here
trap_here:
    csrr a4, mstatus
TRAP_END
