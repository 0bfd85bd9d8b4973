/* 64-bit multiply helper (RV32I has no M; -nostdlib links no compiler-rt): product mod 2^64,
 * the same bits for signed and unsigned operands. */
long long __muldi3(long long a, long long b);

long long __muldi3(long long a, long long b)
{
    unsigned long long ua = (unsigned long long)a, ub = (unsigned long long)b, r = 0;
    while (ub) {
        if (ub & 1u)
            r += ua;
        ua <<= 1;
        ub >>= 1;
    }
    return (long long)r;
}
