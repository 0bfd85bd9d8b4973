/* csrrw to the read-only cycle CSR: cause 2 */
#include "trap_macros.h"
TRAP_BEGIN
    li a1, 5
    .globl trap_here
trap_here:
    csrw cycle, a1
TRAP_END
