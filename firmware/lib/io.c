/* Output helpers on the PRINT register; no division (RV32I has none): decimal digits are found by
 * subtracting powers of ten. */
#include "io.h"

void print_str(const char *s)
{
    while (*s)
        putchar(*s++);
}

void print_hex(unsigned int value, int digits)
{
    if (digits < 1)
        digits = 1;
    while (digits < 8 && (value >> (4 * digits)))
        digits++;
    putchar('0');
    putchar('x');
    for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4)
        putchar("0123456789abcdef"[(value >> shift) & 15]);
}

void print_udec(unsigned int value)
{
    static const unsigned int powers[] = {1000000000u, 100000000u, 10000000u, 1000000u, 100000u,
                                          10000u, 1000u, 100u, 10u, 1u};
    int started = 0;
    for (unsigned int i = 0; i < sizeof(powers) / sizeof(powers[0]); i++) {
        int digit = 0;
        while (value >= powers[i]) {
            value -= powers[i];
            digit++;
        }
        if (digit || started || powers[i] == 1) {
            putchar('0' + digit);
            started = 1;
        }
    }
}

void print_dec(int value)
{
    if (value < 0) {
        putchar('-');
        print_udec(0u - (unsigned int)value);
    } else {
        print_udec((unsigned int)value);
    }
}
