/* CPU benchmark: the C equivalent of intloop.apy (all operands are positive,
 * so C's truncating / and % agree with Python's flooring ones here). */
#include <stdio.h>

#define LIMIT 3000000

static long long collatz_steps(long long n) {
    long long steps = 0;
    while (n != 1) {
        if (n % 2 == 0)
            n = n / 2;
        else
            n = 3 * n + 1;
        steps += 1;
    }
    return steps;
}

static long long reverse_digits(long long n) {
    long long r = 0;
    while (n > 0) {
        r = r * 10 + n % 10;
        n = n / 10;
    }
    return r;
}

int main(void) {
    long long total = 0, longest = 0, best = 0, checksum = 0;
    for (long long n = 1; n < LIMIT; n++) {
        long long s = collatz_steps(n);
        total += s;
        if (s > longest) {
            longest = s;
            best = n;
        }
        checksum = (checksum * 31 + reverse_digits(n)) % 1000000007;
    }
    printf("%lld\n", total);
    printf("%lld %lld\n", best, longest);
    printf("%lld\n", checksum);
    return 0;
}
