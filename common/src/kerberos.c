/* kerberos.c - the `windows` credential (Kerberos v5 through GSS-API, MIT krb5).
 *
 * The initiator uses GSS-API (gss_init_sec_context with the krb5 mech), so the
 * token is exactly what any GSS/SSPI peer produces. The acceptor does not use
 * gss_accept_sec_context: that call checks the ticket against the current time
 * with a context it creates itself, so a ticket that expired while the message
 * waited in a queue could never be accepted. Instead it strips the GSS framing
 * (RFC 4121 section 4.1) and runs krb5_rd_req on a krb5 context of its own
 * whose clock is set (krb5_set_real_time) to the message's Created time, then
 * leaves the queue-latency decision to krb_ticket_rule. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5/krb5.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>

#include "kerberos.h"

/* DER of the krb5 mechanism OID 1.2.840.113554.1.2.2 and the AP-REQ token id */
static const uint8_t krb5_mech_oid[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02};
static const uint8_t tok_id_ap_req[] = {0x01, 0x00};
/* authenticator checksum type of GSS-API tokens (RFC 4121 section 4.1.1) */
#define GSS_CHECKSUM_TYPE 0x8003

/* ------------------------------------------------------------------ initiator */

/* Appends the text of one GSS status code (all its messages) to sb. */
static void gss_status_text(strbuf *sb, OM_uint32 code, int type, gss_OID mech)
{
    OM_uint32 minor, ctx = 0;
    do {
        gss_buffer_desc msg = GSS_C_EMPTY_BUFFER;
        if (GSS_ERROR(gss_display_status(&minor, code, type, mech, &ctx, &msg)))
            return;
        if (sb->len)
            sb_puts(sb, ": ");
        sb_append(sb, msg.value, msg.length);
        gss_release_buffer(&minor, &msg);
    } while (ctx != 0);
}

static msgsec_err gss_fail(msgsec_error *err, msgsec_err code, const char *what,
                           OM_uint32 major, OM_uint32 minor)
{
    strbuf sb;
    sb_init(&sb, 128, MSGSEC_DETAIL_MAX);
    if (minor)
        gss_status_text(&sb, minor, GSS_C_MECH_CODE, (gss_OID)gss_mech_krb5);
    else
        gss_status_text(&sb, major, GSS_C_GSS_CODE, GSS_C_NO_OID);
    msgsec_seterr(err, code, "%s: %s", what, sb.data && sb.len ? sb.data : "GSS-API failure");
    sb_free(&sb, 0);
    return code;
}

msgsec_err krb_init(const char *service_principal, krb_initiated *out, msgsec_error *err)
{
    msgsec_err rc = MSGSEC_OK;
    OM_uint32 major, minor, lifetime = 0;
    gss_name_t target = GSS_C_NO_NAME;
    gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
    gss_buffer_desc name_buf, token = GSS_C_EMPTY_BUFFER;
    gss_buffer_set_t keys = GSS_C_NO_BUFFER_SET;

    memset(out, 0, sizeof *out);
    if (!service_principal || !*service_principal)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "windows credential needs a service principal");
    name_buf.value = (void *)service_principal;
    name_buf.length = strlen(service_principal);
    major = gss_import_name(&minor, &name_buf, (gss_OID)GSS_KRB5_NT_PRINCIPAL_NAME, &target);
    if (GSS_ERROR(major)) {
        rc = gss_fail(err, MSGSEC_E_USAGE, "bad service principal", major, minor);
        goto cleanup;
    }
    major = gss_init_sec_context(&minor, GSS_C_NO_CREDENTIAL, &ctx, target,
                                 (gss_OID)gss_mech_krb5, GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG, 0,
                                 GSS_C_NO_CHANNEL_BINDINGS, GSS_C_NO_BUFFER, NULL, &token, NULL,
                                 &lifetime);
    if (GSS_ERROR(major)) {
        rc = gss_fail(err, MSGSEC_E_USAGE, "cannot get a Kerberos ticket", major, minor);
        goto cleanup;
    }
    if (major != GSS_S_COMPLETE || token.length == 0) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "GSS-API context needs more than one token");
        goto cleanup;
    }
    major = gss_inquire_sec_context_by_oid(&minor, ctx, GSS_C_INQ_SSPI_SESSION_KEY, &keys);
    if (GSS_ERROR(major) || keys->count < 1 || keys->elements[0].length == 0 ||
        keys->elements[0].length > KRB_MAX_KEY) {
        rc = gss_fail(err, MSGSEC_E_INTERNAL, "cannot read the Kerberos session key", major,
                      minor);
        goto cleanup;
    }
    out->token = malloc(token.length);
    if (!out->token) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    memcpy(out->token, token.value, token.length);
    out->token_len = token.length;
    memcpy(out->key, keys->elements[0].value, keys->elements[0].length);
    out->key_len = keys->elements[0].length;
    out->ticket_end = time(NULL) + (time_t)lifetime;
cleanup:
    if (keys != GSS_C_NO_BUFFER_SET) {
        for (size_t i = 0; i < keys->count; i++)
            OPENSSL_cleanse(keys->elements[i].value, keys->elements[i].length);
        gss_release_buffer_set(&minor, &keys);
    }
    gss_release_buffer(&minor, &token);
    if (ctx != GSS_C_NO_CONTEXT)
        gss_delete_sec_context(&minor, &ctx, GSS_C_NO_BUFFER);
    gss_release_name(&minor, &target);
    if (rc != MSGSEC_OK)
        krb_initiated_clear(out);
    return rc;
}

void krb_initiated_clear(krb_initiated *in)
{
    free(in->token);
    OPENSSL_cleanse(in, sizeof *in);
}

/* ------------------------------------------------------------------- acceptor */

/* Reads a DER length at *p (short or long form, up to 4 bytes). -1 if bad. */
static int der_length(const uint8_t **p, const uint8_t *end, size_t *len)
{
    if (*p >= end)
        return -1;
    uint8_t first = *(*p)++;
    if (first < 0x80) {
        *len = first;
        return 0;
    }
    size_t n = first & 0x7f, v = 0;
    if (n == 0 || n > 4 || (size_t)(end - *p) < n)
        return -1;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | *(*p)++;
    *len = v;
    return 0;
}

/* Finds the AP-REQ inside a GSS initial context token:
 * [APPLICATION 0] { OID 1.2.840.113554.1.2.2, TOK_ID 01 00, AP-REQ }. */
static msgsec_err gss_unframe(const uint8_t *token, size_t len, krb5_data *ap_req,
                              msgsec_error *err)
{
    const uint8_t *p = token, *end = token + len;
    size_t body, oid_len;
    if (len > KRB_MAX_TOKEN)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "Kerberos token exceeds %d bytes",
                             KRB_MAX_TOKEN);
    if (len < 2 || *p++ != 0x60 || der_length(&p, end, &body) != 0 ||
        body != (size_t)(end - p))
        return msgsec_seterr(err, MSGSEC_E_MALFORMED,
                             "Kerberos token is not a GSS-API initial context token");
    if (end - p < 2 || *p++ != 0x06 || der_length(&p, end, &oid_len) != 0 ||
        oid_len != sizeof krb5_mech_oid || (size_t)(end - p) < oid_len + sizeof tok_id_ap_req ||
        memcmp(p, krb5_mech_oid, oid_len) != 0)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "GSS-API token is not for the krb5 mechanism");
    p += oid_len;
    if (memcmp(p, tok_id_ap_req, sizeof tok_id_ap_req) != 0)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "GSS-API krb5 token is not an AP-REQ");
    p += sizeof tok_id_ap_req;
    ap_req->magic = KV5M_DATA;
    ap_req->data = (char *)p;
    ap_req->length = (unsigned int)(end - p);
    return MSGSEC_OK;
}

msgsec_err krb_token_check(const uint8_t *token, size_t token_len, msgsec_error *err)
{
    krb5_data ap_req = {0}; /* set by gss_unframe on success; zeroed for -O3's flow analysis */
    msgsec_err rc = gss_unframe(token, token_len, &ap_req, err);
    /* an AP-REQ is [APPLICATION 14] */
    if (rc == MSGSEC_OK && (ap_req.length < 2 || (uint8_t)ap_req.data[0] != 0x6e))
        rc = msgsec_seterr(err, MSGSEC_E_MALFORMED, "Kerberos token does not hold an AP-REQ");
    return rc;
}

/* Error class of a krb5_rd_req failure (see krb_accept in kerberos.h). */
static msgsec_err rd_req_class(krb5_error_code code)
{
    switch (code) {
    case KRB5KRB_AP_ERR_TKT_EXPIRED:
    case KRB5KRB_AP_ERR_TKT_NYV:
        return MSGSEC_E_EXPIRED;
    case KRB5_KT_NOTFOUND:
    case KRB5KRB_AP_WRONG_PRINC:
    case KRB5KRB_AP_ERR_NOT_US:
        return MSGSEC_E_DECRYPT;
    case KRB5_KT_END:
    case KRB5_KT_BADNAME:
    case ENOENT:
    case EACCES:
        return MSGSEC_E_USAGE;
    case KRB5KRB_AP_ERR_BADVERSION:
    case KRB5KRB_AP_ERR_MSG_TYPE:
    case KRB5KDC_ERR_BAD_PVNO:
    case ASN1_BAD_ID:
    case ASN1_BAD_LENGTH:
    case ASN1_BAD_FORMAT:
    case ASN1_OVERRUN:
    case ASN1_MISSING_FIELD:
    case ASN1_PARSE_ERROR:
    case ASN1_BAD_TIMEFORMAT:
    case ASN1_MISPLACED_FIELD:
    case ASN1_TYPE_MISMATCH:
    case ASN1_BAD_GMTIME:
        return MSGSEC_E_MALFORMED;
    default:
        return MSGSEC_E_AUTH;
    }
}

static msgsec_err krb5_fail(msgsec_error *err, krb5_context kctx, krb5_error_code code,
                            msgsec_err cls, const char *what)
{
    const char *msg = krb5_get_error_message(kctx, code);
    msgsec_seterr(err, cls, "%s: %s", what, msg ? msg : "krb5 failure");
    krb5_free_error_message(kctx, msg);
    return cls;
}

/* The keytab holds long-term service keys: refuse it when group or others
 * can read it, as for private keys. */
static msgsec_err check_keytab(const char *keytab, msgsec_error *err)
{
    int fd = open(keytab, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "cannot open keytab %s: %s", keytab,
                             strerror(errno));
    msgsec_err rc = check_private_key_mode(fd, keytab, err);
    close(fd);
    return rc;
}

msgsec_err krb_accept(const char *keytab, const uint8_t *token, size_t token_len,
                      time_t at_time, krb_accepted *out, msgsec_error *err)
{
    msgsec_err rc;
    krb5_error_code kret;
    krb5_context kctx = NULL;
    krb5_auth_context ac = NULL;
    krb5_keytab kt = NULL;
    krb5_ticket *ticket = NULL;
    krb5_authenticator *authent = NULL;
    krb5_keyblock *subkey = NULL;
    krb5_data ap_req;
    char *ktname = NULL;
    char *client = NULL, *service = NULL;

    memset(out, 0, sizeof *out);
    if ((rc = gss_unframe(token, token_len, &ap_req, err)) != MSGSEC_OK)
        return rc;
    if (!keytab || !*keytab)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "windows credential needs a keytab");
    if ((rc = check_keytab(keytab, err)) != MSGSEC_OK)
        return rc;
    if ((kret = krb5_init_context(&kctx)) != 0)
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "cannot initialise krb5 (%d)", (int)kret);
    if (at_time != 0 && (kret = krb5_set_real_time(kctx, (krb5_timestamp)at_time, 0)) != 0) {
        rc = krb5_fail(err, kctx, kret, MSGSEC_E_INTERNAL, "cannot set the krb5 clock");
        goto cleanup;
    }
    ktname = malloc(strlen(keytab) + sizeof "FILE:");
    if (!ktname) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    strcpy(ktname, "FILE:");
    strcat(ktname, keytab);
    if ((kret = krb5_kt_resolve(kctx, ktname, &kt)) != 0) {
        rc = krb5_fail(err, kctx, kret, MSGSEC_E_USAGE, "cannot open keytab");
        goto cleanup;
    }
    /* no flags: no replay cache (msgsec de-duplicates by MessageID), no
     * sequence numbers; timestamps are still checked against the clock */
    if ((kret = krb5_auth_con_init(kctx, &ac)) != 0 ||
        (kret = krb5_auth_con_setflags(kctx, ac, 0)) != 0) {
        rc = krb5_fail(err, kctx, kret, MSGSEC_E_INTERNAL, "krb5 auth context");
        goto cleanup;
    }
    kret = krb5_rd_req(kctx, &ac, &ap_req, NULL, kt, NULL, &ticket);
    if (kret != 0) {
        rc = krb5_fail(err, kctx, kret, rd_req_class(kret), "Kerberos ticket refused");
        goto cleanup;
    }
    if ((kret = krb5_auth_con_getauthenticator(kctx, ac, &authent)) != 0) {
        rc = krb5_fail(err, kctx, kret, MSGSEC_E_INTERNAL, "krb5 authenticator");
        goto cleanup;
    }
    if (!authent->checksum || authent->checksum->checksum_type != GSS_CHECKSUM_TYPE) {
        rc = msgsec_seterr(err, MSGSEC_E_MALFORMED,
                           "Kerberos AP-REQ does not carry a GSS-API authenticator checksum");
        goto cleanup;
    }
    if ((kret = krb5_auth_con_getrecvsubkey(kctx, ac, &subkey)) != 0) {
        rc = krb5_fail(err, kctx, kret, MSGSEC_E_INTERNAL, "krb5 subkey");
        goto cleanup;
    }
    const krb5_keyblock *key = subkey ? subkey : ticket->enc_part2->session;
    if (key->length == 0 || key->length > KRB_MAX_KEY) {
        rc = msgsec_seterr(err, MSGSEC_E_AUTH, "Kerberos session key has an unsupported length");
        goto cleanup;
    }
    if ((kret = krb5_unparse_name(kctx, ticket->enc_part2->client, &client)) != 0 ||
        (kret = krb5_unparse_name(kctx, ticket->server, &service)) != 0) {
        rc = krb5_fail(err, kctx, kret, MSGSEC_E_INTERNAL, "krb5 principal name");
        goto cleanup;
    }
    out->client = strdup(client);
    out->service = strdup(service);
    if (!out->client || !out->service) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    memcpy(out->key, key->contents, key->length);
    out->key_len = key->length;
    const krb5_ticket_times *times = &ticket->enc_part2->times;
    out->ticket_start = (time_t)(uint32_t)(times->starttime ? times->starttime : times->authtime);
    out->ticket_end = (time_t)(uint32_t)times->endtime;
    out->authenticator_time = (time_t)(uint32_t)authent->ctime;
    rc = MSGSEC_OK;
cleanup:
    if (rc != MSGSEC_OK)
        krb_accepted_clear(out);
    free(ktname);
    krb5_free_unparsed_name(kctx, client);
    krb5_free_unparsed_name(kctx, service);
    krb5_free_keyblock(kctx, subkey);
    krb5_free_authenticator(kctx, authent);
    krb5_free_ticket(kctx, ticket);
    if (ac)
        krb5_auth_con_free(kctx, ac);
    if (kt)
        krb5_kt_close(kctx, kt);
    krb5_free_context(kctx);
    return rc;
}

void krb_accepted_clear(krb_accepted *acc)
{
    free(acc->client);
    free(acc->service);
    OPENSSL_cleanse(acc, sizeof *acc);
}

/* ---------------------------------------------------------- rule and keys */

msgsec_err krb_ticket_rule(time_t created, time_t ticket_end, time_t now, long grace,
                           msgsec_error *err)
{
    if (now <= ticket_end)
        return MSGSEC_OK;
    if (created > ticket_end)
        return msgsec_seterr(err, MSGSEC_E_EXPIRED,
                             "Kerberos ticket had expired when the message was sent");
    if (grace > 0 && now - ticket_end <= (time_t)grace)
        return MSGSEC_OK;
    return msgsec_seterr(err, MSGSEC_E_EXPIRED,
                         "Kerberos ticket expired before the message was consumed");
}

static int hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const char *info, uint8_t *out,
                       size_t out_len)
{
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    size_t len = out_len;
    int ok = pctx && EVP_PKEY_derive_init(pctx) > 0 &&
             EVP_PKEY_CTX_set_hkdf_md(pctx, EVP_sha256()) > 0 &&
             EVP_PKEY_CTX_set1_hkdf_key(pctx, ikm, (int)ikm_len) > 0 &&
             EVP_PKEY_CTX_add1_hkdf_info(pctx, (const unsigned char *)info, (int)strlen(info)) > 0 &&
             EVP_PKEY_derive(pctx, out, &len) > 0 && len == out_len;
    EVP_PKEY_CTX_free(pctx);
    return ok ? 0 : -1;
}

msgsec_err krb_derive_keys(const uint8_t *session_key, size_t key_len,
                           uint8_t sign_key[KRB_DERIVED_KEY_LEN],
                           uint8_t enc_key[KRB_DERIVED_KEY_LEN], msgsec_error *err)
{
    if (key_len == 0 || key_len > KRB_MAX_KEY)
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "bad Kerberos session key length");
    if (hkdf_sha256(session_key, key_len, "msgsec kerberos signing key", sign_key,
                    KRB_DERIVED_KEY_LEN) != 0 ||
        hkdf_sha256(session_key, key_len, "msgsec kerberos encryption key", enc_key,
                    KRB_DERIVED_KEY_LEN) != 0) {
        OPENSSL_cleanse(sign_key, KRB_DERIVED_KEY_LEN);
        OPENSSL_cleanse(enc_key, KRB_DERIVED_KEY_LEN);
        return msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "HKDF-SHA256 failed");
    }
    return MSGSEC_OK;
}
