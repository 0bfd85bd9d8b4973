/* Trap programs: set-up, then the instruction at label trap_here must halt the core with the
 * cause the test expects (halt_pc = trap_here). Falling through writes FINISH = 1 (a failure). */
#ifndef TRAP_MACROS_H
#define TRAP_MACROS_H

#define TRAP_BEGIN                  \
    .section .text.start, "ax";     \
    .globl _start;                  \
_start:                             \
    li s0, SOC_DMEM_BASE + 0x200;   \
    li a1, 0x11223344;              \
    sw a1, 0(s0);                   \
    sw a1, 4(s0)

#define TRAP_END                    \
    .globl not_trapped;             \
not_trapped:                        \
    li a0, 1;                       \
    li t0, SOC_FINISH_ADDR;         \
    sw a0, 0(t0);                   \
    ebreak

#endif
