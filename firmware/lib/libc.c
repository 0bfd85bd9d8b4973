/* The few C library and compiler support routines a freestanding RV32I program needs:
 * clang calls memset/memcpy/memmove/memcmp for block operations and __mulsi3/__divsi3/... for
 * * / % on an ISA without the M extension (-nostdlib links no compiler-rt). */
#include <stddef.h>

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s) {
        while (n--)
            *d++ = *s++;
    } else {
        while (n--)
            d[n] = s[n];
    }
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x - *y;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

unsigned int __mulsi3(unsigned int a, unsigned int b)
{
    unsigned int r = 0;
    while (b) {
        if (b & 1)
            r += a;
        a <<= 1;
        b >>= 1;
    }
    return r;
}

static unsigned int udivmod(unsigned int n, unsigned int d, unsigned int *rem)
{
    unsigned int q = 0, r = 0;
    if (d == 0) {               /* RISC-V M semantics: quotient all ones, remainder n */
        *rem = n;
        return 0xffffffffu;
    }
    for (int i = 31; i >= 0; i--) {
        r = (r << 1) | ((n >> i) & 1);
        if (r >= d) {
            r -= d;
            q |= 1u << i;
        }
    }
    *rem = r;
    return q;
}

unsigned int __udivsi3(unsigned int n, unsigned int d)
{
    unsigned int r;
    return udivmod(n, d, &r);
}

unsigned int __umodsi3(unsigned int n, unsigned int d)
{
    unsigned int r;
    udivmod(n, d, &r);
    return r;
}

int __divsi3(int n, int d)
{
    unsigned int r;
    unsigned int un = n < 0 ? 0u - (unsigned int)n : (unsigned int)n;
    unsigned int ud = d < 0 ? 0u - (unsigned int)d : (unsigned int)d;
    if (d == 0)
        return -1;
    unsigned int q = udivmod(un, ud, &r);
    return (n < 0) != (d < 0) ? (int)(0u - q) : (int)q;
}

int __modsi3(int n, int d)
{
    unsigned int r;
    unsigned int un = n < 0 ? 0u - (unsigned int)n : (unsigned int)n;
    unsigned int ud = d < 0 ? 0u - (unsigned int)d : (unsigned int)d;
    if (d == 0)
        return n;
    udivmod(un, ud, &r);
    return n < 0 ? (int)(0u - r) : (int)r;
}
