/* CPU benchmark: the C twin of spectralnorm.apy (same operations, same order). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define N 2000

static double eval_a(long i, long j) {
    return 1.0 / ((i + j) * (i + j + 1) / 2 + i + 1);
}

static void times_a(long n, const double *u, double *out) {
    for (long i = 0; i < n; i++) {
        double acc = 0.0;
        for (long j = 0; j < n; j++)
            acc += eval_a(i, j) * u[j];
        out[i] = acc;
    }
}

static void times_at(long n, const double *u, double *out) {
    for (long i = 0; i < n; i++) {
        double acc = 0.0;
        for (long j = 0; j < n; j++)
            acc += eval_a(j, i) * u[j];
        out[i] = acc;
    }
}

static void times_ata(long n, const double *u, double *out, double *tmp) {
    times_a(n, u, tmp);
    times_at(n, tmp, out);
}

static double spectral_norm(long n) {
    double *u = malloc(n * sizeof *u), *v = malloc(n * sizeof *v), *tmp = malloc(n * sizeof *tmp);
    for (long i = 0; i < n; i++) {
        u[i] = 1.0;
        v[i] = 0.0;
        tmp[i] = 0.0;
    }
    for (int k = 0; k < 10; k++) {
        times_ata(n, u, v, tmp);
        times_ata(n, v, u, tmp);
    }
    double vbv = 0.0, vv = 0.0;
    for (long i = 0; i < n; i++) {
        vbv += u[i] * v[i];
        vv += v[i] * v[i];
    }
    free(u);
    free(v);
    free(tmp);
    return sqrt(vbv / vv);
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : N;
    printf("%.9f\n", spectral_norm(n));
    return 0;
}
