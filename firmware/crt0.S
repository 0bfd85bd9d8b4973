/* Start-up code: stack pointer, clear .bss, call main, report its return value and stop.
 * exit(code) writes the code to the FINISH register (0 = pass) and executes ebreak, which halts
 * the core (cause 3); a simulation ends on either.
 */
    .section .text.start, "ax"
    .globl _start
_start:
    la      sp, __stack_top
    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sw      zero, 0(t0)
    addi    t0, t0, 4
    j       1b
2:  li      a0, 0
    li      a1, 0
    call    main
    /* fall through: exit(main's return value) */

    .globl exit
    .type exit, @function
exit:
    li      t0, SOC_FINISH_ADDR
    sw      a0, 0(t0)
    ebreak
3:  j       3b
    .size exit, . - exit
