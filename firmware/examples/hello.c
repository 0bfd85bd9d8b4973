/* Smallest useful program: text and numbers on the PRINT register, exit code 0. */
#include "io.h"

static const char greeting[] = "hello from rv32i\n";
static int counter = 41;        /* .data */
static unsigned int zeroed[4];  /* .bss */

int main(void)
{
    print_str(greeting);
    counter++;
    print_dec(counter);
    putchar(' ');
    print_dec(-1234567890);
    putchar(' ');
    print_hex(0xc0ffee, 8);
    putchar(' ');
    print_udec(4000000000u);
    putchar(' ');
    print_dec(zeroed[0] + zeroed[3]);
    putchar('\n');
    print_dec(counter * 3 / 7);     /* __mulsi3, __divsi3 */
    putchar('\n');
    return 0;
}
