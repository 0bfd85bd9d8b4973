/* Counter CSRs (Zicntr subset): cycle and instret, 32 and 64 bits. */
#ifndef CSR_H
#define CSR_H

static inline unsigned int rdcycle(void)
{
    unsigned int v;
    __asm__ volatile ("rdcycle %0" : "=r"(v));
    return v;
}

static inline unsigned int rdinstret(void)
{
    unsigned int v;
    __asm__ volatile ("rdinstret %0" : "=r"(v));
    return v;
}

/* 64-bit reads: high, low, high again until the high half did not change in between. */
static inline unsigned long long rdcycle64(void)
{
    unsigned int hi, lo, hi2;
    do {
        __asm__ volatile ("rdcycleh %0" : "=r"(hi));
        __asm__ volatile ("rdcycle %0" : "=r"(lo));
        __asm__ volatile ("rdcycleh %0" : "=r"(hi2));
    } while (hi != hi2);
    return ((unsigned long long)hi << 32) | lo;
}

static inline unsigned long long rdinstret64(void)
{
    unsigned int hi, lo, hi2;
    do {
        __asm__ volatile ("rdinstreth %0" : "=r"(hi));
        __asm__ volatile ("rdinstret %0" : "=r"(lo));
        __asm__ volatile ("rdinstreth %0" : "=r"(hi2));
    } while (hi != hi2);
    return ((unsigned long long)hi << 32) | lo;
}

#endif
