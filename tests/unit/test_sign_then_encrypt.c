/* test_sign_then_encrypt.c - sign-then-encrypt input (as WSS4J sends it):
 * the Signature covers the plaintext Body, then the Body content is
 * encrypted (Type=#Content) and the EncryptedKey, with its ReferenceList,
 * precedes the Signature in the Security header. The receiver decrypts first,
 * re-parses the plaintext with the hardened parser and then verifies.
 * Classes: accepted (0); a broker cannot check it (8); plaintext altered
 * before encryption (4); a DOCTYPE inside the encrypted content (3). */
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <time.h>

#include "recv_test_util.h"

#define PLAIN "<o:order xmlns:o=\"urn:o\"><o:id>42</o:id></o:order>"

/* A certificate-credential envelope with a plaintext Body, signed by client-rsa. */
static char *signed_plain_envelope(void)
{
    X509 *cert = NULL;
    unsigned char *der = NULL;
    char created[32];
    strbuf sb;
    assert_int_equal(load_cert(pki("client-rsa.pem"), &cert, NULL), 0);
    int der_len = i2d_X509(cert, &der);
    xsd_time_format(time(NULL), created, sizeof created);
    sb_init(&sb, 0, 0);
    sb_printf(&sb, "<s:Envelope xmlns:s=\"%s\" xmlns:wsa=\"%s\" xmlns:wsse=\"%s\" xmlns:wsu=\"%s\">"
              "<s:Header><wsa:To wsu:Id=\"to-1\">%s</wsa:To><wsse:Security s:mustUnderstand=\"true\">"
              "<wsse:BinarySecurityToken EncodingType=\"%s\" ValueType=\"%s\" wsu:Id=\"x509-1\">",
              NS_SOAP12, NS_WSA, NS_WSSE, NS_WSU, TEST_TO, WSS_BASE64, WSS_X509V3);
    sb_put_base64(&sb, der, (size_t)der_len);
    sb_printf(&sb, "</wsse:BinarySecurityToken><ds:Signature xmlns:ds=\"%s\"><ds:SignedInfo>"
              "<ds:CanonicalizationMethod Algorithm=\"%s\"/><ds:SignatureMethod Algorithm=\"%s\"/>",
              NS_DS, ALG_EXC_C14N, ALG_RSA_SHA256);
    const char *refs[] = {"#to-1", "#ts-1", "#body-1", "#x509-1"};
    for (size_t i = 0; i < 4; i++)
        sb_printf(&sb, "<ds:Reference URI=\"%s\"><ds:Transforms><ds:Transform Algorithm=\"%s\"/>"
                  "</ds:Transforms><ds:DigestMethod Algorithm=\"%s\"/><ds:DigestValue>AAAA"
                  "</ds:DigestValue></ds:Reference>", refs[i], ALG_EXC_C14N, ALG_SHA256);
    sb_printf(&sb, "</ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue><ds:KeyInfo>"
              "<wsse:SecurityTokenReference><wsse:Reference URI=\"#x509-1\" ValueType=\"%s\"/>"
              "</wsse:SecurityTokenReference></ds:KeyInfo></ds:Signature>"
              "<wsu:Timestamp wsu:Id=\"ts-1\"><wsu:Created>%s</wsu:Created></wsu:Timestamp>"
              "</wsse:Security></s:Header><s:Body wsu:Id=\"body-1\">" PLAIN "</s:Body></s:Envelope>",
              WSS_X509V3, created);
    OPENSSL_free(der);
    X509_free(cert);
    char *env = resign(sb.data, pki("client-rsa.key"), NULL);
    sb_free(&sb, 0);
    return env;
}

/* Encrypts `plain` as the Body content and puts the EncryptedKey (RSA-OAEP
 * to the service, thumbprint reference) before the Signature. */
static char *encrypt_body(const char *signed_env, const char *plain)
{
    uint8_t key[32], iv[12], tag[16], thumb[20], wrapped[256];
    size_t wrapped_len = sizeof wrapped, plain_len = strlen(plain);
    uint8_t *ct = malloc(plain_len + 1);
    int n = 0, fin = 0;
    X509 *service = NULL;
    assert_int_equal(RAND_bytes(key, sizeof key), 1);
    assert_int_equal(RAND_bytes(iv, sizeof iv), 1);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv), 1);
    assert_int_equal(EVP_EncryptUpdate(c, ct, &n, (const uint8_t *)plain, (int)plain_len), 1);
    assert_int_equal(EVP_EncryptFinal_ex(c, ct + n, &fin), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag), 1);
    EVP_CIPHER_CTX_free(c);
    assert_int_equal(load_cert(pki("service.pem"), &service, NULL), 0);
    assert_int_equal(cert_thumbprint_sha1(service, thumb), 0);
    EVP_PKEY_CTX *p = EVP_PKEY_CTX_new(X509_get0_pubkey(service), NULL);
    assert_int_equal(EVP_PKEY_encrypt_init(p), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(p, RSA_PKCS1_OAEP_PADDING), 1);
    assert_int_equal(EVP_PKEY_encrypt(p, wrapped, &wrapped_len, key, sizeof key), 1);
    EVP_PKEY_CTX_free(p);
    X509_free(service);

    strbuf ed, ek, blob;
    sb_init(&blob, 0, 0);
    sb_append(&blob, iv, sizeof iv);
    sb_append(&blob, ct, (size_t)(n + fin));
    sb_append(&blob, tag, sizeof tag);
    sb_init(&ed, 0, 0);
    sb_printf(&ed, "<xenc:EncryptedData xmlns:xenc=\"%s\" Id=\"ed-1\" Type=\"%s\">"
              "<xenc:EncryptionMethod Algorithm=\"%s\"/><xenc:CipherData><xenc:CipherValue>",
              NS_XENC, XENC_TYPE_CONTENT, ALG_AES256_GCM);
    sb_put_base64(&ed, (const uint8_t *)blob.data, blob.len);
    sb_puts(&ed, "</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>");
    sb_init(&ek, 0, 0);
    sb_printf(&ek, "<xenc:EncryptedKey xmlns:xenc=\"%s\" Id=\"ek-1\"><xenc:EncryptionMethod "
              "Algorithm=\"%s\"/><ds:KeyInfo xmlns:ds=\"%s\"><wsse:SecurityTokenReference>"
              "<wsse:KeyIdentifier ValueType=\"%s\">", NS_XENC, ALG_RSA_OAEP_MGF1P, NS_DS,
              WSS_THUMBPRINT);
    sb_put_base64(&ek, thumb, sizeof thumb);
    sb_puts(&ek, "</wsse:KeyIdentifier></wsse:SecurityTokenReference></ds:KeyInfo><xenc:CipherData>"
                 "<xenc:CipherValue>");
    sb_put_base64(&ek, wrapped, wrapped_len);
    sb_puts(&ek, "</xenc:CipherValue></xenc:CipherData><xenc:ReferenceList><xenc:DataReference "
                 "URI=\"#ed-1\"/></xenc:ReferenceList></xenc:EncryptedKey><ds:Signature");
    char *body_done = replace_first(signed_env, PLAIN, ed.data);
    char *env = replace_first(body_done, "<ds:Signature", ek.data);
    free(body_done);
    free(ct);
    sb_free(&blob, 1);
    sb_free(&ed, 0);
    sb_free(&ek, 0);
    OPENSSL_cleanse(key, sizeof key);
    return env;
}

static void test_accepted(void **state)
{
    (void)state;
    char *signed_env = signed_plain_envelope();
    char *env = encrypt_body(signed_env, PLAIN);
    msgsec_receiver *r = receiver_with(NULL);
    msgsec_context *ctx = unwrap_ok(r, env, PLAIN);
    assert_string_equal(msgsec_context_identity(ctx), "CN=shop1,O=Example");
    assert_string_equal(msgsec_context_content_type(ctx), "application/xml");
    assert_null(strstr(env, "<o:id>")); /* the plaintext only travelled encrypted */
    msgsec_context_free(ctx);
    msgsec_receiver_free(r);
    free(env);
    free(signed_env);
}

static void test_broker_cannot_verify(void **state)
{
    (void)state;
    char *signed_env = signed_plain_envelope();
    char *env = encrypt_body(signed_env, PLAIN);
    recv_setup rs = {.verify_only = 1};
    msgsec_receiver *r = receiver_with(&rs);
    msgsec_error e;
    assert_int_equal(verify_rc(r, env, &e), MSGSEC_E_POLICY);
    assert_non_null(strstr(e.detail, "sign-then-encrypt"));
    msgsec_receiver_free(r);
    free(env);
    free(signed_env);
}

static void test_altered_plaintext(void **state)
{
    (void)state;
    char *signed_env = signed_plain_envelope();
    char *env = encrypt_body(signed_env, "<o:order xmlns:o=\"urn:o\"><o:id>43</o:id></o:order>");
    assert_unwrap_class(env, MSGSEC_E_AUTH);
    free(env);
    free(signed_env);
}

static void test_hostile_plaintext(void **state)
{
    (void)state;
    char *signed_env = signed_plain_envelope();
    const char *hostile[] = {"<!DOCTYPE o [<!ENTITY e \"x\">]><o/>", "<o>&e;</o>", "<o>", "<o/></p>"};
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        char *env = encrypt_body(signed_env, hostile[i]);
        assert_unwrap_class(env, MSGSEC_E_MALFORMED);
        free(env);
    }
    strbuf deep;
    sb_init(&deep, 0, 0);
    for (int i = 0; i < 70; i++)
        sb_puts(&deep, "<d>");
    for (int i = 0; i < 70; i++)
        sb_puts(&deep, "</d>");
    char *env = encrypt_body(signed_env, deep.data);
    assert_unwrap_class(env, MSGSEC_E_MALFORMED);
    free(env);
    sb_free(&deep, 0);
    free(signed_env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_broker_cannot_verify),
        cmocka_unit_test(test_altered_plaintext),
        cmocka_unit_test(test_hostile_plaintext),
    };
    return cmocka_run_group_tests(tests, test_global_setup, NULL);
}
