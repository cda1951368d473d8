/* mqtt_conn.c - TCP/TLS transport of the MQTT receiving connection (see
 * mqtt_conn.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mqtt_conn.h"
#include "util.h"

#define IO_TIMEOUT_S 30 /* a blocked read or write gives up (then reconnect) */

msgsec_err mqtt_tls_context(const msgsec_config *cfg, SSL_CTX **out, msgsec_error *err)
{
    const msgsec_tls_config *t = &cfg->mqtt.tls;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    const char *what = NULL;
    if (!ctx)
        what = "cannot create a TLS context";
    else if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
        what = "cannot require TLS 1.2";
    else if (t->ca && SSL_CTX_load_verify_locations(ctx, t->ca, NULL) != 1)
        what = "cannot load mqtt.tls.ca";
    else if (t->cert && SSL_CTX_use_certificate_chain_file(ctx, t->cert) != 1)
        what = "cannot load mqtt.tls.cert";
    else if (t->cert && SSL_CTX_use_PrivateKey_file(ctx, t->key ? t->key : t->cert, SSL_FILETYPE_PEM) != 1)
        what = "cannot load mqtt.tls.key";
    else if (t->cert && SSL_CTX_check_private_key(ctx) != 1)
        what = "mqtt.tls.key does not match mqtt.tls.cert";
    if (what) {
        SSL_CTX_free(ctx);
        char detail[512];
        snprintf(detail, sizeof detail, "%s: %s", cfg->path, what);
        return bridge_err_ssl(err, MSGSEC_E_USAGE, detail);
    }
    if (t->ca)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    *out = ctx;
    return MSGSEC_OK;
}

static int tcp_connect(const char *host, int port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo(host, service, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        struct timeval tv = {IO_TIMEOUT_S, 0};
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* TLS on the connected socket: the server certificate must chain to
 * mqtt.tls.ca and name the host (as Paho's verify option does). */
static int tls_handshake(mqtt_conn *c, const char *host, SSL_CTX *tls)
{
    if (!(c->ssl = SSL_new(tls)) || SSL_set_fd(c->ssl, c->fd) != 1)
        return -1;
    unsigned char ip[16];
    int is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
    if (!is_ip)
        SSL_set_tlsext_host_name(c->ssl, host);
    if (SSL_CTX_get_verify_mode(tls) & SSL_VERIFY_PEER) {
        X509_VERIFY_PARAM *param = SSL_get0_param(c->ssl);
        if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1 : SSL_set1_host(c->ssl, host) != 1)
            return -1;
    }
    if (SSL_connect(c->ssl) != 1) {
        ERR_clear_error();
        return -1;
    }
    return 0;
}

int mqtt_conn_open(mqtt_conn *c, const char *host, int port, SSL_CTX *tls, const char **why)
{
    if ((c->fd = tcp_connect(host, port)) < 0) {
        *why = "cannot connect";
        return -1;
    }
    if (tls && tls_handshake(c, host, tls) != 0) {
        mqtt_conn_close(c);
        *why = "TLS handshake failed";
        return -1;
    }
    return 0;
}

int mqtt_conn_write(mqtt_conn *c, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t k;
        if (c->ssl) {
            int r = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
            k = r > 0 ? r : -1;
        } else {
            k = send(c->fd, p, n, MSG_NOSIGNAL);
            if (k < 0 && errno == EINTR)
                continue;
        }
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    clock_gettime(CLOCK_MONOTONIC, &c->last_sent);
    return 0;
}

ssize_t mqtt_conn_read(mqtt_conn *c, uint8_t *buf, size_t room)
{
    ssize_t k;
    if (c->ssl) {
        int r = SSL_read(c->ssl, buf, room > INT32_MAX ? INT32_MAX : (int)room);
        k = r > 0 ? r : -1;
    } else {
        do
            k = recv(c->fd, buf, room, 0);
        while (k < 0 && errno == EINTR);
    }
    return k > 0 ? k : -1;
}

int mqtt_conn_buffered(const mqtt_conn *c) { return c->ssl && SSL_pending(c->ssl) > 0; }

int mqtt_conn_readable(const mqtt_conn *c)
{
    if (mqtt_conn_buffered(c))
        return 1;
    struct pollfd p = {c->fd, POLLIN, 0};
    return poll(&p, 1, 0) > 0;
}

void mqtt_conn_close(mqtt_conn *c)
{
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}
