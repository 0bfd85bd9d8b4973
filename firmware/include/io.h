/* printf-less output through the PRINT register (one character per store), and exit(). */
#ifndef IO_H
#define IO_H

#include "soc.h"

static inline int putchar(int c)
{
    SOC_REG32(SOC_PRINT_ADDR) = (unsigned char)c;
    return (unsigned char)c;
}

void print_str(const char *s);            /* the string, no newline added */
void print_hex(unsigned int value, int digits);   /* "0x" + digits (1..8, more if needed) hex digits */
void print_udec(unsigned int value);      /* unsigned decimal */
void print_dec(int value);                /* signed decimal */
void exit(int code) __attribute__((noreturn));   /* FINISH <- code (0 = pass), then ebreak */

#endif
