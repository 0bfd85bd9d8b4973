/* Custom-0 (CFU) instructions: rd = CFU(function_id = {funct7, funct3}, rs1, rs2).
 * The core sends function_id, rs1 and rs2 on the CFU port and stalls until the CFU answers.
 * funct3 (0..7) and funct7 (0..127) must be compile-time constants.
 *
 *     unsigned int r = cfu_op(1, 0, a, b);      .insn r 0x0b, 1, 0, rd, rs1, rs2
 *     unsigned int s = cfu_op3(5, a, b);        funct3 = 3, funct7 = 5 (CFU Playground style)
 */
#ifndef CFU_H
#define CFU_H

#define cfu_op(funct3, funct7, rs1, rs2) ({                                        \
    unsigned int cfu_rd_;                                                          \
    __asm__ volatile (".insn r 0x0b, %3, %4, %0, %1, %2"                           \
                      : "=r"(cfu_rd_)                                              \
                      : "r"((unsigned int)(rs1)), "r"((unsigned int)(rs2)),        \
                        "i"(funct3), "i"(funct7));                                 \
    cfu_rd_;                                                                       \
})

#define cfu_op0(funct7, rs1, rs2) cfu_op(0, funct7, rs1, rs2)
#define cfu_op1(funct7, rs1, rs2) cfu_op(1, funct7, rs1, rs2)
#define cfu_op2(funct7, rs1, rs2) cfu_op(2, funct7, rs1, rs2)
#define cfu_op3(funct7, rs1, rs2) cfu_op(3, funct7, rs1, rs2)
#define cfu_op4(funct7, rs1, rs2) cfu_op(4, funct7, rs1, rs2)
#define cfu_op5(funct7, rs1, rs2) cfu_op(5, funct7, rs1, rs2)
#define cfu_op6(funct7, rs1, rs2) cfu_op(6, funct7, rs1, rs2)
#define cfu_op7(funct7, rs1, rs2) cfu_op(7, funct7, rs1, rs2)

#endif
