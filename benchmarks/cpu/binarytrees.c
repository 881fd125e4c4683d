/* CPU benchmark: the C twin of binarytrees.apy (malloc/free, each tree freed after its check). */
#include <stdio.h>
#include <stdlib.h>

#define N 16

struct tree {
    struct tree *left, *right;
};

static struct tree *make(long depth) {
    struct tree *t = malloc(sizeof *t);
    if (t == NULL) {
        fputs("out of memory\n", stderr);
        exit(1);
    }
    if (depth == 0) {
        t->left = t->right = NULL;
    } else {
        t->left = make(depth - 1);
        t->right = make(depth - 1);
    }
    return t;
}

static long check(const struct tree *t) {
    if (t->left == NULL || t->right == NULL)
        return 1;
    return 1 + check(t->left) + check(t->right);
}

static void release(struct tree *t) {
    if (t->left != NULL)
        release(t->left);
    if (t->right != NULL)
        release(t->right);
    free(t);
}

static long check_and_release(struct tree *t) {
    long c = check(t);
    release(t);
    return c;
}

int main(int argc, char **argv) {
    long max_depth = argc > 1 ? atol(argv[1]) : N;
    if (max_depth < 6)
        max_depth = 6;
    long stretch = max_depth + 1;
    printf("stretch tree of depth %ld\t check: %ld\n", stretch, check_and_release(make(stretch)));
    struct tree *long_lived = make(max_depth);
    for (long depth = 4; depth <= max_depth; depth += 2) {
        long iterations = 1L << (max_depth - depth + 4);
        long c = 0;
        for (long i = 0; i < iterations; i++)
            c += check_and_release(make(depth));
        printf("%ld\t trees of depth %ld\t check: %ld\n", iterations, depth, c);
    }
    printf("long lived tree of depth %ld\t check: %ld\n", max_depth, check_and_release(long_lived));
    return 0;
}
