/* test_config.c - the YAML configuration: a full valid file, defaults, every
 * refusal with its line, topic filter and glob matching. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "msgsec_config.h"

static char dir[PATH_MAX];           /* temp dir with the files configurations name */
static char cfg_path[PATH_MAX + 16]; /* dir/msgsec.yaml */

static void write_file(const char *name, const char *text, mode_t mode)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
    char tmpl[] = "/tmp/msgsec-config-XXXXXX";
    if (!mkdtemp(tmpl) || !realpath(tmpl, dir))
        return -1;
    snprintf(cfg_path, sizeof cfg_path, "%s/msgsec.yaml", dir);
    const char *files[] = {"ca.pem",        "ca2.pem",     "crl.pem",  "sts.pem",
                           "users",         "krb5.keytab", "node.pem", "service.pem",
                           "broker-ca.pem", "client.pem",  "pw"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        write_file(files[i], "test\n", 0644);
    write_file("node.key", "test\n", 0600);
    write_file("client.key", "test\n", 0400);
    write_file("open.key", "test\n", 0640);
    write_file("world-writable.pem", "test\n", 0666);
    return 0;
}

static int teardown(void **state)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static msgsec_err load(const char *yaml, msgsec_config **cfg, msgsec_error *err)
{
    write_file("msgsec.yaml", yaml, 0600);
    memset(err, 0, sizeof *err);
    return msgsec_config_load(cfg_path, cfg, err);
}

static const char full_config[] =
    "# every section of the configuration (README)\n"
    "identity: {cert: node.pem, key: node.key}\n"
    "trust:\n"
    "  ca: [ca.pem, ca2.pem]\n"
    "  crl: [crl.pem]\n"
    "  issuers: [sts.pem]\n"
    "  users: users\n"
    "  keytab: krb5.keytab\n"
    "security:\n"
    "  credentials: [certificate, issued, username, windows]\n"
    "  suite: basic256sha256\n"
    "  max_age: 172800\n"
    "  clock_skew: 0\n"
    "  max_message_bytes: 65536\n"
    "  ticket_grace: 3600\n"
    "replay: {path: replay-db, max_bytes: 268435456}\n"
    "rules:\n"
    "  - topic: \"orders/#\"\n"
    "    action: enforce\n"
    "    senders: [\"CN=shop*\", \"CN=admin,O=Example\"]\n"
    "    bind_transport: true\n"
    "  - topic: legacy/+/in\n"
    "    action: protect\n"
    "    service_cert: service.pem\n"
    "    publish_to: orders/legacy\n"
    "    to: urn:example:orders\n"
    "  - topic: public/#\n"
    "    action: pass\n"
    "mqtt:\n"
    "  host: broker.local\n"
    "  port: 8883\n"
    "  client_id: bridge-1\n"
    "  version: 4\n"
    "  tls: {ca: broker-ca.pem, cert: client.pem, key: client.key}\n"
    "  username: bridge\n"
    "  password_file: pw\n"
    "amqp:\n"
    "  url: amqps://rabbit:5671\n"
    "  sasl: {mechanism: PLAIN, username: bridge, password_file: pw}\n"
    "  tls: {ca: broker-ca.pem}\n"
    "routes:\n"
    "  - from: \"mqtt:orders/#\"\n"
    "    to: \"amqp:/amq/queue/orders\"\n"
    "    action: verify\n"
    "    qos: 2\n"
    "    senders: [\"CN=shop*\"]\n"
    "    dead_letter: \"mqtt:msgsec/dead\"\n"
    "  - from: amqp:/amq/queue/out\n"
    "    to: mqtt:out/plain\n"
    "    action: unprotect\n"
    "  - from: mqtt:plain/#\n"
    "    to: amqp:/amq/queue/secured\n"
    "    action: protect\n"
    "    service_cert: service.pem\n"
    "    wsa_to: urn:example:secured\n"
    "  - from: mqtt:raw/#\n"
    "    to: amqp:/amq/queue/raw\n"
    "    action: forward\n"
    "spool:\n"
    "  path: /var/tmp/spool\n"
    "  max_messages: 500\n"
    "  max_bytes: 1048576\n"
    "  when_full: reject\n"
    "metrics: {listen: \"127.0.0.1:9464\"}\n"
    "bridge: {workers: 3}\n";

static void expect_path(const char *got, const char *name)
{
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s/%s", dir, name);
    assert_non_null(got);
    assert_string_equal(got, want);
}

static void test_full_config(void **state)
{
    msgsec_config *cfg;
    msgsec_error err;
    assert_int_equal(load(full_config, &cfg, &err), MSGSEC_OK);
    expect_path(cfg->path, "msgsec.yaml");
    expect_path(cfg->identity.cert, "node.pem");
    expect_path(cfg->identity.key, "node.key");
    assert_int_equal(cfg->trust.n_ca, 2);
    expect_path(cfg->trust.ca[0], "ca.pem");
    expect_path(cfg->trust.ca[1], "ca2.pem");
    assert_int_equal(cfg->trust.n_crl, 1);
    expect_path(cfg->trust.crl[0], "crl.pem");
    assert_int_equal(cfg->trust.n_issuers, 1);
    expect_path(cfg->trust.issuers[0], "sts.pem");
    expect_path(cfg->trust.users, "users");
    expect_path(cfg->trust.keytab, "krb5.keytab");
    assert_int_equal(cfg->security.credentials, MSGSEC_CRED_BIT(MSGSEC_CRED_CERTIFICATE) |
                                                    MSGSEC_CRED_BIT(MSGSEC_CRED_ISSUED) |
                                                    MSGSEC_CRED_BIT(MSGSEC_CRED_USERNAME) |
                                                    MSGSEC_CRED_BIT(MSGSEC_CRED_WINDOWS));
    assert_string_equal(cfg->security.suite, "basic256sha256");
    assert_int_equal(cfg->security.max_age, 172800);
    assert_int_equal(cfg->security.clock_skew, 0);
    assert_int_equal(cfg->security.max_message_bytes, 65536);
    assert_int_equal(cfg->security.ticket_grace, 3600);
    expect_path(cfg->replay.path, "replay-db"); /* need not exist yet */
    assert_int_equal(cfg->replay.max_bytes, 268435456);

    assert_int_equal(cfg->n_rules, 3);
    const msgsec_rule *r = cfg->rules;
    assert_string_equal(r[0].topic, "orders/#");
    assert_int_equal(r[0].action, MSGSEC_RULE_ENFORCE);
    assert_int_equal(r[0].n_senders, 2);
    assert_string_equal(r[0].senders[1], "CN=admin,O=Example");
    assert_int_equal(r[0].bind_transport, 1);
    assert_int_equal(r[0].line, 18);
    assert_int_equal(r[1].action, MSGSEC_RULE_PROTECT);
    expect_path(r[1].service_cert, "service.pem");
    assert_string_equal(r[1].publish_to, "orders/legacy");
    assert_string_equal(r[1].to, "urn:example:orders");
    assert_int_equal(r[1].line, 22);
    assert_int_equal(r[2].action, MSGSEC_RULE_PASS);
    assert_null(r[2].to);
    assert_int_equal(r[2].bind_transport, 0);

    assert_string_equal(cfg->mqtt.host, "broker.local");
    assert_int_equal(cfg->mqtt.port, 8883);
    assert_string_equal(cfg->mqtt.client_id, "bridge-1");
    assert_int_equal(cfg->mqtt.version, 4);
    expect_path(cfg->mqtt.tls.ca, "broker-ca.pem");
    expect_path(cfg->mqtt.tls.key, "client.key");
    assert_string_equal(cfg->mqtt.username, "bridge");
    expect_path(cfg->mqtt.password_file, "pw");
    assert_string_equal(cfg->amqp.url, "amqps://rabbit:5671");
    assert_string_equal(cfg->amqp.sasl.mechanism, "PLAIN");
    assert_string_equal(cfg->amqp.sasl.username, "bridge");
    expect_path(cfg->amqp.tls.ca, "broker-ca.pem");
    assert_null(cfg->amqp.tls.cert);

    assert_int_equal(cfg->n_routes, 4);
    const msgsec_route *rt = cfg->routes;
    assert_string_equal(rt[0].from, "mqtt:orders/#");
    assert_string_equal(rt[0].to, "amqp:/amq/queue/orders");
    assert_int_equal(rt[0].action, MSGSEC_ROUTE_VERIFY);
    assert_int_equal(rt[0].qos, 2);
    assert_int_equal(rt[0].n_senders, 1);
    assert_string_equal(rt[0].dead_letter, "mqtt:msgsec/dead");
    assert_int_equal(rt[0].line, 42);
    assert_int_equal(rt[1].action, MSGSEC_ROUTE_UNPROTECT);
    assert_int_equal(rt[1].qos, 1); /* default */
    assert_null(rt[1].dead_letter);
    assert_int_equal(rt[2].action, MSGSEC_ROUTE_PROTECT);
    expect_path(rt[2].service_cert, "service.pem");
    assert_string_equal(rt[2].wsa_to, "urn:example:secured");
    assert_int_equal(rt[3].action, MSGSEC_ROUTE_FORWARD);

    assert_string_equal(cfg->spool.path, "/var/tmp/spool");
    assert_int_equal(cfg->spool.max_messages, 500);
    assert_int_equal(cfg->spool.max_bytes, 1048576);
    assert_string_equal(cfg->spool.when_full, "reject");
    assert_string_equal(cfg->metrics.listen, "127.0.0.1:9464");
    const struct sockaddr_in *in4 = (const struct sockaddr_in *)&cfg->metrics.address;
    assert_int_equal(in4->sin_family, AF_INET);
    assert_int_equal(cfg->metrics.address_len, sizeof *in4);
    assert_int_equal(ntohs(in4->sin_port), 9464);
    assert_int_equal(ntohl(in4->sin_addr.s_addr), INADDR_LOOPBACK);
    assert_int_equal(cfg->bridge.workers, 3);

    msgsec_receiver_opts opts;
    msgsec_config_receiver_opts(cfg, 1, &opts);
    assert_string_equal(opts.cert_file, cfg->identity.cert);
    assert_string_equal(opts.key_file, cfg->identity.key);
    assert_int_equal(opts.n_ca_files, 2);
    assert_string_equal(opts.ca_files[1], cfg->trust.ca[1]);
    assert_int_equal(opts.n_crl_files, 1);
    assert_int_equal(opts.n_issuer_files, 1);
    assert_string_equal(opts.users_file, cfg->trust.users);
    assert_string_equal(opts.keytab_file, cfg->trust.keytab);
    assert_int_equal(opts.max_age, 172800);
    assert_int_equal(opts.clock_skew, -1); /* a configured 0 is "no skew", not "default" */
    assert_int_equal(opts.ticket_grace, 3600);
    assert_int_equal(opts.max_message_bytes, 65536);
    assert_int_equal(opts.accepted_credentials, cfg->security.credentials);
    assert_string_equal(opts.replay_path, cfg->replay.path);
    assert_int_equal(opts.replay_max_bytes, 268435456);
    assert_null(opts.expected_to);
    msgsec_config_receiver_opts(cfg, 0, &opts);
    assert_null(opts.key_file);
    assert_non_null(opts.cert_file);
    msgsec_config_free(cfg);
}

static void test_defaults(void **state)
{
    msgsec_config *cfg;
    msgsec_error err;
    /* a plugin configuration: one enforce rule; a null section is the defaults */
    assert_int_equal(
        load("trust: {ca: [ca.pem]}\nmetrics:\nrules:\n  - {topic: a/#, action: enforce}\n", &cfg,
             &err),
        MSGSEC_OK);
    assert_null(cfg->identity.cert);
    /* issued only with issuers to trust */
    assert_int_equal(cfg->security.credentials, MSGSEC_CRED_BIT(MSGSEC_CRED_CERTIFICATE));
    assert_string_equal(cfg->security.suite, "basic256sha256");
    assert_int_equal(cfg->security.max_age, 86400);
    assert_int_equal(cfg->security.clock_skew, 300);
    assert_int_equal(cfg->security.max_message_bytes, 1048576);
    assert_int_equal(cfg->security.ticket_grace, 0);
    assert_int_equal(cfg->security.protect_tokens, 0);
    assert_null(cfg->replay.path);
    assert_int_equal(cfg->replay.max_bytes, 64 << 20);
    assert_int_equal(cfg->rules[0].n_senders, 0);
    assert_string_equal(cfg->mqtt.host, "127.0.0.1");
    assert_int_equal(cfg->mqtt.port, 1883);
    assert_string_equal(cfg->mqtt.client_id, "msgsec-bridge");
    assert_int_equal(cfg->mqtt.version, 5);
    assert_null(cfg->mqtt.tls.ca);
    assert_string_equal(cfg->amqp.url, "amqp://127.0.0.1:5672");
    assert_string_equal(cfg->amqp.sasl.mechanism, "ANONYMOUS");
    assert_int_equal(cfg->n_routes, 0);
    assert_null(cfg->spool.path);
    assert_int_equal(cfg->spool.max_messages, 100000);
    assert_int_equal(cfg->spool.max_bytes, (size_t)1 << 30);
    assert_string_equal(cfg->spool.when_full, "block");
    assert_null(cfg->metrics.listen);
    assert_int_equal(cfg->bridge.workers, 0); /* the bridge's default: one per CPU */
    msgsec_receiver_opts opts;
    msgsec_config_receiver_opts(cfg, 1, &opts);
    assert_null(opts.key_file);
    assert_int_equal(opts.clock_skew, 300);
    assert_int_equal(opts.protect_tokens, 0);
    msgsec_config_free(cfg);
    msgsec_config_free(NULL);
    assert_int_equal(load("trust: {ca: [ca.pem], issuers: [sts.pem]}\nrules:\n"
                          "  - {topic: a/#, action: enforce}\n", &cfg, &err),
                     MSGSEC_OK);
    assert_int_equal(cfg->security.credentials, MSGSEC_CRED_BIT(MSGSEC_CRED_CERTIFICATE) |
                                                    MSGSEC_CRED_BIT(MSGSEC_CRED_ISSUED));
    msgsec_config_free(cfg);
    /* protect_tokens reaches the receiver options (plugin and bridge) */
    assert_int_equal(load("trust: {ca: [ca.pem]}\nsecurity: {protect_tokens: true}\nrules:\n"
                          "  - {topic: a/#, action: enforce}\n", &cfg, &err),
                     MSGSEC_OK);
    msgsec_config_receiver_opts(cfg, 0, &opts);
    assert_int_equal(opts.protect_tokens, 1);
    msgsec_config_free(cfg);
}

/* Relative paths resolve against the file's directory, not the cwd. */
static void test_relative_to_config_dir(void **state)
{
    msgsec_config *cfg;
    msgsec_error err;
    char sub[PATH_MAX + 8], sub_cfg[PATH_MAX + 32];
    snprintf(sub, sizeof sub, "%s/etc", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(sub_cfg, sizeof sub_cfg, "%s/msgsec.yaml", sub);
    FILE *f = fopen(sub_cfg, "w");
    assert_non_null(f);
    fputs("trust: {ca: [../ca.pem], users: ../users}\n", f);
    fclose(f);
    assert_int_equal(chdir("/"), 0);
    assert_int_equal(msgsec_config_load(sub_cfg, &cfg, &err), MSGSEC_OK);
    char want[PATH_MAX + 32];
    snprintf(want, sizeof want, "%s/etc/../ca.pem", dir);
    assert_string_equal(cfg->trust.ca[0], want);
    msgsec_config_free(cfg);
}

typedef struct refusal {
    const char *yaml;
    int line;
    const char *reason; /* substring of the detail */
} refusal;

#define TRUST "trust: {ca: [ca.pem]}\n"
#define NODE "identity: {cert: node.pem, key: node.key}\n"

static const refusal refusals[] = {
    /* keys and types */
    {"identity: {cert: node.pem, key: node.key}\nbogus: 1\n", 2, "unknown key 'bogus'"},
    {"mqtt:\n  host: h\n  prot: 1\n", 3, "unknown key 'mqtt.prot'"},
    {"mqtt:\n  tls:\n    ca: ca.pem\n    pass: x\n", 4, "unknown key 'mqtt.tls.pass'"},
    {"mqtt:\n  port: 1\n  host: a\n  port: 2\n", 4, "duplicate key 'port' (first at line 2)"},
    {"trust:\n  ca: ca.pem\n", 2, "trust.ca: expected a list"},
    {"security:\n  credentials: certificate\n", 2, "security.credentials: expected a list"},
    {"trust:\n  users: [users]\n", 2, "trust.users: expected a string, got a list"},
    {"mqtt: yes\n", 1, "mqtt: expected a mapping"},
    {"rules:\n  topic: a\n", 1, "rules: expected a list"},
    {"rules:\n  - a/#\n", 2, "rules[0]: expected a mapping"},
    {"mqtt:\n  port: abc\n", 2, "mqtt.port: expected an integer in 1..65535"},
    {"mqtt:\n  port: \"1883\"\n", 2, "mqtt.port: expected an integer"},
    {"mqtt:\n  port: 1883.5\n", 2, "mqtt.port: expected an integer"},
    {"mqtt:\n  port: 0\n", 2, "mqtt.port: 0 is out of range 1..65535"},
    {"mqtt:\n  port: 65536\n", 2, "mqtt.port: 65536 is out of range"},
    {"mqtt:\n  port: 99999999999999999999999\n", 2, "is out of range"},
    {"mqtt:\n  version: 6\n", 2, "mqtt.version: 6 is out of range 4..5"},
    {"mqtt:\n  version: 3\n", 2, "mqtt.version: 3 is out of range 4..5"},
    {"security:\n  max_age: -5\n", 2, "security.max_age: -5 is out of range"},
    {"security:\n  max_age: 0\n", 2, "security.max_age: 0 is out of range"},
    {"security:\n  clock_skew: -1\n", 2, "security.clock_skew: -1 is out of range"},
    {"security:\n  max_age: 60\n  clock_skew: 300\n", 3, "clock_skew (300) must not exceed"},
    {"security:\n  ticket_grace: 90000\n", 2, "ticket_grace (90000) must not exceed"},
    {"security:\n  max_message_bytes: 10\n", 2, "max_message_bytes: 10 is out of range"},
    {"replay:\n  max_bytes: 65536\n", 2,
     "replay.max_bytes: 65536 is out of range 1048576..1099511627776"},
    {"security:\n  suite: basic128\n", 2, "security.suite: unknown value 'basic128'"},
    {"security:\n  protect_tokens: yes please\n", 2,
     "security.protect_tokens: expected true or false"},
    {"security:\n  credentials: [certificate,\n    kerberos]\n", 3,
     "unknown credential type 'kerberos'"},
    {"security:\n  credentials: []\n", 2, "the list is empty"},
    {"security:\n  max_age: &a 100\n  clock_skew: *a\n", 3, "aliases"},
    {TRUST "rules:\n  - topic: a\n    action: enforce\n    bind_transport: maybe\n", 5,
     "rules[0].bind_transport: expected true or false"},
    {TRUST "rules:\n  - topic: a\n    action: enforce\n    senders: []\n", 5,
     "rules[0].senders: the list is empty; omit the key"},
    {"spool:\n  when_full: drop\n", 2, "spool.when_full: unknown value 'drop'"},
    {"spool:\n  max_messages: 0\n", 2, "spool.max_messages: 0 is out of range"},
    {"bridge:\n  workers: 0\n", 2, "bridge.workers: 0 is out of range"},
    {"bridge:\n  workers: 257\n", 2, "bridge.workers: 257 is out of range"},
    {"bridge:\n  threads: 2\n", 2, "unknown key 'bridge.threads'"},
    {"mqtt:\n  host: \"\"\n", 2, "mqtt.host: must not be empty"},
    /* YAML itself */
    {"mqtt:\n  host: \"unterminated\n", 3, "YAML syntax error: found unexpected end of stream"},
    {"rules:\n  - topic: a\n  action: pass\n", 3, "YAML syntax error"},
    {"mqtt:\n\tport: 1\n", 2, "YAML syntax error"},
    {"", 1, "the configuration is empty"},
    {"# only a comment\n", 1, "the configuration is empty"},
    {"- a\n- b\n", 1, "the configuration must be a mapping"},
    {"mqtt: {port: 1}\n---\nmqtt: {port: 2}\n", 2, "only one YAML document"},
    {"a:\n b:\n  c:\n   d:\n    e:\n     f:\n      g:\n       h:\n        i:\n         j:\n"
     "          k:\n           l:\n            m:\n             n:\n              o:\n"
     "               p:\n                q:\n                 r: 1\n",
     17, "nested more than 16 levels"},
    /* rules */
    {TRUST "rules:\n  - topic: a\n    action: encrypt\n", 4,
     "rules[0].action: unknown value 'encrypt'"},
    {TRUST "rules:\n  - action: enforce\n", 3, "missing rules[0].topic"},
    {TRUST "rules:\n  - topic: a\n", 3, "missing rules[0].action"},
    {TRUST "rules:\n  - topic: a/#/b\n    action: pass\n", 3, "not a valid MQTT topic filter"},
    {TRUST "rules:\n  - topic: a+\n    action: pass\n", 3, "not a valid MQTT topic filter"},
    {TRUST "rules:\n  - topic: a\n    action: enforce\n    publish_to: b\n", 5,
     "publish_to is not valid with action enforce"},
    {TRUST "rules:\n  - topic: a\n    action: enforce\n    service_cert: service.pem\n", 5,
     "service_cert is not valid with action enforce"},
    {NODE "rules:\n  - topic: a\n    action: pass\n    senders: [x]\n", 5,
     "senders is not valid with action pass"},
    {NODE "rules:\n  - topic: a\n    action: protect\n    publish_to: b\n", 3,
     "a protect rule needs service_cert and publish_to"},
    {NODE "rules:\n  - topic: a\n    action: protect\n    service_cert: service.pem\n", 3,
     "a protect rule needs service_cert and publish_to"},
    {NODE "rules:\n  - topic: a\n    action: protect\n    service_cert: service.pem\n"
          "    publish_to: b/#\n",
     6, "publish_to: 'b/#' is not a valid MQTT topic name"},
    {"rules:\n  - topic: a\n    action: protect\n    service_cert: service.pem\n"
     "    publish_to: b\n",
     2, "a protect rule needs identity.cert and identity.key"},
    {"rules:\n  - topic: a\n    action: enforce\n", 2,
     "an enforce rule accepting certificate credentials needs trust.ca"},
    {TRUST "security: {credentials: [certificate, issued]}\nrules:\n  - topic: a\n"
           "    action: enforce\n", 4,
     "an enforce rule accepting issued credentials needs trust.issuers"},
    /* routes */
    {"routes:\n  - from: orders/#\n    to: amqp:/q\n    action: forward\n", 2,
     "from: 'orders/#' must start with mqtt: or amqp:"},
    {"routes:\n  - from: mqtt:a\n    to: /amq/queue/q\n    action: forward\n", 3,
     "to: '/amq/queue/q' must start with mqtt: or amqp:"},
    {"routes:\n  - from: mqtt:a\n    to: mqtt:b\n    action: forward\n", 3,
     "from and to are both mqtt: addresses"},
    {"routes:\n  - from: amqp:/q1\n    to: amqp:/q2\n    action: forward\n", 3,
     "from and to are both amqp: addresses"},
    {"routes:\n  - from: amqp:/q\n    to: mqtt:a/+\n    action: forward\n", 3,
     "not a valid MQTT topic name"},
    {"routes:\n  - from: \"amqp:\"\n    to: mqtt:a\n    action: forward\n", 2,
     "empty AMQP address"},
    {"routes:\n  - from: mqtt:a\n    to: amqp:/q\n    action: forward\n    dead_letter: dead\n", 5,
     "dead_letter: 'dead' must start with mqtt: or amqp:"},
    {"routes:\n  - from: mqtt:a\n    to: amqp:/q\n    action: forward\n    qos: 3\n", 5,
     "routes[0].qos: 3 is out of range 0..2"},
    {"routes:\n  - from: mqtt:a\n    to: amqp:/q\n    action: relay\n", 4,
     "routes[0].action: unknown value 'relay'"},
    {"routes:\n  - from: mqtt:a\n    action: forward\n", 2, "missing routes[0].to"},
    {NODE "routes:\n  - from: mqtt:a\n    to: amqp:/q\n    action: protect\n", 3,
     "a protect route needs service_cert"},
    {"routes:\n  - from: mqtt:a\n    to: amqp:/q\n    action: protect\n    service_cert: "
     "service.pem\n",
     2, "a protect route needs identity.cert and identity.key"},
    {NODE "routes:\n  - from: mqtt:a\n    to: amqp:/q\n    action: forward\n    senders: [x]\n", 6,
     "senders is not valid with action forward"},
    {TRUST "routes:\n  - from: mqtt:a\n    to: amqp:/q\n    action: verify\n    service_cert: "
           "service.pem\n",
     6, "service_cert is not valid with action verify"},
    {TRUST "routes:\n  - from: amqp:/q\n    to: mqtt:a\n    action: unprotect\n", 3,
     "an unprotect route needs identity.cert and identity.key"},
    {NODE "routes:\n  - from: amqp:/q\n    to: mqtt:a\n    action: verify\n", 3,
     "a verify route accepting certificate credentials needs trust.ca"},
    {TRUST "security: {credentials: [issued]}\nroutes:\n  - from: amqp:/q\n    to: mqtt:a\n"
           "    action: verify\n", 4,
     "a verify route accepting issued credentials needs trust.issuers"},
    {NODE "security: {credentials: [username]}\nroutes:\n  - from: amqp:/q\n    to: mqtt:a\n"
          "    action: unprotect\n",
     4, "accepting username credentials needs trust.users"},
    {NODE "security: {credentials: [windows]}\nroutes:\n  - from: amqp:/q\n    to: mqtt:a\n"
          "    action: unprotect\n",
     4, "accepting windows credentials needs trust.keytab"},
    /* referenced files */
    {"identity:\n  cert: missing.pem\n  key: node.key\n", 2, "identity.cert: cannot read"},
    {"trust:\n  ca: [ca.pem,\n       nope.pem]\n", 3, "trust.ca: cannot read"},
    {"trust:\n  crl: [.]\n", 2, "trust.crl: "},
    {"trust: {users: no-users}\n", 1, "trust.users: cannot read"},
    {"trust: {keytab: no.keytab}\n", 1, "trust.keytab: cannot read"},
    {"mqtt: {username: u, password_file: no-pw}\n", 1, "mqtt.password_file: cannot read"},
    {NODE "rules:\n  - topic: a\n    action: protect\n    service_cert: gone.pem\n", 5,
     "rules[0].service_cert: cannot read"},
    {"identity:\n  cert: node.pem\n  key: open.key\n", 3, "identity.key: key " /* ...open.key */},
    {"mqtt:\n  tls:\n    cert: client.pem\n    key: open.key\n", 4, "(mode 640); chmod 600 it"},
    {"amqp:\n  tls: {cert: client.pem, key: open.key}\n", 2, "amqp.tls.key: key"},
    {"trust:\n  ca: [world-writable.pem]\n", 2,
     "world-writable.pem is writable by others (mode 666)"},
    /* pairs and formats */
    {"identity:\n  cert: node.pem\n", 1, "identity.cert and identity.key must be given together"},
    {"mqtt:\n  tls:\n    cert: client.pem\n", 2,
     "mqtt.tls.cert and mqtt.tls.key must be given together"},
    {"mqtt:\n  password_file: pw\n", 2, "mqtt.password_file needs mqtt.username"},
    {"amqp:\n  url: http://rabbit\n", 2, "amqp.url: 'http://rabbit' must be amqp://"},
    {"amqp:\n  sasl: {mechanism: PLAIN, username: u}\n", 2,
     "PLAIN needs username and password_file"},
    {"amqp:\n  sasl: {mechanism: GSSAPI}\n", 2, "amqp.sasl.mechanism: unknown value 'GSSAPI'"},
    {"amqp:\n  sasl: {username: u}\n", 2, "only used with PLAIN"},
    {"amqp:\n  sasl: {mechanism: EXTERNAL}\n", 2, "EXTERNAL needs amqp.tls.cert"},
    {"metrics: {listen: localhost}\n", 1,
     "metrics.listen: 'localhost' must be IPV4:PORT or [IPV6]:PORT (port 1..65535)"},
    {"metrics: {listen: \"localhost:9464\"}\n", 1, "must be IPV4:PORT or [IPV6]:PORT"},
    {"metrics: {listen: \"127.0.0.1:0\"}\n", 1, "must be IPV4:PORT"},
    {"metrics: {listen: \"127.0.0.1:65536\"}\n", 1, "must be IPV4:PORT"},
    {"metrics: {listen: \"127.0.0.1:+80\"}\n", 1, "must be IPV4:PORT"},
    {"metrics: {listen: \"127.0.0.1:\"}\n", 1, "must be IPV4:PORT"},
    {"metrics: {listen: \"127.1:80\"}\n", 1, "must be IPV4:PORT"},
    {"metrics: {listen: \":9464\"}\n", 1, "must be IPV4:PORT"},
    {"metrics: {listen: \"::1:9464\"}\n", 1, "must be IPV4:PORT"},
    {"metrics: {listen: \"[::1]\"}\n", 1, "must be IPV4:PORT"},
    {"metrics: {listen: \"[::1]x:80\"}\n", 1, "must be IPV4:PORT"},
    {"metrics: {listen: \"[]:80\"}\n", 1, "must be IPV4:PORT"},
    {"metrics: {listen: \"[127.0.0.1]:80\"}\n", 1, "must be IPV4:PORT"},
    {"metrics: {listen: \"[fe80::1%lo]:80\"}\n", 1, "must be IPV4:PORT"},
};

/* metrics.listen is parsed once, by the loader: the bridge binds the result. */
static void test_metrics_listen_ipv6(void **state)
{
    (void)state;
    msgsec_config *cfg = NULL;
    msgsec_error err;
    struct in6_addr want;
    assert_int_equal(load("metrics: {listen: \"[::1]:9464\"}\n", &cfg, &err), MSGSEC_OK);
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&cfg->metrics.address;
    assert_int_equal(in6->sin6_family, AF_INET6);
    assert_int_equal(cfg->metrics.address_len, sizeof *in6);
    assert_int_equal(ntohs(in6->sin6_port), 9464);
    assert_memory_equal(&in6->sin6_addr, &in6addr_loopback, sizeof want);
    msgsec_config_free(cfg);
    assert_int_equal(load("metrics: {listen: \"[2001:db8::7]:65535\"}\n", &cfg, &err), MSGSEC_OK);
    in6 = (const struct sockaddr_in6 *)&cfg->metrics.address;
    assert_int_equal(inet_pton(AF_INET6, "2001:db8::7", &want), 1);
    assert_memory_equal(&in6->sin6_addr, &want, sizeof want);
    assert_int_equal(ntohs(in6->sin6_port), 65535);
    msgsec_config_free(cfg);
}

static void test_refusals(void **state)
{
    int failures = 0;
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        const refusal *c = &refusals[i];
        msgsec_config *cfg = (msgsec_config *)1;
        msgsec_error err;
        char where[PATH_MAX + 32];
        msgsec_err rc = load(c->yaml, &cfg, &err);
        snprintf(where, sizeof where, "%s:%d: ", cfg_path, c->line);
        if (rc != MSGSEC_E_USAGE || err.code != MSGSEC_E_USAGE || cfg != NULL ||
            strncmp(err.detail, where, strlen(where)) != 0 || !strstr(err.detail, c->reason))
            print_error("case %zu (%s): rc %d, detail \"%s\"; want line %d and \"%s\"\n", i,
                        c->yaml, rc, err.detail, c->line, c->reason),
                failures++;
    }
    assert_int_equal(failures, 0);
}

/* A mapping with very many keys is refused early, not checked in quadratic time. */
static void test_many_keys(void **state)
{
    msgsec_config *cfg;
    msgsec_error err;
    char *yaml = malloc(300 * 16 + 1), *p = yaml;
    assert_non_null(yaml);
    for (int i = 0; i < 300; i++)
        p += sprintf(p, "k%d: %d\n", i, i);
    assert_int_equal(load(yaml, &cfg, &err), MSGSEC_E_USAGE);
    assert_non_null(strstr(err.detail, ":257: more than 256 keys in one mapping"));
    free(yaml);
}

static void test_missing_file(void **state)
{
    msgsec_config *cfg;
    msgsec_error err;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/absent.yaml", dir);
    assert_int_equal(msgsec_config_load(path, &cfg, &err), MSGSEC_E_USAGE);
    assert_null(cfg);
    assert_non_null(strstr(err.detail, "absent.yaml"));
    assert_non_null(strstr(err.detail, "No such file or directory"));
    assert_int_equal(msgsec_config_load(dir, &cfg, &err), MSGSEC_E_USAGE); /* a directory */
    assert_int_equal(msgsec_config_load(NULL, &cfg, &err), MSGSEC_E_USAGE);
    /* a configuration anyone can rewrite */
    write_file("msgsec.yaml", "metrics: {listen: \"127.0.0.1:9464\"}\n", 0646);
    assert_int_equal(msgsec_config_load(cfg_path, &cfg, &err), MSGSEC_E_USAGE);
    assert_non_null(strstr(err.detail, "msgsec.yaml is writable by others (mode 646)"));
}

static void test_topic_match(void **state)
{
    static const struct {
        const char *filter, *topic;
        int match;
    } cases[] = {
        {"a/b", "a/b", 1},
        {"a/b", "a/c", 0},
        {"a/b", "a/b/c", 0},
        {"a/b/c", "a/b", 0},
        {"#", "a", 1},
        {"#", "a/b/c", 1},
        {"#", "/", 1},
        {"a/#", "a", 1},
        {"a/#", "a/b", 1},
        {"a/#", "a/b/c", 1},
        {"a/#", "ab", 0},
        {"a/#", "b/a", 0},
        {"+", "a", 1},
        {"+", "a/b", 0},
        {"+", "", 1},
        {"+/b", "a/b", 1},
        {"+/b", "/b", 1},
        {"+/b", "a/c", 0},
        {"+/b", "a/b/c", 0},
        {"a/+", "a", 0},
        {"a/+", "a/", 1},
        {"a/+/c", "a/xyz/c", 1},
        {"a/+/#", "a/b", 1},
        {"+/+", "/", 1},
        {"a//b", "a//b", 1},
        {"a/b", "a/b/", 0},
        {"#", "$SYS/broker", 0},
        {"+/broker", "$SYS/broker", 0},
        {"$SYS/#", "$SYS/broker", 1},
        {"$SYS/+", "$SYS/broker", 1},
        {"a/$x", "a/$x", 1},
        {"+/$x", "a/$x", 1},
        {"orders/#", "orders/new", 1},
        {"A/b", "a/b", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (msgsec_topic_match(cases[i].filter, cases[i].topic) != cases[i].match)
            fail_msg("topic_match(\"%s\", \"%s\") != %d", cases[i].filter, cases[i].topic,
                     cases[i].match);
    assert_int_equal(msgsec_topic_match(NULL, "a"), 0);
    assert_int_equal(msgsec_topic_match("a", NULL), 0);
}

static void test_glob_match(void **state)
{
    static const struct {
        const char *pattern, *text;
        int match;
    } cases[] = {
        {"CN=shop*", "CN=shop1,O=Example", 1},
        {"CN=shop*", "CN=intruder,O=Example", 0},
        {"CN=shop?,O=Example", "CN=shop2,O=Example", 1},
        {"CN=shop?,O=Example", "CN=shop12,O=Example", 0},
        {"*", "", 1},
        {"*", "anything/at/all", 1},
        {"", "", 1},
        {"", "a", 0},
        {"?", "", 0},
        {"a*b*c", "aXXbYYc", 1},
        {"a*b*c", "aXXbYY", 0},
        {"*,O=Example", "CN=x,O=Example", 1},
        {"*,O=Example", "CN=x,O=Example,C=US", 0},
        {"a/*", "a/b/c", 1}, /* no path semantics */
        {"**a", "bba", 1},
        {"*a*", "xyz", 0},
        {"alice@EXAMPLE.COM", "alice@EXAMPLE.COM", 1},
        {"alice@EXAMPLE.COM", "alice@example.com", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (msgsec_glob_match(cases[i].pattern, cases[i].text) != cases[i].match)
            fail_msg("glob_match(\"%s\", \"%s\") != %d", cases[i].pattern, cases[i].text,
                     cases[i].match);
    assert_int_equal(msgsec_glob_match(NULL, "a"), 0);
    assert_int_equal(msgsec_glob_match("*", NULL), 0);
}

static void test_senders_allow(void **state)
{
    char *globs[] = {"CN=shop*", "CN=admin,O=Example"};
    assert_int_equal(msgsec_senders_allow(globs, 2, "CN=shop1,O=Example"), 1);
    assert_int_equal(msgsec_senders_allow(globs, 2, "CN=admin,O=Example"), 1);
    assert_int_equal(msgsec_senders_allow(globs, 2, "CN=intruder,O=Example"), 0);
    assert_int_equal(msgsec_senders_allow(globs, 2, NULL), 0);
    assert_int_equal(msgsec_senders_allow(NULL, 0, "CN=anyone"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_config),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_metrics_listen_ipv6),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_topic_match),
        cmocka_unit_test(test_glob_match),
        cmocka_unit_test(test_senders_allow),
        cmocka_unit_test(test_relative_to_config_dir), /* last: it changes the cwd */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
