/* The freestanding runtime on the core: * / % through __mulsi3/__divsi3/..., mem* functions, .data
 * and .bss set-up, print helpers. Returns the number of failed checks (FINISH, 0 = pass). */
#include "io.h"

void *memset(void *, int, unsigned int);
void *memcpy(void *, const void *, unsigned int);
void *memmove(void *, const void *, unsigned int);
int memcmp(const void *, const void *, unsigned int);

static int failures;
static volatile unsigned int sink;
static unsigned int table[8] = {1, 2, 3, 4, 5, 6, 7, 8};     /* .data */
static unsigned char buffer[40];                             /* .bss */

static void check(int ok, const char *what)
{
    if (!ok) {
        failures++;
        print_str("FAIL ");
        print_str(what);
        putchar('\n');
    }
}

int main(void)
{
    volatile int a = -1234567, b = 89, zero = 0;
    volatile unsigned int ua = 4000000000u, ub = 7;
    check(a * b == -109876463, "mul signed");
    check(ua * ub == 4000000000u * 7u, "mul unsigned wrap");
    check(a / b == -13871, "div");
    check(a % b == -48, "mod");
    check(-a / b == 13871 && -a % b == 48, "div/mod positive");
    check(ua / ub == 571428571u && ua % ub == 3u, "udiv/umod");
    check(a / zero == -1 && a % zero == a, "division by zero (RISC-V M results)");

    for (unsigned int i = 0; i < sizeof(buffer); i++)
        check(buffer[i] == 0, ".bss cleared");
    check(table[7] == 8, ".data initialised");
    memset(buffer, 0xa5, 33);
    check(buffer[0] == 0xa5 && buffer[32] == 0xa5 && buffer[33] == 0, "memset");
    memcpy(buffer + 1, table, 8);
    check(buffer[1] == 1 && buffer[5] == 2 && buffer[9] == 0xa5, "memcpy");
    memmove(buffer + 2, buffer + 1, 8);
    check(buffer[2] == 1 && buffer[6] == 2, "memmove overlapping");
    check(memcmp(buffer + 2, table, 8) == 0 && memcmp(buffer, table, 4) != 0, "memcmp");

    sink = table[3];
    print_str("libc: ");
    print_dec(a);
    putchar(' ');
    print_hex(ua, 1);
    putchar('\n');
    return failures;
}
