/* CPU benchmark: the C equivalent of floatloop.apy (same operation order,
 * so the same IEEE results; compiled without FMA contraction by run_cpu.py). */
#include <stdio.h>

#define WIDTH 1200
#define HEIGHT 800
#define MAX_ITER 500
#define STEPS 100000000

static long long mandel_count(void) {
    long long inside = 0, total_iter = 0;
    for (long long py = 0; py < HEIGHT; py++) {
        double ci = -1.2 + 2.4 * py / HEIGHT;
        for (long long px = 0; px < WIDTH; px++) {
            double cr = -2.1 + 3.0 * px / WIDTH;
            double zr = 0.0, zi = 0.0;
            long long k = 0;
            while (k < MAX_ITER && zr * zr + zi * zi <= 4.0) {
                double t = zr * zr - zi * zi + cr;
                zi = 2.0 * zr * zi + ci;
                zr = t;
                k += 1;
            }
            total_iter += k;
            if (k == MAX_ITER)
                inside += 1;
        }
    }
    printf("%lld\n", total_iter);
    return inside;
}

static double integrate_pi(long long steps) {
    double h = 1.0 / steps;
    double acc = 0.0;
    for (long long i = 0; i < steps; i++) {
        double x = (i + 0.5) * h;
        acc += 4.0 / (1.0 + x * x);
    }
    return acc * h;
}

int main(void) {
    printf("%lld\n", mandel_count());
    printf("%lld\n", (long long)(integrate_pi(STEPS) * 1000000000000.0));
    return 0;
}
