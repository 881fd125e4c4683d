/* CPU benchmark: the C twin of wordcount.apy (same generator, same counts, same order). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 1000000
#define VOCAB 5000

static const char *SYLLABLES[] = {"ka", "lo", "mi", "ne", "su", "ta", "ri", "po",
                                  "the", "an", "ed", "ing", "qu", "zo", "ba", "el"};
#define NSYL 16

static long rng_state = 42;

static long rng_next(long bound) {
    rng_state = (rng_state * 1103515245 + 12345) % 2147483648L;
    return (rng_state >> 8) % bound;
}

static void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (p == NULL) {
        fputs("out of memory\n", stderr);
        exit(1);
    }
    return p;
}

static char **make_vocab(long size) {
    char **words = xmalloc(size * sizeof *words);
    for (long i = 0; i < size; i++) {
        char buf[16] = "";
        long nsyl = 1 + rng_next(3);
        for (long k = 0; k < nsyl; k++)
            strcat(buf, SYLLABLES[rng_next(NSYL)]);
        if (rng_next(7) == 0)
            buf[0] = (char)toupper((unsigned char)buf[0]);
        words[i] = strdup(buf);
    }
    return words;
}

static char *make_text(char **vocab, long nvocab, long n, size_t *len) {
    size_t cap = 64, used = 0;
    char *text = xmalloc(cap);
    for (long i = 0; i < n; i++) {
        long a = rng_next(nvocab), b = rng_next(nvocab);
        const char *w = vocab[a < b ? a : b];
        size_t wl = strlen(w);
        if (used + wl + 2 > cap) {
            cap = 2 * cap + wl + 2;
            text = realloc(text, cap);
            if (text == NULL) {
                fputs("out of memory\n", stderr);
                exit(1);
            }
        }
        memcpy(text + used, w, wl);
        used += wl;
        text[used++] = i % 16 == 15 ? '\n' : ' ';
    }
    text[used] = '\0';
    *len = used;
    return text;
}

struct entry {
    const char *word;
    size_t len;
    long count;
};

static struct entry *table;
static size_t table_cap, table_used;

static size_t hash_word(const char *w, size_t len) {
    size_t h = 14695981039346656037UL; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)w[i]) * 1099511628211UL;
    return h;
}

static void grow(void);

static void count_word(const char *w, size_t len) {
    size_t i = hash_word(w, len) & (table_cap - 1);
    while (table[i].word != NULL) {
        if (table[i].len == len && memcmp(table[i].word, w, len) == 0) {
            table[i].count += 1;
            return;
        }
        i = (i + 1) & (table_cap - 1);
    }
    table[i].word = w;
    table[i].len = len;
    table[i].count = 1;
    if (++table_used * 3 > table_cap * 2)
        grow();
}

static void grow(void) {
    struct entry *old = table;
    size_t old_cap = table_cap;
    table_cap *= 2;
    table = calloc(table_cap, sizeof *table);
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].word == NULL)
            continue;
        size_t j = hash_word(old[i].word, old[i].len) & (table_cap - 1);
        while (table[j].word != NULL)
            j = (j + 1) & (table_cap - 1);
        table[j] = old[i];
    }
    free(old);
}

/* lower-case a copy of the text in place, then count its whitespace-separated words */
static void count_words(const char *text, size_t len) {
    char *lower = xmalloc(len + 1);
    for (size_t i = 0; i <= len; i++)
        lower[i] = (char)tolower((unsigned char)text[i]);
    table_cap = 1024;
    table = calloc(table_cap, sizeof *table);
    size_t i = 0;
    while (i < len) {
        while (i < len && isspace((unsigned char)lower[i]))
            i++;
        size_t start = i;
        while (i < len && !isspace((unsigned char)lower[i]))
            i++;
        if (i > start)
            count_word(lower + start, i - start);
    }
}

static int by_count_then_word(const void *pa, const void *pb) {
    const struct entry *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->word, b->word, n);
    if (c != 0)
        return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : N;
    char **vocab = make_vocab(VOCAB);
    size_t len;
    char *text = make_text(vocab, VOCAB, n, &len);
    count_words(text, len);
    struct entry *items = xmalloc((table_used + 1) * sizeof *items);
    size_t k = 0;
    long total = 0;
    for (size_t i = 0; i < table_cap; i++) {
        if (table[i].word != NULL) {
            items[k++] = table[i];
            total += table[i].count;
        }
    }
    qsort(items, k, sizeof *items, by_count_then_word);
    printf("%zu chars, %ld words, %zu distinct\n", len, total, k);
    for (size_t i = 0; i < k && i < 10; i++)
        printf("%12.*s %ld\n", (int)items[i].len, items[i].word, items[i].count);
    return 0;
}
