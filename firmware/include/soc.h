/* Memory map of the CPU harness / SoC; the addresses come from hw/cpu/soc_ram.py (MemoryMap)
 * through -D flags that firmware/build.py passes. The defaults here only serve editors. */
#ifndef SOC_H
#define SOC_H

#ifndef SOC_PRINT_ADDR
#define SOC_PRINT_ADDR 0x20000000u
#endif
#ifndef SOC_FINISH_ADDR
#define SOC_FINISH_ADDR 0x20000004u
#endif

#define SOC_REG32(addr) (*(volatile unsigned int *)(addr))

#endif
