/* test_receiver.c - msgsec_unwrap / msgsec_verify / context / inspect:
 * round trips with msgsec_wrap (RSA, ECDSA, none, XML payload), the
 * security context (and what it says was verified), and every trust, freshness, addressing and replay
 * failure with its exact class. Needs $MSGSEC_PKI. */
#include <time.h>
#include <unistd.h>

#include "recv_test_util.h"
#include "passwd.h"
#include "saml.h"

static void round_trip(const char *client, const char *payload, const char *content_type,
                       msgsec_credential cred)
{
    msgsec_sender *s = sender_for(client);
    char *env = wrap_with(s, payload, content_type, 0);
    msgsec_receiver *r = receiver_with(NULL);
    msgsec_context *ctx = unwrap_ok(r, env, payload);
    assert_int_equal(msgsec_context_credential(ctx), cred);
    assert_string_equal(msgsec_context_to(ctx), TEST_TO);
    assert_string_equal(msgsec_context_action(ctx), "urn:msgsec:message");
    assert_non_null(strstr(msgsec_context_message_id(ctx), "urn:uuid:"));
    assert_non_null(msgsec_context_created(ctx));
    assert_non_null(msgsec_context_expires(ctx));
    assert_string_equal(msgsec_context_content_type(ctx),
                        content_type ? content_type : "application/octet-stream");
    msgsec_context_free(ctx);
    msgsec_receiver_free(r);
    msgsec_sender_free(s);
    free(env);
}

static void test_round_trip_rsa(void **state)
{
    (void)state;
    round_trip("client-rsa", "hello \x01\x02 binary", NULL, MSGSEC_CRED_CERTIFICATE);
}

static void test_round_trip_ecdsa(void **state)
{
    (void)state;
    round_trip("client-ec", "ecdsa payload", "text/plain", MSGSEC_CRED_CERTIFICATE);
}

static void test_round_trip_none(void **state)
{
    (void)state;
    round_trip(NULL, "anonymous payload", NULL, MSGSEC_CRED_NONE);
}

static void test_round_trip_xml_payload(void **state)
{
    (void)state;
    round_trip("client-rsa", "<order xmlns=\"urn:o\"><id>42</id></order>", "application/xml",
               MSGSEC_CRED_CERTIFICATE);
}

/* The deepest XML payload msgsec_wrap takes (XML_MAX_DEPTH within the Body)
 * is also what the receiver takes back into the Body. */
static void test_round_trip_deepest_xml_payload(void **state)
{
    (void)state;
    int n = XML_MAX_DEPTH - XML_BODY_DEPTH;
    strbuf sb;
    sb_init(&sb, 1024, 0);
    for (int i = 0; i < n; i++)
        sb_puts(&sb, "<d>");
    for (int i = 0; i < n; i++)
        sb_puts(&sb, "</d>");
    char *doc = sb_steal(&sb, NULL);
    round_trip("client-rsa", doc, "application/xml", MSGSEC_CRED_CERTIFICATE);
    free(doc);
}

static void test_context_json(void **state)
{
    (void)state;
    char *env = wrap_as("client-rsa", "x");
    msgsec_receiver *r = receiver_with(NULL);
    msgsec_context *ctx = NULL;
    msgsec_error e;
    char *json = NULL;
    size_t der_len = 0;
    assert_int_equal(msgsec_verify(r, (const uint8_t *)env, strlen(env), &ctx, &e), MSGSEC_OK);
    assert_string_equal(msgsec_context_identity(ctx), "CN=shop1,O=Example");
    assert_string_equal(msgsec_context_issuer(ctx), "CN=msgsec Test CA,O=Example");
    assert_string_equal(msgsec_context_signature_algorithm(ctx), ALG_RSA_SHA256);
    assert_non_null(msgsec_context_signer_cert_der(ctx, &der_len));
    assert_true(der_len > 100);
    assert_int_equal(msgsec_context_json(ctx, &json, &e), MSGSEC_OK);
    const char *fields[] = {"\"credential_type\":\"certificate\"", "\"identity\":\"CN=shop1,O=Example\"",
                            "\"issuer\":\"CN=msgsec Test CA,O=Example\"", "\"claims\":{}",
                            "\"message_id\":\"urn:uuid:", "\"to\":\"" TEST_TO "\"",
                            "\"action\":\"urn:msgsec:message\"", "\"created\":\"20",
                            "\"expires\":\"20", "\"signature_algorithm\":\"" ALG_RSA_SHA256 "\""};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (!strstr(json, fields[i]))
            fail_msg("%s missing in %s", fields[i], json);
    msgsec_free(json);
    msgsec_context_free(ctx);
    msgsec_receiver_free(r);
    free(env);
}

static void test_context_json_escaping(void **state)
{
    (void)state;
    msgsec_context *ctx = context_new();
    char *json = NULL;
    assert_non_null(ctx);
    ctx->identity = strdup("CN=a\"b\\c\n\x01");
    assert_int_equal(context_add_claim(ctx, "role", "ad\"min"), 0);
    assert_int_equal(msgsec_context_json(ctx, &json, NULL), MSGSEC_OK);
    assert_non_null(strstr(json, "\"identity\":\"CN=a\\\"b\\\\c\\n\\u0001\""));
    assert_non_null(strstr(json, "\"claims\":{\"role\":\"ad\\\"min\"}"));
    assert_non_null(strstr(json, "\"issuer\":null"));
    msgsec_free(json);
    msgsec_context_free(ctx);
}

static void test_verify_only_receiver(void **state)
{
    (void)state;
    recv_setup rs = {.verify_only = 1};
    msgsec_receiver *r = receiver_with(&rs);
    msgsec_error e;
    char *cert = wrap_as("client-ec", "x"), *none = wrap_as(NULL, "y");
    assert_int_equal(verify_rc(r, cert, &e), MSGSEC_OK);
    /* none: structure only (no key to check the HMAC), never replay-recorded */
    assert_int_equal(verify_rc(r, none, &e), MSGSEC_OK);
    assert_int_equal(verify_rc(r, none, &e), MSGSEC_OK);
    assert_int_equal(unwrap_rc(r, cert, &e), MSGSEC_E_USAGE);
    /* a broker still refuses what it can see: a tampered certificate signature */
    char *bad = tamper_b64(cert, "<ds:Signature", "ds:SignatureValue");
    assert_int_equal(verify_rc(r, bad, &e), MSGSEC_E_AUTH);
    /* and the none message's algorithms */
    char *md5 = replace_first(none, "xmldsig-more#hmac-sha256", "xmldsig#hmac-sha1");
    assert_int_equal(verify_rc(r, md5, &e), MSGSEC_E_POLICY);
    free(md5);
    free(bad);
    free(cert);
    free(none);
    msgsec_receiver_free(r);
}

/* The context of a successful verify (or unwrap with a payload) of env,
 * with the scope and identity asserted (identity NULL = none); caller frees. */
static msgsec_context *checked_as(msgsec_receiver *r, const char *env, msgsec_verified want,
                                  const char *identity)
{
    msgsec_context *ctx = NULL;
    msgsec_error e;
    uint8_t *payload = NULL;
    size_t len = 0;
    msgsec_err rc = want == MSGSEC_VERIFIED_FULL
                        ? msgsec_unwrap(r, (const uint8_t *)env, strlen(env), &payload, &len, &ctx, &e)
                        : msgsec_verify(r, (const uint8_t *)env, strlen(env), &ctx, &e);
    if (rc != MSGSEC_OK)
        fail_msg("receive: %s", e.detail);
    msgsec_free_secret(payload, len);
    assert_int_equal(msgsec_context_verified(ctx), want);
    if (identity) {
        assert_string_equal(msgsec_context_identity(ctx), identity);
    } else {
        assert_null(msgsec_context_identity(ctx));
        assert_null(msgsec_context_issuer(ctx));
    }
    return ctx;
}

/* What msgsec_verify / msgsec_unwrap say they checked, in the API and the
 * JSON: full (unwrap), signer (a broker checked a certificate signature),
 * structure (a broker could not check the none credential's HMAC: no
 * identity, and a senders policy refuses it). */
static void test_context_verified(void **state)
{
    (void)state;
    recv_setup broker = {.verify_only = 1};
    msgsec_receiver *service = receiver_with(NULL), *verifier = receiver_with(&broker);
    char *cert = wrap_as("client-rsa", "x"), *none = wrap_as(NULL, "y"), *json = NULL;
    char *const any_shop[] = {"CN=*"};
    const msgsec_policy senders = {.senders = any_shop, .n_senders = 1};
    msgsec_error e;
    const struct {
        msgsec_receiver *r;
        const char *env;
        msgsec_verified want;
        const char *identity, *json;
    } cases[] = {
        {service, cert, MSGSEC_VERIFIED_FULL, "CN=shop1,O=Example",
         "\"credential_type\":\"certificate\",\"verified\":\"full\",\"identity\":\"CN=shop1"},
        {verifier, cert, MSGSEC_VERIFIED_SIGNER, "CN=shop1,O=Example",
         "\"verified\":\"signer\",\"identity\":\"CN=shop1"},
        {service, none, MSGSEC_VERIFIED_FULL, NULL, "\"verified\":\"full\",\"identity\":null"},
        {verifier, none, MSGSEC_VERIFIED_STRUCTURE, NULL,
         "\"credential_type\":\"none\",\"verified\":\"structure\",\"identity\":null,"
         "\"issuer\":null"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msgsec_context *ctx = checked_as(cases[i].r, cases[i].env, cases[i].want, cases[i].identity);
        assert_int_equal(msgsec_context_json(ctx, &json, &e), MSGSEC_OK);
        if (!strstr(json, cases[i].json))
            fail_msg("case %zu: %s missing in %s", i, cases[i].json, json);
        msgsec_free(json);
        msgsec_context_free(ctx);
    }
    assert_int_equal(msgsec_verify_with(verifier, &senders, (const uint8_t *)none, strlen(none),
                                        NULL, &e), MSGSEC_E_POLICY);
    assert_non_null(strstr(e.detail, MSGSEC_SENDER_REFUSED "'(no verifiable identity)'"));
    assert_string_equal(msgsec_verified_name(MSGSEC_VERIFIED_STRUCTURE), "structure");
    assert_string_equal(msgsec_verified_name(MSGSEC_VERIFIED_SIGNER), "signer");
    assert_string_equal(msgsec_verified_name(MSGSEC_VERIFIED_FULL), "full");
    assert_null(msgsec_verified_name((msgsec_verified)3));
    free(cert);
    free(none);
    msgsec_receiver_free(service);
    msgsec_receiver_free(verifier);
}

static void test_accepted_credentials(void **state)
{
    (void)state;
    recv_setup rs = {.accepted = MSGSEC_CRED_BIT(MSGSEC_CRED_CERTIFICATE)};
    msgsec_receiver *r = receiver_with(&rs);
    msgsec_error e;
    char *none = wrap_as(NULL, "y");
    assert_int_equal(unwrap_rc(r, none, &e), MSGSEC_E_POLICY);
    assert_non_null(strstr(e.detail, "none"));
    free(none);
    msgsec_receiver_free(r);
}

static void test_to_mismatch(void **state)
{
    (void)state;
    recv_setup rs = {.expected_to = "urn:example:billing"};
    msgsec_receiver *r = receiver_with(&rs);
    msgsec_error e;
    char *env = wrap_as("client-rsa", "x");
    assert_int_equal(unwrap_rc(r, env, &e), MSGSEC_E_POLICY);
    assert_non_null(strstr(e.detail, "wsa:To"));
    assert_int_equal(verify_rc(r, env, &e), MSGSEC_E_POLICY);
    free(env);
    msgsec_receiver_free(r);
}

static void test_freshness(void **state)
{
    (void)state;
    time_t now = time(NULL);
    msgsec_receiver *r = receiver_with(NULL);
    msgsec_error e;
    char *env = wrap_as("client-rsa", "x");
    msgsec_receiver_set_time(r, now + 2 * 86400); /* past Expires (TTL one day) */
    assert_int_equal(unwrap_rc(r, env, &e), MSGSEC_E_EXPIRED);
    msgsec_receiver_set_time(r, 0);
    /* sender clock an hour ahead: created in the future */
    msgsec_sender *s = sender_for("client-rsa");
    char *ahead = wrap_with(s, "x", NULL, now + 3600);
    assert_int_equal(unwrap_rc(r, ahead, &e), MSGSEC_E_EXPIRED);
    assert_non_null(strstr(e.detail, "future"));
    free(ahead);
    /* ahead by less than the clock skew (300 s): fine */
    char *skewed = wrap_with(s, "x", NULL, now + 200);
    assert_int_equal(unwrap_rc(r, skewed, &e), MSGSEC_OK);
    free(skewed);
    /* sender clock three days behind: older than max_age */
    char *old = wrap_with(s, "x", NULL, now - 3 * 86400);
    assert_int_equal(unwrap_rc(r, old, &e), MSGSEC_E_EXPIRED);
    msgsec_sender_free(s);
    free(old);
    free(env);
    msgsec_receiver_free(r);
}

static void test_expired_certificate(void **state)
{
    (void)state;
    char *env = wrap_as("expired", "x");
    assert_unwrap_class(env, MSGSEC_E_EXPIRED);
    free(env);
}

static void test_revoked_certificate(void **state)
{
    (void)state;
    recv_setup rs = {.with_crl = 1};
    msgsec_receiver *r = receiver_with(&rs);
    msgsec_error e;
    char *revoked = wrap_as("revoked", "x"), *good = wrap_as("client-rsa", "x");
    assert_int_equal(unwrap_rc(r, revoked, &e), MSGSEC_E_AUTH);
    assert_non_null(strstr(e.detail, "revoked"));
    assert_int_equal(unwrap_rc(r, good, &e), MSGSEC_OK);
    free(revoked);
    free(good);
    msgsec_receiver_free(r);
    /* without the CRL configured the same certificate is trusted */
    char *again = wrap_as("revoked", "x");
    assert_unwrap_class(again, MSGSEC_OK);
    free(again);
}

static void test_attacker_certificates(void **state)
{
    (void)state;
    char *env = wrap_as("client-rsa", "x");
    /* an attacker re-signs a captured message with their own key and certificate */
    char *self = resign(env, pki("selfsigned.key"), pki("selfsigned.pem"));
    assert_unwrap_class(self, MSGSEC_E_AUTH);
    char *rogue = resign(env, pki("rogue.key"), pki("rogue.pem"));
    assert_unwrap_class(rogue, MSGSEC_E_AUTH);
    /* re-signing with the right key reproduces a valid message (the helper works) */
    char *same = resign(env, pki("client-rsa.key"), NULL);
    assert_unwrap_class(same, MSGSEC_OK);
    /* the real certificate in the BST, signed by another key */
    char *mixed = resign(env, pki("client3.key"), NULL);
    assert_unwrap_class(mixed, MSGSEC_E_AUTH);
    free(self);
    free(rogue);
    free(same);
    free(mixed);
    free(env);
}

static void test_other_service(void **state)
{
    (void)state;
    recv_setup rs = {.service = "other-service"};
    msgsec_receiver *r = receiver_with(&rs);
    msgsec_error e;
    char *cert = wrap_as("client-rsa", "x"), *none = wrap_as(NULL, "y");
    assert_int_equal(unwrap_rc(r, cert, &e), MSGSEC_E_DECRYPT);
    assert_non_null(strstr(e.detail, "not addressed"));
    assert_int_equal(unwrap_rc(r, none, &e), MSGSEC_E_DECRYPT);
    free(cert);
    free(none);
    msgsec_receiver_free(r);
}

static void test_replay_memory(void **state)
{
    (void)state;
    msgsec_receiver *r = receiver_with(NULL);
    msgsec_error e;
    char *env = wrap_as("client-rsa", "x"), *other = wrap_as("client-rsa", "x");
    assert_int_equal(unwrap_rc(r, env, &e), MSGSEC_OK);
    assert_int_equal(unwrap_rc(r, env, &e), MSGSEC_E_REPLAY);
    assert_int_equal(unwrap_rc(r, other, &e), MSGSEC_OK);
    /* a message that failed a check is not recorded */
    char *none = wrap_as(NULL, "y");
    msgsec_receiver_set_time(r, time(NULL) + 3 * 86400);
    assert_int_equal(unwrap_rc(r, none, &e), MSGSEC_E_EXPIRED);
    msgsec_receiver_set_time(r, 0);
    assert_int_equal(unwrap_rc(r, none, &e), MSGSEC_OK);
    assert_int_equal(unwrap_rc(r, none, &e), MSGSEC_E_REPLAY);
    free(none);
    free(env);
    free(other);
    msgsec_receiver_free(r);
}

static msgsec_err unwrap_deferred_rc(msgsec_receiver *r, const char *env, msgsec_context **ctx,
                                     msgsec_error *e)
{
    uint8_t *payload = NULL;
    size_t len = 0;
    memset(e, 0, sizeof *e);
    msgsec_err rc = msgsec_unwrap_deferred(r, (const uint8_t *)env, strlen(env), &payload, &len,
                                           ctx, e);
    if (rc != MSGSEC_OK)
        assert_null(payload);
    msgsec_free_secret(payload, len);
    return rc;
}

/* msgsec_unwrap_deferred looks the entry up and msgsec_replay_commit records
 * it: until then a copy (the broker's redelivery) is accepted again. */
static void deferred_replay(const char *replay_path)
{
    recv_setup rs = {.replay_path = replay_path};
    msgsec_receiver *r = receiver_with(&rs);
    msgsec_error e;
    msgsec_context *first = NULL, *again = NULL, *late = NULL, *plain = NULL;
    char *env = wrap_as("client-rsa", "x");
    assert_int_equal(unwrap_deferred_rc(r, env, &first, &e), MSGSEC_OK);
    assert_int_equal(unwrap_deferred_rc(r, env, &again, &e), MSGSEC_OK);
    if (replay_path) { /* a process that died before its commit recorded nothing */
        msgsec_receiver_free(r);
        r = receiver_with(&rs);
    }
    assert_int_equal(msgsec_replay_commit(r, first, &e), MSGSEC_OK);
    assert_int_equal(msgsec_replay_commit(r, first, &e), MSGSEC_E_USAGE);
    assert_int_equal(msgsec_replay_commit(r, again, &e), MSGSEC_E_REPLAY);
    assert_int_equal(unwrap_deferred_rc(r, env, &late, &e), MSGSEC_E_REPLAY);
    assert_null(late);
    assert_int_equal(unwrap_rc(r, env, &e), MSGSEC_E_REPLAY);
    /* a context from msgsec_unwrap has nothing to commit; the context is required */
    char *other = wrap_as("client-ec", "y");
    plain = unwrap_ok(r, other, "y");
    assert_int_equal(msgsec_replay_commit(r, plain, &e), MSGSEC_E_USAGE);
    assert_int_equal(msgsec_replay_commit(r, NULL, &e), MSGSEC_E_USAGE);
    uint8_t *payload = (uint8_t *)"not touched";
    size_t len = 1;
    assert_int_equal(msgsec_unwrap_deferred(r, (const uint8_t *)env, strlen(env), &payload, &len,
                                            NULL, &e), MSGSEC_E_USAGE);
    assert_null(payload);
    msgsec_context_free(first);
    msgsec_context_free(again);
    msgsec_context_free(plain);
    free(env);
    free(other);
    msgsec_receiver_free(r);
}

static void test_replay_deferred(void **state)
{
    (void)state;
    char dir[] = "/tmp/msgsec-replay-XXXXXX";
    assert_non_null(mkdtemp(dir));
    deferred_replay(NULL);
    deferred_replay(dir);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* Receivers of several threads (the bridge's workers) share one in-memory
 * replay cache: a message accepted by one is a replay at the other, also
 * once the first is freed; the cache and a replay_path exclude each other. */
static void test_replay_shared_receivers(void **state)
{
    (void)state;
    recv_setup first_setup = {.verify_only = 1};
    msgsec_receiver *first = receiver_with(&first_setup);
    recv_setup shared = {.replay_shared_with = first};
    msgsec_receiver *second = receiver_with(&shared);
    msgsec_error e;
    char *env = wrap_as("client-rsa", "x"), *next = wrap_as("client-rsa", "y");
    assert_int_equal(verify_rc(first, env, &e), MSGSEC_OK);
    assert_int_equal(unwrap_rc(second, env, &e), MSGSEC_E_REPLAY);
    msgsec_receiver_free(first);
    assert_int_equal(unwrap_rc(second, next, &e), MSGSEC_OK);
    assert_int_equal(unwrap_rc(second, next, &e), MSGSEC_E_REPLAY);
    /* a receiver of its own still accepts both once */
    msgsec_receiver *own = receiver_with(NULL);
    assert_int_equal(unwrap_rc(own, env, &e), MSGSEC_OK);
    msgsec_receiver_opts o;
    msgsec_receiver *r = NULL;
    memset(&o, 0, sizeof o);
    o.cert_file = pki("service.pem");
    o.replay_path = "/tmp/msgsec-replay-unused";
    o.replay_shared_with = own;
    assert_int_equal(msgsec_receiver_new(&o, &r, &e), MSGSEC_E_USAGE);
    assert_null(r);
    assert_non_null(strstr(e.detail, "replay_shared_with"));
    msgsec_receiver_free(own);
    msgsec_receiver_free(second);
    free(env);
    free(next);
}

/* DER of a test PKI certificate (caller frees with OPENSSL_free). */
static unsigned char *cert_der(const char *name, size_t *len)
{
    FILE *f = fopen(pki(name), "r");
    assert_non_null(f);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(x);
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    X509_free(x);
    assert_true(n > 0);
    *len = (size_t)n;
    return der;
}

static msgsec_err verify_with_rc(msgsec_receiver *r, const msgsec_policy *p, const char *env,
                                 msgsec_error *e)
{
    memset(e, 0, sizeof *e);
    return msgsec_verify_with(r, p, (const uint8_t *)env, strlen(env), NULL, e);
}

/* A route's senders and a broker's TLS binding refuse a message before it
 * uses up its replay entry (and, for unwrap, before decryption), so a copy
 * refused on one route stays acceptable once on a route that allows it. */
static void test_policy_before_replay(void **state)
{
    (void)state;
    msgsec_receiver *r = receiver_with(NULL);
    msgsec_error e;
    char *env = wrap_as("client-rsa", "x");
    char *const shops[] = {"CN=shop*"}, *const others[] = {"CN=other*"};
    msgsec_policy only_others = {.senders = others, .n_senders = 1};
    assert_int_equal(verify_with_rc(r, &only_others, env, &e), MSGSEC_E_POLICY);
    assert_int_equal(strncmp(e.detail, MSGSEC_SENDER_REFUSED, strlen(MSGSEC_SENDER_REFUSED)), 0);
    assert_non_null(strstr(e.detail, "CN=shop1"));
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    assert_int_equal(msgsec_unwrap_with(r, &only_others, (const uint8_t *)env, strlen(env), &plain,
                                        &plain_len, NULL, &e), MSGSEC_E_POLICY);
    assert_null(plain);
    /* the TLS binding: another certificate than the signer's */
    size_t other_len, own_len;
    unsigned char *other = cert_der("client-ec.pem", &other_len);
    unsigned char *own = cert_der("client-rsa.pem", &own_len);
    msgsec_policy bound_other = {.senders = shops, .n_senders = 1, .signer_der = other,
                                 .signer_der_len = other_len};
    assert_int_equal(verify_with_rc(r, &bound_other, env, &e), MSGSEC_E_POLICY);
    assert_non_null(strstr(e.detail, "required certificate"));
    /* none of that used up the replay entry */
    msgsec_policy bound_own = {.senders = shops, .n_senders = 1, .signer_der = own,
                               .signer_der_len = own_len};
    assert_int_equal(verify_with_rc(r, &bound_own, env, &e), MSGSEC_OK);
    assert_int_equal(verify_with_rc(r, &bound_own, env, &e), MSGSEC_E_REPLAY);
    /* no verifiable identity (a symmetric credential at a broker) meets no senders list */
    recv_setup rs = {.verify_only = 1};
    msgsec_receiver *broker = receiver_with(&rs);
    char *none = wrap_as(NULL, "y");
    assert_int_equal(verify_with_rc(broker, &only_others, none, &e), MSGSEC_E_POLICY);
    assert_non_null(strstr(e.detail, "no verifiable identity"));
    msgsec_policy anyone = {0};
    assert_int_equal(verify_with_rc(broker, &anyone, none, &e), MSGSEC_OK);
    OPENSSL_free(other);
    OPENSSL_free(own);
    free(none);
    free(env);
    msgsec_receiver_free(broker);
    msgsec_receiver_free(r);
}

static void test_replay_lmdb_survives_reopen(void **state)
{
    (void)state;
    char dir[] = "/tmp/msgsec-replay-XXXXXX";
    assert_non_null(mkdtemp(dir));
    recv_setup rs = {.replay_path = dir};
    msgsec_receiver *r = receiver_with(&rs);
    msgsec_error e;
    char *env = wrap_as("client-ec", "x");
    assert_int_equal(unwrap_rc(r, env, &e), MSGSEC_OK);
    assert_int_equal(unwrap_rc(r, env, &e), MSGSEC_E_REPLAY);
    msgsec_receiver_free(r);
    r = receiver_with(&rs); /* as after a restart */
    assert_int_equal(unwrap_rc(r, env, &e), MSGSEC_E_REPLAY);
    /* two receivers on one store in one process (bridge workers) share it */
    msgsec_receiver *r2 = receiver_with(&rs);
    char *next = wrap_as("client-ec", "y");
    assert_int_equal(unwrap_rc(r2, next, &e), MSGSEC_OK);
    assert_int_equal(unwrap_rc(r, next, &e), MSGSEC_E_REPLAY);
    msgsec_receiver_free(r2);
    msgsec_receiver_free(r);
    free(env);
    free(next);
    remove_tree(dir);
}

/* A persistent store filled to its limit (replay_max_bytes) refuses new
 * messages with a transient class 1 naming the setting, records nothing, and
 * accepts them once entries have expired. */
static void test_replay_store_full(void **state)
{
    (void)state;
    char dir[] = "/tmp/msgsec-replay-XXXXXX";
    assert_non_null(mkdtemp(dir));
    recv_setup rs = {.replay_path = dir, .replay_max_bytes = MSGSEC_REPLAY_MIN_BYTES};
    msgsec_receiver *r = receiver_with(&rs);
    time_t now = time(NULL);
    msgsec_receiver_set_time(r, now);
    /* other messages, accepted for the next hour, fill the store (the same
       directory and size in one process: one store) */
    replay_store *filler = NULL;
    assert_int_equal(replay_open(dir, MSGSEC_REPLAY_MIN_BYTES, &filler, NULL), MSGSEC_OK);
    for (size_t i = 0; i < MSGSEC_REPLAY_MIN_BYTES / REPLAY_BYTES_PER_ENTRY; i++) {
        uint8_t key[REPLAY_KEY_LEN];
        char id[32];
        snprintf(id, sizeof id, "earlier-%zu", i);
        SHA256((const uint8_t *)id, strlen(id), key);
        assert_int_equal(replay_check_and_insert(filler, key, now + 3600, now, NULL), MSGSEC_OK);
    }
    char *env = wrap_as("client-rsa", "after the store filled up");
    msgsec_error e;
    assert_int_equal(unwrap_rc(r, env, &e), MSGSEC_E_INTERNAL);
    assert_int_equal(e.transient, 1);
    assert_non_null(strstr(e.detail, "is full"));
    assert_non_null(strstr(e.detail, "replay.max_bytes / --replay-max-bytes"));
    assert_int_equal(verify_rc(r, env, &e), MSGSEC_E_INTERNAL); /* verify too: it records */
    assert_int_equal(e.transient, 1);
    /* nothing recorded: once the others expired, it is accepted, once */
    msgsec_receiver_set_time(r, now + 3601);
    msgsec_context_free(unwrap_ok(r, env, "after the store filled up"));
    assert_int_equal(unwrap_rc(r, env, &e), MSGSEC_E_REPLAY);
    assert_int_equal(e.transient, 0);
    replay_close(filler);
    msgsec_receiver_free(r);
    free(env);
    remove_tree(dir);
}

static void test_inspect(void **state)
{
    (void)state;
    char *env = wrap_as("client-ec", "x"), *json = NULL;
    msgsec_error e;
    assert_int_equal(msgsec_inspect((const uint8_t *)env, strlen(env), 0, &json, &e), MSGSEC_OK);
    const char *fields[] = {"\"verified\":false", "\"credential_type\":\"certificate\"",
                            "\"signer\":\"CN=shop2,O=Example\"", "\"to\":\"" TEST_TO "\"",
                            "\"signature_algorithm\":\"" ALG_ECDSA_SHA256 "\"",
                            "\"content_encryption\":\"" ALG_AES256_GCM "\"",
                            "\"key_transport\":\"" ALG_RSA_OAEP_MGF1P "\"",
                            "\"body_encrypted\":true", "\"ciphertext_bytes\":29"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (!strstr(json, fields[i]))
            fail_msg("%s missing in %s", fields[i], json);
    assert_null(strstr(json, "\"x\""));
    msgsec_free(json);
    assert_int_equal(msgsec_inspect((const uint8_t *)"<a/>", 4, 0, &json, &e), MSGSEC_E_MALFORMED);
    assert_int_equal(msgsec_inspect((const uint8_t *)env, strlen(env), 100, &json, &e),
                     MSGSEC_E_MALFORMED);
    free(env);
}

/* An assertion from the test STS (holder-of-key: client-rsa) in a temp file. */
static char *issue_token(const char *audience, char *path, size_t path_size)
{
    EVP_PKEY *sts_key = NULL;
    X509 *sts = NULL, *holder = NULL;
    char *xml = NULL;
    size_t len = 0;
    saml_attr attrs[] = {{"role", "buyer"}};
    assert_int_equal(load_private_key(pki("sts.key"), &sts_key, NULL), 0);
    assert_int_equal(load_cert(pki("sts.pem"), &sts, NULL), 0);
    assert_int_equal(load_cert(pki("client-rsa.pem"), &holder, NULL), 0);
    saml_issue_params p = {.sts_key = sts_key, .sts_cert = sts, .subject = "alice",
                           .audience = audience, .subject_cert = holder, .attrs = attrs,
                           .n_attrs = 1};
    assert_int_equal(saml_issue(&p, &xml, &len, NULL), 0);
    snprintf(path, path_size, "/tmp/msgsec-token-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, xml, len), (ssize_t)len);
    close(fd);
    free(xml);
    EVP_PKEY_free(sts_key);
    X509_free(sts);
    X509_free(holder);
    return path;
}

static char *wrap_issued(const char *token_path)
{
    char cert[512], key[512];
    msgsec_sender_opts o = {.credential = MSGSEC_CRED_ISSUED, .cert_file = cert, .key_file = key,
                            .token_file = token_path};
    msgsec_sender *s = NULL;
    msgsec_error e;
    snprintf(cert, sizeof cert, "%s", pki("client-rsa.pem"));
    snprintf(key, sizeof key, "%s", pki("client-rsa.key"));
    o.service_cert_file = pki("service.pem");
    if (msgsec_sender_new(&o, &s, &e) != MSGSEC_OK)
        fail_msg("sender issued: %s", e.detail);
    char *env = wrap_with(s, "issued payload", NULL, 0);
    msgsec_sender_free(s);
    return env;
}

static msgsec_receiver *issued_receiver(const char *issuer, int verify_only)
{
    const char *cas[] = {pki("ca.pem")}, *issuers[] = {issuer};
    char cert[512], key[512];
    snprintf(cert, sizeof cert, "%s", pki("service.pem"));
    snprintf(key, sizeof key, "%s", pki("service.key"));
    msgsec_receiver_opts o = {.cert_file = cert, .key_file = verify_only ? NULL : key,
                              .ca_files = cas, .n_ca_files = 1, .issuer_files = issuers,
                              .n_issuer_files = issuer ? 1 : 0, .expected_to = TEST_TO};
    msgsec_receiver *r = NULL;
    msgsec_error e;
    if (msgsec_receiver_new(&o, &r, &e) != MSGSEC_OK)
        fail_msg("receiver: %s", e.detail);
    return r;
}

static void test_issued_credential(void **state)
{
    (void)state;
    char path[64], other[64];
    char *env = wrap_issued(issue_token(TEST_TO, path, sizeof path));
    msgsec_receiver *r = issued_receiver(pki("sts.pem"), 0);
    msgsec_error e;
    const char *key, *value;
    msgsec_context *ctx = unwrap_ok(r, env, "issued payload");
    assert_int_equal(msgsec_context_credential(ctx), MSGSEC_CRED_ISSUED);
    assert_string_equal(msgsec_context_identity(ctx), "alice");
    assert_non_null(strstr(msgsec_context_issuer(ctx), "msgsec-sts"));
    assert_int_equal(msgsec_context_claim_count(ctx), 1);
    msgsec_context_claim(ctx, 0, &key, &value);
    assert_string_equal(key, "role");
    assert_string_equal(value, "buyer");
    msgsec_context_free(ctx);
    msgsec_receiver_free(r);
    /* a broker checks issuer, conditions and the message signature too */
    r = issued_receiver(pki("sts.pem"), 1);
    msgsec_context_free(checked_as(r, env, MSGSEC_VERIFIED_SIGNER, "alice"));
    msgsec_receiver_free(r);
    /* no trusted issuer, or the wrong one: 4 */
    r = issued_receiver(NULL, 0);
    assert_int_equal(unwrap_rc(r, env, &e), MSGSEC_E_AUTH);
    msgsec_receiver_free(r);
    r = issued_receiver(pki("ca.pem"), 0);
    assert_int_equal(unwrap_rc(r, env, &e), MSGSEC_E_AUTH);
    msgsec_receiver_free(r);
    /* an assertion for another audience: 8 */
    char *elsewhere = wrap_issued(issue_token("urn:example:billing", other, sizeof other));
    r = issued_receiver(pki("sts.pem"), 0);
    assert_int_equal(unwrap_rc(r, elsewhere, &e), MSGSEC_E_POLICY);
    /* the message signed by someone else than the holder: 4 */
    char *resigned = resign(env, pki("client3.key"), NULL);
    assert_int_equal(unwrap_rc(r, resigned, &e), MSGSEC_E_AUTH);
    msgsec_receiver_free(r);
    unlink(path);
    unlink(other);
    free(resigned);
    free(elsewhere);
    free(env);
}

static char *wrap_username(const char *user, const char *password)
{
    msgsec_sender_opts o = {.credential = MSGSEC_CRED_USERNAME, .username = user,
                            .password = password};
    msgsec_sender *s = NULL;
    msgsec_error e;
    o.service_cert_file = pki("service.pem");
    if (msgsec_sender_new(&o, &s, &e) != MSGSEC_OK)
        fail_msg("sender username: %s", e.detail);
    char *env = wrap_with(s, "username payload", NULL, 0);
    msgsec_sender_free(s);
    return env;
}

static msgsec_receiver *username_receiver(const char *users, int verify_only)
{
    char cert[512], key[512];
    snprintf(cert, sizeof cert, "%s", pki("service.pem"));
    snprintf(key, sizeof key, "%s", pki("service.key"));
    msgsec_receiver_opts o = {.cert_file = cert, .key_file = verify_only ? NULL : key,
                              .users_file = users, .expected_to = TEST_TO};
    msgsec_receiver *r = NULL;
    msgsec_error e;
    if (msgsec_receiver_new(&o, &r, &e) != MSGSEC_OK)
        fail_msg("receiver: %s", e.detail);
    return r;
}

static void test_username_credential(void **state)
{
    (void)state;
    char dir[] = "/tmp/msgsec-users-XXXXXX", users[64];
    assert_non_null(mkdtemp(dir));
    snprintf(users, sizeof users, "%s/users", dir);
    assert_int_equal(passwd_set(users, "alice", "correct horse", NULL, NULL), MSGSEC_OK);
    char *good = wrap_username("alice", "correct horse"), *bad = wrap_username("alice", "wrong"),
         *nobody = wrap_username("mallory", "correct horse");
    assert_null(strstr(good, "correct horse")); /* the token travels encrypted */
    assert_null(strstr(good, "alice"));
    msgsec_receiver *r = username_receiver(users, 0);
    msgsec_error e;
    msgsec_context *ctx = unwrap_ok(r, good, "username payload");
    assert_int_equal(msgsec_context_credential(ctx), MSGSEC_CRED_USERNAME);
    assert_string_equal(msgsec_context_identity(ctx), "alice");
    assert_int_equal(msgsec_context_verified(ctx), MSGSEC_VERIFIED_FULL);
    msgsec_context_free(ctx);
    /* wrong password and unknown user: the same class (4) */
    assert_int_equal(unwrap_rc(r, bad, &e), MSGSEC_E_AUTH);
    assert_int_equal(unwrap_rc(r, nobody, &e), MSGSEC_E_AUTH);
    msgsec_receiver_free(r);
    /* no password store: 8; a broker: structure only (0) */
    r = username_receiver(NULL, 0);
    assert_int_equal(unwrap_rc(r, good, &e), MSGSEC_E_POLICY);
    msgsec_receiver_free(r);
    r = username_receiver(NULL, 1);
    msgsec_context_free(checked_as(r, good, MSGSEC_VERIFIED_STRUCTURE, NULL));
    msgsec_receiver_free(r);
    free(good);
    free(bad);
    free(nobody);
    unlink(users);
    rmdir(dir);
}

static void test_receiver_configuration_errors(void **state)
{
    (void)state;
    msgsec_receiver_opts o;
    msgsec_receiver *r = NULL;
    msgsec_error e;
    memset(&o, 0, sizeof o);
    o.cert_file = pki("service.pem");
    o.key_file = pki("client-rsa.key");
    assert_int_equal(msgsec_receiver_new(&o, &r, &e), MSGSEC_E_USAGE);
    assert_non_null(strstr(e.detail, "does not match"));
    o.key_file = pki("service.key");
    o.suite = "legacy-md5";
    assert_int_equal(msgsec_receiver_new(&o, &r, &e), MSGSEC_E_USAGE);
    o.suite = NULL;
    const char *bad_ca[] = {pki("nonexistent.pem")};
    o.ca_files = bad_ca;
    o.n_ca_files = 1;
    assert_int_equal(msgsec_receiver_new(&o, &r, &e), MSGSEC_E_USAGE);
    assert_null(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_rsa),
        cmocka_unit_test(test_round_trip_ecdsa),
        cmocka_unit_test(test_round_trip_none),
        cmocka_unit_test(test_round_trip_xml_payload),
        cmocka_unit_test(test_round_trip_deepest_xml_payload),
        cmocka_unit_test(test_context_json),
        cmocka_unit_test(test_context_json_escaping),
        cmocka_unit_test(test_verify_only_receiver),
        cmocka_unit_test(test_context_verified),
        cmocka_unit_test(test_accepted_credentials),
        cmocka_unit_test(test_to_mismatch),
        cmocka_unit_test(test_freshness),
        cmocka_unit_test(test_expired_certificate),
        cmocka_unit_test(test_revoked_certificate),
        cmocka_unit_test(test_attacker_certificates),
        cmocka_unit_test(test_policy_before_replay),
        cmocka_unit_test(test_other_service),
        cmocka_unit_test(test_replay_memory),
        cmocka_unit_test(test_replay_deferred),
        cmocka_unit_test(test_replay_shared_receivers),
        cmocka_unit_test(test_replay_lmdb_survives_reopen),
        cmocka_unit_test(test_replay_store_full),
        cmocka_unit_test(test_inspect),
        cmocka_unit_test(test_issued_credential),
        cmocka_unit_test(test_username_credential),
        cmocka_unit_test(test_receiver_configuration_errors),
    };
    return cmocka_run_group_tests(tests, test_global_setup, NULL);
}
