/* bench_unwrap.c - the C library's in-process msgsec_unwrap rate over a file of envelopes,
 * the baseline of tests/bench/bench_python.py (which unwraps the very same envelopes through
 * the Python package in the same run).
 *
 * usage: msgsec_bench_unwrap PKI_DIR ENVELOPES
 * ENVELOPES: records of a 4-byte big-endian length and the envelope. One fresh receiver
 * (service.pem/key, ca.pem; in-memory replay cache) unwraps each envelope once; prints
 * "n cpu_seconds wall_seconds": this thread's CPU time and the wall time of the unwrap calls
 * only (the receiver's set-up and the file's reading are not timed). Not a test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "msgsec.h"

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "msgsec_bench_unwrap: %s: %s\n", what, detail);
    exit(1);
}

/* The records of file: *n envelopes, each of lens[i] bytes. Exits on error. */
static uint8_t **read_envelopes(const char *file, size_t **lens, size_t *n)
{
    FILE *f = fopen(file, "rb");
    uint8_t **envs = NULL, head[4];
    size_t cap = 0;
    *n = 0;
    *lens = NULL;
    if (!f)
        die("cannot open", file);
    while (fread(head, 1, 4, f) == 4) {
        size_t len = (size_t)head[0] << 24 | (size_t)head[1] << 16 | (size_t)head[2] << 8 | head[3];
        if (*n == cap) {
            cap = cap ? 2 * cap : 1024;
            envs = realloc(envs, cap * sizeof *envs);
            *lens = realloc(*lens, cap * sizeof **lens);
            if (!envs || !*lens)
                die("out of memory", file);
        }
        if (!(envs[*n] = malloc(len)) || fread(envs[*n], 1, len, f) != len)
            die("truncated record in", file);
        (*lens)[(*n)++] = len;
    }
    fclose(f);
    return envs;
}

int main(int argc, char **argv)
{
    char cert[512], key[512], ca[512];
    msgsec_error e = {0};
    msgsec_receiver *r = NULL;
    size_t n, *lens;
    if (argc != 3) {
        fprintf(stderr, "usage: msgsec_bench_unwrap PKI_DIR ENVELOPES\n");
        return 2;
    }
    snprintf(cert, sizeof cert, "%s/service.pem", argv[1]);
    snprintf(key, sizeof key, "%s/service.key", argv[1]);
    snprintf(ca, sizeof ca, "%s/ca.pem", argv[1]);
    const char *cas[] = {ca};
    msgsec_receiver_opts o = {.cert_file = cert, .key_file = key, .ca_files = cas,
                              .n_ca_files = 1};
    if (msgsec_global_init(&e) != MSGSEC_OK || msgsec_receiver_new(&o, &r, &e) != MSGSEC_OK)
        die("receiver", e.detail);
    uint8_t **envs = read_envelopes(argv[2], &lens, &n);
    double cpu = clock_s(CLOCK_THREAD_CPUTIME_ID), wall = clock_s(CLOCK_MONOTONIC);
    for (size_t i = 0; i < n; i++) {
        uint8_t *payload = NULL;
        size_t len = 0;
        msgsec_context *ctx = NULL;
        if (msgsec_unwrap(r, envs[i], lens[i], &payload, &len, &ctx, &e) != MSGSEC_OK)
            die("unwrap", e.detail);
        msgsec_free_secret(payload, len);
        msgsec_context_free(ctx);
    }
    cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - cpu;
    wall = clock_s(CLOCK_MONOTONIC) - wall;
    printf("%zu %.6f %.6f\n", n, cpu, wall);
    for (size_t i = 0; i < n; i++)
        free(envs[i]);
    free(envs);
    free(lens);
    msgsec_receiver_free(r);
    msgsec_global_cleanup();
    return 0;
}
