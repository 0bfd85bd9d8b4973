/* csrrsi with uimm != 0 writes instret: cause 2 */
#include "trap_macros.h"
TRAP_BEGIN
    .globl trap_here
trap_here:
    csrrsi a4, instret, 1
TRAP_END
