/* CPU benchmark: the C twin of fannkuch.apy (same permutation order, same counts). */
#include <stdio.h>
#include <stdlib.h>

#define N 10
#define MAXN 16

static void fannkuch(long n, long *checksum_out, long *max_flips_out) {
    long perm1[MAXN], perm[MAXN], count[MAXN];
    long max_flips = 0, checksum = 0, sign = 1, r = n;
    for (long i = 0; i < n; i++) {
        perm1[i] = i;
        perm[i] = 0;
        count[i] = 0;
    }
    for (;;) {
        while (r != 1) {
            count[r - 1] = r;
            r -= 1;
        }
        for (long i = 0; i < n; i++)
            perm[i] = perm1[i];
        long flips = 0, k = perm[0];
        while (k != 0) {
            long lo = 0, hi = k;
            while (lo < hi) {
                long t = perm[lo];
                perm[lo] = perm[hi];
                perm[hi] = t;
                lo += 1;
                hi -= 1;
            }
            flips += 1;
            k = perm[0];
        }
        if (flips > max_flips)
            max_flips = flips;
        checksum += sign * flips;
        sign = -sign;
        for (;;) {
            if (r == n) {
                *checksum_out = checksum;
                *max_flips_out = max_flips;
                return;
            }
            long first = perm1[0];
            for (long i = 0; i < r; i++)
                perm1[i] = perm1[i + 1];
            perm1[r] = first;
            count[r] -= 1;
            if (count[r] > 0)
                break;
            r += 1;
        }
    }
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : N;
    if (n < 1 || n > MAXN) {
        fprintf(stderr, "n must be 1..%d\n", MAXN);
        return 2;
    }
    long checksum, max_flips;
    fannkuch(n, &checksum, &max_flips);
    printf("%ld\nPfannkuchen(%ld) = %ld\n", checksum, n, max_flips);
    return 0;
}
