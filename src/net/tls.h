/*
 * TLS for Kafka endpoints (OpenSSL 3): a per-installation certificate authority kept in the data
 * directory (created on first start, key 0600), server certificates it issues for endpoint
 * addresses (SANs), and server contexts (TLS 1.2+, no renegotiation) for non-blocking sockets.
 * Context: st_tls_ca_* and st_tls_server_new run on the loop at endpoint creation (key generation
 * and signing take well under a millisecond with P-256).
 */
#ifndef ST_NET_TLS_H
#define ST_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

struct st_tls_ca; /* CA certificate + key */

/*
 * Loads the CA from `dir`/ca.pem and `dir`/ca.key, creating both (directory 0700, key 0600) when
 * absent. Returns a new CA (free with st_tls_ca_free()) or NULL with *err.
 */
struct st_tls_ca *st_tls_ca_open(const char *dir, const char **err)
    __attribute__((warn_unused_result));
void st_tls_ca_free(struct st_tls_ca *ca);

/*
 * Loads an operator's issuing CA from `cert_path` + `key_path` (PEM); nothing is created.
 * Returns a new CA (st_tls_ca_free()) or NULL with *err when a file is missing, unreadable or the
 * key does not match.
 */
struct st_tls_ca *st_tls_ca_load(const char *cert_path, const char *key_path, const char **err)
    __attribute__((warn_unused_result));

/* Path of the CA certificate (PEM) clients trust; valid while `ca` lives. */
const char *st_tls_ca_cert_path(const struct st_tls_ca *ca);

/*
 * A server context for an endpoint: a fresh key and a certificate issued by `ca` whose SANs are
 * `names` (IP literals become IP SANs, anything else DNS SANs; the first is also the CN); TLS 1.2
 * minimum, renegotiation off, partial writes. With `client_ca` (a PEM file) client certificates
 * are requested and, when presented, must chain to it (mutual TLS); whether one is required is
 * the caller's decision after the handshake. Returns a new SSL_CTX (release with SSL_CTX_free();
 * connections keep their own reference) or NULL with *err.
 */
SSL_CTX *st_tls_server_new(const struct st_tls_ca *ca, const char *const *names, size_t n,
                           const char *client_ca, const char **err)
    __attribute__((warn_unused_result));

/*
 * A server context from an operator-supplied certificate chain and key (PEM files), with the same
 * settings and client CA handling as st_tls_server_new(). Returns a new SSL_CTX or NULL with *err.
 */
SSL_CTX *st_tls_server_from_files(const char *cert_chain, const char *key, const char *client_ca,
                                  const char **err) __attribute__((warn_unused_result));

/*
 * Issues a client certificate (clientAuth) for subject `CN=<cn>,O=<org>` with a fresh key, writing
 * the key to `key_path` (0600) and the certificate to `cert_path` (PEM). For mutual-TLS clients of
 * VPC connections. Returns 0, or -1 with *err.
 */
int st_tls_issue_client(const struct st_tls_ca *ca, const char *cn, const char *org,
                        const char *key_path, const char *cert_path, const char **err)
    __attribute__((warn_unused_result));

/*
 * A client context for strait's own connections to the brokers: TLS 1.2 minimum, the broker's
 * certificate verified against `ca_file` (a PEM bundle; NULL = the system trust store), and, with
 * `cert` and `key` (PEM files, both or neither), a client certificate for mutual TLS to the
 * broker. Returns a new SSL_CTX (release with SSL_CTX_free()) or NULL with *err.
 */
SSL_CTX *st_tls_client_new(const char *ca_file, const char *cert, const char *key, const char **err)
    __attribute__((warn_unused_result));

/*
 * A client session on connected socket `fd` for broker `host` (a name or an IP literal): SNI for
 * names, and with `verify_host` the certificate must name `host` (DNS SAN, or IP SAN for a
 * literal). Returns a new SSL in connect state (SSL_free()) or NULL with *err.
 */
SSL *st_tls_client_session(SSL_CTX *ctx, int fd, const char *host, bool verify_host,
                           const char **err) __attribute__((warn_unused_result));

/*
 * Why a client handshake failed, for a log line a person can act on (certificate verification
 * result when that was the cause, else OpenSSL's reason). Writes into `out`.
 */
void st_tls_client_error(SSL *ssl, char *out, size_t len);

/* Why a server handshake failed when the client closed without an alert (OpenSSL gives none). */
#define ST_TLS_CLIENT_CLOSED                                                                       \
    "TLS handshake failed: the client closed the connection (does it trust strait's CA?)"

/*
 * Whether a client on a TLS port speaks TLS: peeks its first byte without consuming it (a TLS
 * client starts with a handshake record, 0x16; a Kafka frame with the high byte of its size,
 * 0x00). Returns 1 when it does (or when the socket ended or failed: the handshake reports that),
 * 0 when it does not (*first = the byte), -2 when nothing has arrived yet.
 */
int st_tls_peek_client_hello(int fd, uint8_t *first);

/*
 * Maps the result `r` of SSL_read (`reading`) or SSL_write on a non-blocking socket: bytes; 0
 * when the peer ended the stream (reads only: a write to a peer that is gone is an error, never
 * "0 bytes written"); -2 when it would block (*want_write set when a read needs the socket
 * writable, e.g. during a renegotiation); -1 on error, with OpenSSL's reason in `why` ("" when it
 * gave none, e.g. a reset). Clears the thread's OpenSSL error queue.
 */
ssize_t st_tls_io_result(SSL *ssl, int r, bool reading, bool *want_write, char *why,
                         size_t why_len);

#endif
