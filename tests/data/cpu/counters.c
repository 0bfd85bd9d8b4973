/* csr.h's 64-bit counter reads on the core: instret advances by the loop's instructions, cycle
 * by at least two per instruction, the high halves are 0 in a short run. Prints the loop's CPI
 * (x100). Runs only on the core (unicorn's counters are not cycle-accurate). */
#include "csr.h"
#include "io.h"

int main(void)
{
    unsigned long long c0 = rdcycle64(), i0 = rdinstret64();
    volatile unsigned int sum = 0;
    for (unsigned int i = 0; i < 100; i++)
        sum += i;
    unsigned long long c1 = rdcycle64(), i1 = rdinstret64();
    unsigned int cycles = (unsigned int)(c1 - c0), insns = (unsigned int)(i1 - i0);
    int errors = 0;
    errors += sum != 4950;
    errors += insns < 400 || insns > 2000;          /* ~6 instructions per iteration */
    errors += cycles < 2 * insns;
    errors += (c1 >> 32) != 0 || (i1 >> 32) != 0;
    print_str("loop: ");
    print_udec(insns);
    print_str(" instructions, ");
    print_udec(cycles);
    print_str(" cycles, CPI x100 = ");
    print_udec(cycles * 100 / insns);
    putchar('\n');
    return errors;
}
