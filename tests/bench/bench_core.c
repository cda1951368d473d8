/* bench_core.c - single-thread throughput of msgsec_wrap / msgsec_unwrap, as
 * ratios to the OpenSSL primitives they cannot avoid, measured in the same
 * process and run: RSA-2048 sign (wrap, RSA sender), ECDSA P-256 sign (wrap,
 * ECDSA sender) and RSA-2048 OAEP private decrypt (unwrap). Every figure is
 * the median of several timed runs. Time is this thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID): the machine is a shared 2-core box, and CPU time
 * is what the other tenants cannot inflate; rates are per CPU-second of one core.
 *
 * The other credentials (1 KiB payload) are measured when CRED_DIR is given
 * (run_core_bench.sh makes it): `users` (password store, user alice) and
 * `password`, `assertion.xml` (from `msgsec sts issue` for client-rsa.pem,
 * audience urn:msgsec:service) and, with a running KDC ($KRB5CCNAME holds
 * alice's TGT), `service.keytab` and `spn`.
 *
 * usage: msgsec_bench_core PKI_DIR [RUNS [SECONDS_PER_RUN [CRED_DIR]]]
 * PKI_DIR is the output of tests/lib/pki.sh. Not a test: see run_core_bench.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "msgsec.h"

static int runs = 5;
static double run_seconds = 0.5;
static const char *pki;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "msgsec_bench_core: %s: %s\n", what, detail);
    exit(1);
}

/* A ring of buffers: enough for every path the options hold at once. */
static const char *path_in(const char *dir, const char *name)
{
    static char buf[32][512];
    static int next;
    char *p = buf[next++ % 32];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

static const char *path(const char *name) { return path_in(pki, name); }

/* The first line of a small file, or NULL when it does not exist. Caller frees. */
static char *read_line(const char *file)
{
    char buf[256];
    FILE *f = fopen(file, "r");
    if (!f)
        return NULL;
    char *line = fgets(buf, sizeof buf, f) ? strdup(buf) : NULL;
    fclose(f);
    if (!line)
        die("empty file", file);
    line[strcspn(line, "\n")] = '\0';
    return line;
}

/* ------------------------------------------------------------ primitives */

/* One operation; returns 0 on success. */
typedef int (*op_fn)(void *state);

/* ops per CPU-second of one timed run of op. */
static double one_run(op_fn op, void *state)
{
    long n = 0;
    double start = now_s(), elapsed;
    do {
        for (int k = 0; k < 8; k++, n++)
            if (op(state) != 0)
                die("benchmark", "operation failed");
        elapsed = now_s() - start;
    } while (elapsed < run_seconds);
    return (double)n / elapsed;
}

static double rate(op_fn op, void *state)
{
    double r[64];
    for (int i = 0; i < runs; i++)
        r[i] = one_run(op, state);
    return median(r, runs);
}

typedef struct pkey_op {
    EVP_PKEY_CTX *ctx;
    uint8_t in[512], out[512];
    size_t in_len;
} pkey_op;

static EVP_PKEY *read_key(const char *name)
{
    FILE *f = fopen(path(name), "r");
    EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    if (!k)
        die("cannot read key", name);
    return k;
}

static int op_sign(void *state)
{
    pkey_op *s = state;
    size_t len = sizeof s->out;
    return EVP_PKEY_sign(s->ctx, s->out, &len, s->in, 32) == 1 ? 0 : -1;
}

static int op_verify(void *state)
{
    pkey_op *s = state;
    return EVP_PKEY_verify(s->ctx, s->out, s->in_len, s->in, 32) == 1 ? 0 : -1;
}

static int op_decrypt(void *state)
{
    pkey_op *s = state;
    size_t len = sizeof s->out;
    return EVP_PKEY_decrypt(s->ctx, s->out, &len, s->in, s->in_len) == 1 && len == 32 ? 0 : -1;
}

/* SHA-256 signing state (PKCS#1 v1.5 for RSA). */
static void sign_setup(pkey_op *s, EVP_PKEY *key, int rsa)
{
    s->ctx = EVP_PKEY_CTX_new(key, NULL);
    memset(s->in, 7, 32);
    if (EVP_PKEY_sign_init(s->ctx) != 1 ||
        (rsa && EVP_PKEY_CTX_set_rsa_padding(s->ctx, RSA_PKCS1_PADDING) != 1) ||
        EVP_PKEY_CTX_set_signature_md(s->ctx, EVP_sha256()) != 1)
        die("sign set-up", "failed");
}

static void verify_setup(pkey_op *s, EVP_PKEY *key)
{
    sign_setup(s, key, 0);
    s->in_len = sizeof s->out;
    if (EVP_PKEY_sign(s->ctx, s->out, &s->in_len, s->in, 32) != 1 ||
        EVP_PKEY_verify_init(s->ctx) != 1 ||
        EVP_PKEY_CTX_set_signature_md(s->ctx, EVP_sha256()) != 1)
        die("verify set-up", "failed");
}

/* RSA-OAEP (SHA-1, as WSS4J's rsa-oaep-mgf1p) private decryption of a 32-byte key. */
static void decrypt_setup(pkey_op *s, EVP_PKEY *key)
{
    uint8_t content_key[32];
    memset(content_key, 9, sizeof content_key);
    s->ctx = EVP_PKEY_CTX_new(key, NULL);
    s->in_len = sizeof s->in;
    if (EVP_PKEY_encrypt_init(s->ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(s->ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_encrypt(s->ctx, s->in, &s->in_len, content_key, sizeof content_key) != 1 ||
        EVP_PKEY_decrypt_init(s->ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(s->ctx, RSA_PKCS1_OAEP_PADDING) != 1)
        die("decrypt set-up", "failed");
}

/* -------------------------------------------------------------- msgsec */

typedef struct wrap_state {
    msgsec_sender *sender;
    uint8_t *payload;
    size_t len;
    size_t last_env_len;
} wrap_state;

static int op_wrap(void *state)
{
    wrap_state *w = state;
    uint8_t *env = NULL;
    msgsec_error e = {0};
    if (msgsec_wrap(w->sender, NULL, w->payload, w->len, &env, &w->last_env_len, &e) != MSGSEC_OK)
        die("wrap", e.detail);
    msgsec_free(env);
    return 0;
}

#define BATCH 32

/* Unwraps per CPU-second of one run; envelopes (fresh message ids, so the
 * in-memory replay cache accepts each) are made between timed batches.
 * Returns -1, with *why set, when the receiver refuses. */
static double unwrap_run(wrap_state *w, msgsec_receiver *rcv, msgsec_error *why)
{
    uint8_t *env[BATCH];
    size_t env_len[BATCH];
    long n = 0;
    double busy = 0;
    while (busy < run_seconds) {
        for (int k = 0; k < BATCH; k++) {
            msgsec_error e = {0};
            if (msgsec_wrap(w->sender, NULL, w->payload, w->len, &env[k], &env_len[k], &e) !=
                MSGSEC_OK)
                die("wrap", e.detail);
        }
        double start = now_s();
        int failed = 0;
        for (int k = 0; k < BATCH; k++) {
            uint8_t *plain = NULL;
            size_t plain_len = 0;
            if (!failed &&
                msgsec_unwrap(rcv, env[k], env_len[k], &plain, &plain_len, NULL, why) != MSGSEC_OK)
                failed = 1;
            else if (!failed && (plain_len != w->len || memcmp(plain, w->payload, w->len) != 0))
                failed = 1, snprintf(why->detail, sizeof why->detail, "payload differs");
            msgsec_free_secret(plain, plain_len);
            msgsec_free(env[k]);
        }
        busy += now_s() - start;
        if (failed)
            return -1;
        n += BATCH;
    }
    return (double)n / busy;
}

/* One row of the credential table: 1 KiB payload, each wrap and unwrap rate
 * paired with the RSA-2048 primitive timed right before it in the same round. */
static void bench_credential(const char *name, const msgsec_sender_opts *so,
                             const msgsec_receiver_opts *ro, pkey_op *rsa_sign,
                             pkey_op *rsa_decrypt)
{
    wrap_state w = {.len = 1024};
    msgsec_receiver *rcv = NULL;
    msgsec_error e = {0};
    uint8_t payload[1024];
    double wrap[64], wrap_x[64], unwrap[64], unwrap_x[64];

    for (size_t k = 0; k < sizeof payload; k++)
        payload[k] = (uint8_t)(k * 31 + 7);
    w.payload = payload;
    if (msgsec_sender_new(so, &w.sender, &e) != MSGSEC_OK)
        die(name, e.detail);
    if (msgsec_receiver_new(ro, &rcv, &e) != MSGSEC_OK)
        die(name, e.detail);
    for (int r = 0; r < runs; r++) {
        double sign = one_run(op_sign, rsa_sign);
        wrap[r] = one_run(op_wrap, &w);
        wrap_x[r] = wrap[r] / sign;
        double decrypt = one_run(op_decrypt, rsa_decrypt);
        if ((unwrap[r] = unwrap_run(&w, rcv, &e)) < 0)
            die(name, e.detail);
        unwrap_x[r] = unwrap[r] / decrypt;
    }
    printf("%-10s | %9.1f %7.3fx | %9.1f %8.4fx | %9zu\n", name, median(wrap, runs),
           median(wrap_x, runs), median(unwrap, runs), median(unwrap_x, runs), w.last_env_len);
    msgsec_receiver_free(rcv);
    msgsec_sender_free(w.sender);
}

static void bench_credentials(const char *dir, pkey_op *rsa_sign, pkey_op *rsa_decrypt)
{
    const char *issuers[] = {path("sts.pem")};
    msgsec_receiver_opts ro = {.cert_file = path("service.pem"),
                               .key_file = path("service.key"),
                               .issuer_files = issuers,
                               .n_issuer_files = 1,
                               .users_file = path_in(dir, "users")};
    char *password = read_line(path_in(dir, "password"));
    char *spn = read_line(path_in(dir, "spn"));
    if (!password)
        die("no password file in", dir);

    printf("\n%-10s | %9s %8s | %9s %9s | %9s\n", "credential", "wrap/s", "x sign", "unwrap/s",
           "x decr", "envelope");
    msgsec_sender_opts username = {.credential = MSGSEC_CRED_USERNAME,
                                   .username = "alice",
                                   .password = password,
                                   .service_cert_file = path("service.pem")};
    bench_credential("username", &username, &ro, rsa_sign, rsa_decrypt);
    msgsec_sender_opts issued = {.credential = MSGSEC_CRED_ISSUED,
                                 .cert_file = path("client-rsa.pem"),
                                 .key_file = path("client-rsa.key"),
                                 .token_file = path_in(dir, "assertion.xml"),
                                 .service_cert_file = path("service.pem")};
    bench_credential("issued", &issued, &ro, rsa_sign, rsa_decrypt);
    if (spn) {
        msgsec_sender_opts windows = {.credential = MSGSEC_CRED_WINDOWS,
                                      .service_principal = spn,
                                      .service_cert_file = path("service.pem")};
        ro.keytab_file = path_in(dir, "service.keytab");
        bench_credential("windows", &windows, &ro, rsa_sign, rsa_decrypt);
    } else {
        printf("%-10s | not measured: no %s (needs a KDC)\n", "windows", path_in(dir, "spn"));
    }
    printf("1 KiB payload, RSA-2048 service key; issued signs with RSA-2048 (client-rsa).\n"
           "x sign: wrap rate / RSA-2048 sign rate; x decr: unwrap rate / RSA-2048 OAEP\n"
           "private-decrypt rate (medians of per-round ratios). username: one user, so after\n"
           "the first message (scrypt N=32768, ~100 ms) every password check is a hit of the\n"
           "verified-password cache (common/src/passwd.h).\n");
    OPENSSL_cleanse(password, strlen(password));
    free(password);
    free(spn);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 5) {
        fprintf(stderr, "usage: msgsec_bench_core PKI_DIR [RUNS [SECONDS_PER_RUN [CRED_DIR]]]\n");
        return 2;
    }
    pki = argv[1];
    if (argc > 2)
        runs = atoi(argv[2]);
    if (argc > 3)
        run_seconds = atof(argv[3]);
    if (runs < 1 || runs > 64 || run_seconds <= 0)
        die("bad arguments", "RUNS in 1..64, SECONDS_PER_RUN > 0");
    msgsec_error e = {0};
    msgsec_global_init(&e);

    EVP_PKEY *rsa = read_key("client-rsa.key"), *ec = read_key("client-ec.key");
    EVP_PKEY *service = read_key("service.key");
    pkey_op rsa_sign = {0}, ec_sign = {0}, ec_verify = {0}, rsa_decrypt = {0};
    sign_setup(&rsa_sign, rsa, 1);
    sign_setup(&ec_sign, ec, 0);
    verify_setup(&ec_verify, ec);
    decrypt_setup(&rsa_decrypt, service);

    printf("msgsec core benchmark: single thread, median of %d runs x %.2f s of thread CPU "
           "time\n\n",
           runs, run_seconds);
    printf("%-34s %10s\n", "OpenSSL primitive (EVP, in-process)", "ops/s");
    printf("%-34s %10.0f\n", "RSA-2048 sign (PKCS#1 v1.5)", rate(op_sign, &rsa_sign));
    printf("%-34s %10.0f\n", "RSA-2048 private decrypt (OAEP)", rate(op_decrypt, &rsa_decrypt));
    printf("%-34s %10.0f\n", "ECDSA P-256 sign", rate(op_sign, &ec_sign));
    printf("%-34s %10.0f\n\n", "ECDSA P-256 verify", rate(op_verify, &ec_verify));

    msgsec_receiver *rcv = NULL;
    const char *ca[] = {path("ca.pem")};
    msgsec_receiver_opts ro = {.cert_file = path("service.pem"),
                               .key_file = path("service.key"),
                               .ca_files = ca,
                               .n_ca_files = 1}; /* replay cache: in memory */
    msgsec_error rcv_err = {0};
    if (msgsec_receiver_new(&ro, &rcv, &rcv_err) != MSGSEC_OK)
        rcv = NULL;

    printf("%-6s %8s | %9s %8s | %9s %8s | %9s %9s\n", "sender", "payload", "wrap/s", "x sign",
           "unwrap/s", "x decr", "envelope", "bound");
    static const size_t sizes[] = {256, 1024, 16384, 65536};
    const struct {
        const char *name, *cert, *key;
        pkey_op *sign;
    } senders[] = {{"RSA", "client-rsa.pem", "client-rsa.key", &rsa_sign},
                   {"ECDSA", "client-ec.pem", "client-ec.key", &ec_sign}};
    for (size_t s = 0; s < 2; s++) {
        msgsec_sender_opts so = {.credential = MSGSEC_CRED_CERTIFICATE,
                                 .cert_file = path(senders[s].cert),
                                 .key_file = path(senders[s].key),
                                 .service_cert_file = path("service.pem")};
        wrap_state w = {0};
        if (msgsec_sender_new(&so, &w.sender, &e) != MSGSEC_OK)
            die("sender", e.detail);
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            w.len = sizes[i];
            w.payload = malloc(w.len);
            for (size_t k = 0; k < w.len; k++)
                w.payload[k] = (uint8_t)(k * 31 + 7);
            /* each round times the primitive right next to the operation, so a
             * ratio compares two runs made under the same machine load */
            double wrap[64], wrap_x[64], unwrap[64], unwrap_x[64];
            for (int r = 0; r < runs; r++) {
                double sign = one_run(op_sign, senders[s].sign);
                wrap[r] = one_run(op_wrap, &w);
                wrap_x[r] = wrap[r] / sign;
                if (rcv) {
                    double decrypt = one_run(op_decrypt, &rsa_decrypt);
                    unwrap[r] = unwrap_run(&w, rcv, &rcv_err);
                    unwrap_x[r] = unwrap[r] / decrypt;
                    if (unwrap[r] < 0) {
                        msgsec_receiver_free(rcv);
                        rcv = NULL;
                    }
                }
            }
            double bound = 1.4 * (double)w.len + 3072;
            printf("%-6s %8zu | %9.0f %7.2fx | ", senders[s].name, w.len, median(wrap, runs),
                   median(wrap_x, runs));
            if (rcv)
                printf("%9.0f %7.2fx | ", median(unwrap, runs), median(unwrap_x, runs));
            else
                printf("%9s %8s | ", "n/a", "");
            printf("%9zu %9.0f %s\n", w.last_env_len, bound,
                   (double)w.last_env_len <= bound ? "ok" : "OVER");
            free(w.payload);
        }
        msgsec_sender_free(w.sender);
    }
    printf("\nx sign: wrap rate / sign rate of the sender's key type; x decr: unwrap rate /\n"
           "RSA-2048 OAEP private-decrypt rate; each the median of per-round ratios, the\n"
           "primitive timed right before the operation. bound: 1.4 x payload + 3 KiB.\n"
           "targets at 1 KiB RSA: wrap >= 0.70x sign, unwrap >= 0.70x decrypt.\n");
    if (!rcv)
        printf("unwrap not measured: %s\n", rcv_err.detail);
    msgsec_receiver_free(rcv);
    if (argc > 4)
        bench_credentials(argv[4], &rsa_sign, &rsa_decrypt);
    EVP_PKEY_CTX_free(rsa_sign.ctx);
    EVP_PKEY_CTX_free(ec_sign.ctx);
    EVP_PKEY_CTX_free(ec_verify.ctx);
    EVP_PKEY_CTX_free(rsa_decrypt.ctx);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(service);
    msgsec_global_cleanup();
    return 0;
}
