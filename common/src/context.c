/* context.c - the security context handed to the service (README, the
 * `msgsec` command: `--context`). */
#include <stdlib.h>
#include <string.h>

#include "context.h"

msgsec_context *context_new(void) { return calloc(1, sizeof(msgsec_context)); }

int context_add_claim(msgsec_context *ctx, const char *key, const char *value)
{
    char **keys = realloc(ctx->claim_keys, (ctx->n_claims + 1) * sizeof *keys);
    if (!keys)
        return -1;
    ctx->claim_keys = keys;
    char **values = realloc(ctx->claim_values, (ctx->n_claims + 1) * sizeof *values);
    if (!values)
        return -1;
    ctx->claim_values = values;
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return -1;
    }
    keys[ctx->n_claims] = k;
    values[ctx->n_claims] = v;
    ctx->n_claims++;
    return 0;
}

void msgsec_context_free(msgsec_context *ctx)
{
    if (!ctx)
        return;
    free(ctx->identity);
    free(ctx->issuer);
    free(ctx->message_id);
    free(ctx->to);
    free(ctx->action);
    free(ctx->content_type);
    free(ctx->created);
    free(ctx->expires);
    free(ctx->signature_algorithm);
    free(ctx->signer_der);
    for (size_t i = 0; i < ctx->n_claims; i++) {
        free(ctx->claim_keys[i]);
        free(ctx->claim_values[i]);
    }
    free(ctx->claim_keys);
    free(ctx->claim_values);
    free(ctx);
}

msgsec_credential msgsec_context_credential(const msgsec_context *ctx) { return ctx->credential; }
msgsec_verified msgsec_context_verified(const msgsec_context *ctx) { return ctx->verified; }

const char *msgsec_verified_name(msgsec_verified verified)
{
    static const char *const names[] = {
        [MSGSEC_VERIFIED_STRUCTURE] = "structure",
        [MSGSEC_VERIFIED_SIGNER] = "signer",
        [MSGSEC_VERIFIED_FULL] = "full",
    };
    return (unsigned)verified < sizeof names / sizeof names[0] ? names[verified] : NULL;
}
const char *msgsec_context_identity(const msgsec_context *ctx) { return ctx->identity; }
const char *msgsec_context_issuer(const msgsec_context *ctx) { return ctx->issuer; }
const char *msgsec_context_message_id(const msgsec_context *ctx) { return ctx->message_id; }
const char *msgsec_context_to(const msgsec_context *ctx) { return ctx->to; }
const char *msgsec_context_action(const msgsec_context *ctx) { return ctx->action; }
const char *msgsec_context_content_type(const msgsec_context *ctx) { return ctx->content_type; }
const char *msgsec_context_created(const msgsec_context *ctx) { return ctx->created; }
const char *msgsec_context_expires(const msgsec_context *ctx) { return ctx->expires; }
const char *msgsec_context_signature_algorithm(const msgsec_context *ctx)
{
    return ctx->signature_algorithm;
}

const uint8_t *msgsec_context_signer_cert_der(const msgsec_context *ctx, size_t *len)
{
    if (len)
        *len = ctx->signer_der_len;
    return ctx->signer_der;
}

size_t msgsec_context_claim_count(const msgsec_context *ctx) { return ctx->n_claims; }

void msgsec_context_claim(const msgsec_context *ctx, size_t index, const char **key,
                          const char **value)
{
    *key = index < ctx->n_claims ? ctx->claim_keys[index] : NULL;
    *value = index < ctx->n_claims ? ctx->claim_values[index] : NULL;
}

/* JSON string or null; escapes per RFC 8259 (control characters as \u00XX). */
void json_put_string(strbuf *sb, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    if (!s) {
        sb_puts(sb, "null");
        return;
    }
    sb_puts(sb, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': sb_puts(sb, "\\\""); break;
        case '\\': sb_puts(sb, "\\\\"); break;
        case '\n': sb_puts(sb, "\\n"); break;
        case '\r': sb_puts(sb, "\\r"); break;
        case '\t': sb_puts(sb, "\\t"); break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                char esc[7] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15], 0};
                sb_puts(sb, esc);
            } else {
                sb_append(sb, p, 1);
            }
        }
    }
    sb_puts(sb, "\"");
}

void json_put_field(strbuf *sb, const char *name, const char *value)
{
    sb_printf(sb, ",\"%s\":", name);
    json_put_string(sb, value);
}

msgsec_err msgsec_context_json(const msgsec_context *ctx, char **json, msgsec_error *err)
{
    strbuf sb;
    *json = NULL;
    if (!ctx)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "no security context");
    sb_init(&sb, 512, 0);
    sb_puts(&sb, "{\"credential_type\":");
    json_put_string(&sb, msgsec_credential_name(ctx->credential));
    json_put_field(&sb, "verified", msgsec_verified_name(ctx->verified));
    json_put_field(&sb, "identity", ctx->identity);
    json_put_field(&sb, "issuer", ctx->issuer);
    sb_puts(&sb, ",\"claims\":{");
    for (size_t i = 0; i < ctx->n_claims; i++) {
        if (i)
            sb_puts(&sb, ",");
        json_put_string(&sb, ctx->claim_keys[i]);
        sb_puts(&sb, ":");
        json_put_string(&sb, ctx->claim_values[i]);
    }
    sb_puts(&sb, "}");
    json_put_field(&sb, "message_id", ctx->message_id);
    json_put_field(&sb, "to", ctx->to);
    json_put_field(&sb, "action", ctx->action);
    json_put_field(&sb, "content_type", ctx->content_type);
    json_put_field(&sb, "created", ctx->created);
    json_put_field(&sb, "expires", ctx->expires);
    json_put_field(&sb, "signature_algorithm", ctx->signature_algorithm);
    sb_puts(&sb, "}\n");
    if (sb.failed) {
        sb_free(&sb, 0);
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    }
    *json = sb_steal(&sb, NULL);
    return MSGSEC_OK;
}
