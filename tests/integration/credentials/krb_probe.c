/* krb_probe - drives common/src/kerberos.c for kerberos_test.sh.
 *
 *   krb_probe init SPN TOKEN_FILE KEY_FILE
 *       krb_init with $KRB5CCNAME; writes the token and the session key;
 *       prints "structure=ok" when krb_token_check accepts the token and
 *       "ticket_end=EPOCH".
 *   krb_probe accept KEYTAB TOKEN_FILE CREATED GRACE [KEY_FILE]
 *       what a receiver does: krb_accept as of CREATED (the message's
 *       wsu:Created, epoch; 0 = now), prints client=, service=, ticket_start=,
 *       ticket_end=, authenticator_time=, then krb_ticket_rule(CREATED,
 *       ticket_end, now, GRACE). With KEY_FILE, also prints key=equal|different
 *       (session keys) and derived=equal|different (HKDF signing and
 *       encryption keys equal on both sides and distinct from each other).
 * Exit status: the msgsec error class; failures print "krb_probe: detail". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "kerberos.h"

static int fail(const msgsec_error *e)
{
    fprintf(stderr, "krb_probe: %s\n", e->detail);
    return (int)e->code;
}

static int write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(data, 1, len, f) == len;
    if (f && fclose(f) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

static int cmd_init(char **argv)
{
    msgsec_error e = {0};
    krb_initiated in;
    if (krb_init(argv[0], &in, &e) != MSGSEC_OK)
        return fail(&e);
    int rc = write_file(argv[1], in.token, in.token_len) || write_file(argv[2], in.key, in.key_len);
    if (rc == 0)
        printf("structure=%s\nticket_end=%lld\n",
               krb_token_check(in.token, in.token_len, &e) == MSGSEC_OK ? "ok" : e.detail,
               (long long)in.ticket_end);
    krb_initiated_clear(&in);
    return rc ? MSGSEC_E_INTERNAL : 0;
}

static int cmd_accept(int argc, char **argv)
{
    msgsec_error e = {0};
    krb_accepted acc;
    uint8_t *token = NULL, *key = NULL;
    size_t token_len, key_len;
    if (read_file_bounded(argv[1], KRB_MAX_TOKEN * 2, &token, &token_len, &e) != MSGSEC_OK)
        return fail(&e);
    time_t created = (time_t)atoll(argv[2]);
    msgsec_err rc = krb_accept(argv[0], token, token_len, created, &acc, &e);
    free(token);
    if (rc != MSGSEC_OK)
        return fail(&e);
    printf("client=%s\nservice=%s\nticket_start=%lld\nticket_end=%lld\nauthenticator_time=%lld\n",
           acc.client, acc.service, (long long)acc.ticket_start, (long long)acc.ticket_end,
           (long long)acc.authenticator_time);
    if (argc > 4) {
        uint8_t s1[KRB_DERIVED_KEY_LEN], e1[KRB_DERIVED_KEY_LEN];
        uint8_t s2[KRB_DERIVED_KEY_LEN], e2[KRB_DERIVED_KEY_LEN];
        if ((rc = read_file_bounded(argv[4], KRB_MAX_KEY, &key, &key_len, &e)) != MSGSEC_OK ||
            (rc = krb_derive_keys(acc.key, acc.key_len, s1, e1, &e)) != MSGSEC_OK ||
            (rc = krb_derive_keys(key, key_len, s2, e2, &e)) != MSGSEC_OK) {
            krb_accepted_clear(&acc);
            free(key);
            return fail(&e);
        }
        int equal = key_len == acc.key_len && ct_equal(key, acc.key, key_len);
        printf("key=%s\n", equal ? "equal" : "different");
        printf("derived=%s\n", ct_equal(s1, s2, sizeof s1) && ct_equal(e1, e2, sizeof e1) &&
                                       !ct_equal(s1, e1, sizeof s1)
                                   ? "equal"
                                   : "different");
        msgsec_free_secret(key, key_len);
        OPENSSL_cleanse(s1, sizeof s1);
        OPENSSL_cleanse(s2, sizeof s2);
        OPENSSL_cleanse(e1, sizeof e1);
        OPENSSL_cleanse(e2, sizeof e2);
    }
    rc = krb_ticket_rule(created ? created : time(NULL), acc.ticket_end, time(NULL),
                         atol(argv[3]), &e);
    krb_accepted_clear(&acc);
    return rc == MSGSEC_OK ? 0 : fail(&e);
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "init") == 0)
        return cmd_init(argv + 2);
    if ((argc == 6 || argc == 7) && strcmp(argv[1], "accept") == 0)
        return cmd_accept(argc - 2, argv + 2);
    fprintf(stderr, "usage: krb_probe init|accept ARGS (see the source header)\n");
    return MSGSEC_E_USAGE;
}
