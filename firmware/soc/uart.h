/* Text output through the SoC's UART (hw/soc.py): PRINT register stores paced by rdcycle.
 * The UART has no FIFO and the core cannot read its state, so uart_putc waits UART_CHAR_CYCLES
 * (10 bit times + margin, a -D from firmware/layer_image.py) after the previous byte. */
#ifndef SOC_UART_H
#define SOC_UART_H

#include <stdint.h>

#ifndef UART_CHAR_CYCLES
#define UART_CHAR_CYCLES 84u
#endif

void uart_putc(int c);
void uart_puts(const char *s);
void uart_hex(uint32_t value);          /* 0x + 8 hex digits */
void uart_udec(uint32_t value);
void uart_dec(int32_t value);

#endif
