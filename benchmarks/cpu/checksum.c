/* CPU benchmark: the C twin of checksum.apy (same buffer, same three checksums). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SIZE (1L << 18)
#define ROUNDS 400
#define ADLER_MOD 65521
#define ADLER_NMAX 5552

static uint32_t table[256];

static void crc_table(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        table[n] = c;
    }
}

static uint8_t *fill(long size) {
    uint8_t *buf = malloc(size);
    if (buf == NULL) {
        fputs("out of memory\n", stderr);
        exit(1);
    }
    long x = 12345;
    for (long i = 0; i < size; i++) {
        x = (x * 1103515245 + 12345) % 2147483648L;
        buf[i] = (x >> 16) & 0xFF;
    }
    return buf;
}

static long internet_checksum(const uint8_t *buf, long n) {
    long total = 0;
    for (long i = 0; i < n - 1; i += 2)
        total += (buf[i] << 8) | buf[i + 1];
    if (n % 2 == 1)
        total += buf[n - 1] << 8;
    while (total >> 16)
        total = (total & 0xFFFF) + (total >> 16);
    return ~total & 0xFFFF;
}

static long adler32(const uint8_t *buf, long n) {
    long a = 1, b = 0, start = 0;
    while (start < n) {
        long end = start + ADLER_NMAX < n ? start + ADLER_NMAX : n;
        for (long i = start; i < end; i++) {
            a += buf[i];
            b += a;
        }
        a %= ADLER_MOD;
        b %= ADLER_MOD;
        start = end;
    }
    return (b << 16) | a;
}

static long crc32(const uint8_t *buf, long n) {
    uint32_t crc = 0xFFFFFFFFu;
    for (long i = 0; i < n; i++)
        crc = table[(crc ^ buf[i]) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

int main(int argc, char **argv) {
    long rounds = argc > 1 ? atol(argv[1]) : ROUNDS;
    crc_table();
    uint8_t *buf = fill(SIZE);
    long mixed = 0, inet = 0, adler = 0, crc = 0;
    for (long r = 0; r < rounds; r++) {
        long pos = (r * 7919) % SIZE;
        buf[pos] ^= r & 0xFF;
        inet = internet_checksum(buf, SIZE);
        adler = adler32(buf, SIZE);
        crc = crc32(buf, SIZE);
        mixed ^= inet ^ adler ^ crc;
    }
    printf("%ld rounds over %ld bytes\n", rounds, SIZE);
    printf("inet %04lx adler32 %08lx crc32 %08lx mixed %08lx\n", inet, adler, crc, mixed);
    free(buf);
    return 0;
}
