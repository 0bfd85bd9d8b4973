/* Custom-0 instructions through firmware/include/cfu.h against the testbench's CFU model
 * (tb/test_cpu.py, cfu_function): outputs_0 = (in0 ^ rotl(in1, 7)) + function_id * 0x9E3779B1. */
#include "cfu.h"
#include "io.h"

static unsigned int model(unsigned int function_id, unsigned int a, unsigned int b)
{
    return (a ^ ((b << 7) | (b >> 25))) + function_id * 0x9E3779B1u;
}

static int errors;

#define CHECK(f3, f7, a, b) do {                                              \
        unsigned int a_ = (a), b_ = (b);                                      \
        unsigned int got_ = cfu_op(f3, f7, a_, b_);                           \
        if (got_ != model(((f7) << 3) | (f3), a_, b_)) {                      \
            errors++;                                                         \
            print_str("mismatch funct3=" #f3 " funct7=" #f7 " got ");        \
            print_hex(got_, 8);                                               \
            putchar('\n');                                                    \
        }                                                                     \
    } while (0)

int main(void)
{
    unsigned int x = 0x12345678u, y = 0x9abcdef0u;
    for (int i = 0; i < 16; i++) {
        CHECK(0, 0, x, y);
        CHECK(1, 0, y, x);
        CHECK(7, 127, x, x);
        CHECK(3, 64, (unsigned int)i, (unsigned int)-i);
        CHECK(5, 1, x ^ (unsigned int)i, y + (unsigned int)i);
        if (cfu_op2(9, x, y) != model((9 << 3) | 2, x, y))
            errors++;
        x = x * 1103515245u + 12345u;
        y ^= x >> 3;
    }
    print_str(errors ? "cfu: FAIL\n" : "cfu: ok\n");
    return errors;
}
