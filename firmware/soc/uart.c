/* Paced UART output (see uart.h). */
#include "uart.h"
#include "csr.h"
#include "soc.h"

static uint32_t uart_last;

void uart_putc(int c)
{
    while (rdcycle() - uart_last < UART_CHAR_CYCLES)
        ;
    SOC_REG32(SOC_PRINT_ADDR) = (unsigned char)c;
    uart_last = rdcycle();
}

void uart_puts(const char *s)
{
    while (*s)
        uart_putc(*s++);
}

void uart_hex(uint32_t value)
{
    uart_putc('0');
    uart_putc('x');
    for (int i = 28; i >= 0; i -= 4)
        uart_putc("0123456789abcdef"[(value >> i) & 15]);
}

void uart_udec(uint32_t value)
{
    char buf[12];
    int n = 0;
    do {
        buf[n++] = (char)('0' + value % 10u);
        value /= 10u;
    } while (value);
    while (n)
        uart_putc(buf[--n]);
}

void uart_dec(int32_t value)
{
    if (value < 0) {
        uart_putc('-');
        uart_udec(0u - (uint32_t)value);
    } else {
        uart_udec((uint32_t)value);
    }
}
