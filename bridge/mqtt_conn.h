/* mqtt_conn.h - the byte transport of the bridge's MQTT receiving
 * connection (mqtt_conn.c): TCP with optional TLS (OpenSSL), blocking with
 * timeouts. Knows nothing of MQTT; used by one thread. */
#ifndef MSGSEC_BRIDGE_MQTT_CONN_H
#define MSGSEC_BRIDGE_MQTT_CONN_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "msgsec.h"
#include "msgsec_config.h"

typedef struct mqtt_conn {
    int fd;                     /* -1 when closed */
    SSL *ssl;                   /* NULL without TLS */
    struct timespec last_sent;  /* of the last successful write (keepalive) */
} mqtt_conn;

#define MQTT_CONN_CLOSED {.fd = -1}

/* The TLS client context of mqtt.tls (trust anchors, client certificate).
 * *out: caller frees with SSL_CTX_free. */
msgsec_err mqtt_tls_context(const msgsec_config *cfg, SSL_CTX **out, msgsec_error *err);

/* Connects to host:port (borrowed) and, with tls (borrowed), makes the TLS
 * handshake: the server certificate must chain to mqtt.tls.ca and name the
 * host. 0, or -1 with *why (static text) and c closed. */
int mqtt_conn_open(mqtt_conn *c, const char *host, int port, SSL_CTX *tls, const char **why);
/* Writes all of p[0..n). 0, or -1 (the connection is broken). */
int mqtt_conn_write(mqtt_conn *c, const uint8_t *p, size_t n);
/* Reads what has arrived, up to room bytes (blocks until something does).
 * Bytes read (> 0), or -1 (closed or broken). */
ssize_t mqtt_conn_read(mqtt_conn *c, uint8_t *buf, size_t room);
/* 1 if TLS holds decrypted bytes not read yet (poll cannot see them). */
int mqtt_conn_buffered(const mqtt_conn *c);
/* 1 if a read would not block now. */
int mqtt_conn_readable(const mqtt_conn *c);
void mqtt_conn_close(mqtt_conn *c);

#endif
