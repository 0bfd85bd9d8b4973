/* ecall: cause 11 */
#include "trap_macros.h"
TRAP_BEGIN
    .globl trap_here
trap_here:
    ecall
TRAP_END
