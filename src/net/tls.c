/*
 * Per-installation CA, endpoint certificates and server contexts (see tls.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "net/tls.h"

struct st_tls_ca {
    X509 *cert;           /* CA certificate */
    EVP_PKEY *key;        /* CA private key */
    char cert_path[4200]; /* DIR/ca.pem */
};

void
st_tls_ca_free(struct st_tls_ca *ca)
{
    if (!ca)
        return;
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
    free(ca);
}

const char *
st_tls_ca_cert_path(const struct st_tls_ca *ca)
{
    return ca->cert_path;
}

static int
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ex)
        return -1;
    int rc = X509_add_ext(cert, ex, -1) ? 0 : -1;
    X509_EXTENSION_free(ex);
    return rc;
}

/* A certificate for `key` named `cn`, valid from now for `days`, signed by issuer/ikey (NULL:
 * self-signed). */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, int days, X509 *issuer, EVP_PKEY *ikey)
{
    X509 *x = X509_new();
    uint8_t serial[16];
    if (!x || RAND_bytes(serial, sizeof(serial)) != 1)
        goto fail;
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))) {
        BN_free(bn);
        goto fail;
    }
    BN_free(bn);
    X509_NAME *name = X509_NAME_new();
    if (!name || !X509_set_version(x, 2) ||
        !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"strait", -1,
                                    -1, 0) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                    0) ||
        !X509_set_subject_name(x, name) ||
        !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) || !X509_set_pubkey(x, key)) {
        X509_NAME_free(name);
        goto fail;
    }
    X509_NAME_free(name);
    return x;
fail:
    X509_free(x);
    return NULL;
}

static int
write_file(const char *path, mode_t mode, int (*fn)(FILE *, void *), void *arg)
{
    char tmp[4300];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return -1;
    }
    int ok = fn(f, arg);
    if (fclose(f) != 0)
        ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int
w_key(FILE *f, void *k)
{
    return PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
}

static int
w_cert(FILE *f, void *x)
{
    return PEM_write_X509(f, x);
}

/* Reads a PEM key or certificate into *out (NULL when unreadable); true when the file exists. */
static bool
read_pem(const char *path, bool key, void **out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno != ENOENT;
    *out = key ? (void *)PEM_read_PrivateKey(f, NULL, NULL, NULL)
               : (void *)PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    return true;
}

struct st_tls_ca *
st_tls_ca_open(const char *dir, const char **err)
{
    struct st_tls_ca *ca = calloc(1, sizeof(*ca));
    if (!ca) {
        *err = "out of memory";
        return NULL;
    }
    char key_path[4200];
    snprintf(ca->cert_path, sizeof(ca->cert_path), "%s/ca.pem", dir);
    snprintf(key_path, sizeof(key_path), "%s/ca.key", dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        *err = "cannot create the TLS directory";
        free(ca);
        return NULL;
    }
    bool had_key = read_pem(key_path, true, (void **)&ca->key);
    bool had_cert = read_pem(ca->cert_path, false, (void **)&ca->cert);
    if (ca->key && ca->cert) {
        if (X509_check_private_key(ca->cert, ca->key) == 1)
            return ca;
        *err = "the CA certificate does not match its key";
        st_tls_ca_free(ca);
        return NULL;
    }
    if (had_key || had_cert) {
        *err = "the CA certificate or key in the TLS directory cannot be read";
        st_tls_ca_free(ca);
        return NULL;
    }
    /* First start: a new CA (P-256, 10 years). */
    EVP_PKEY_free(ca->key);
    X509_free(ca->cert);
    ca->key = EVP_EC_gen("P-256");
    ca->cert = ca->key ? make_cert(ca->key, "strait installation CA", 3650, NULL, NULL) : NULL;
    if (!ca->cert || add_ext(ca->cert, ca->cert, NID_basic_constraints, "critical,CA:TRUE") ||
        add_ext(ca->cert, ca->cert, NID_key_usage, "critical,keyCertSign,cRLSign") ||
        add_ext(ca->cert, ca->cert, NID_subject_key_identifier, "hash") ||
        !X509_sign(ca->cert, ca->key, EVP_sha256())) {
        *err = "cannot create the installation CA";
        st_tls_ca_free(ca);
        return NULL;
    }
    if (write_file(key_path, 0600, w_key, ca->key) != 0 ||
        write_file(ca->cert_path, 0644, w_cert, ca->cert) != 0) {
        *err = "cannot write the installation CA";
        st_tls_ca_free(ca);
        return NULL;
    }
    return ca;
}

struct st_tls_ca *
st_tls_ca_load(const char *cert_path, const char *key_path, const char **err)
{
    struct st_tls_ca *ca = calloc(1, sizeof(*ca));
    if (!ca) {
        *err = "out of memory";
        return NULL;
    }
    snprintf(ca->cert_path, sizeof(ca->cert_path), "%s", cert_path);
    (void)read_pem(key_path, true, (void **)&ca->key);
    (void)read_pem(cert_path, false, (void **)&ca->cert);
    if (!ca->cert)
        *err = "the issuing CA certificate (--endpoint-ca-cert) cannot be read";
    else if (!ca->key)
        *err = "the issuing CA key (--endpoint-ca-key) cannot be read";
    else if (X509_check_private_key(ca->cert, ca->key) != 1)
        *err = "the issuing CA certificate does not match its key";
    else
        return ca;
    st_tls_ca_free(ca);
    return NULL;
}

/* What every endpoint context has: TLS 1.2+, no renegotiation, partial writes, the client CA. */
static int
ctx_setup(SSL_CTX *ctx, const char *client_ca, const char **err)
{
    *err = NULL;
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        SSL_CTX_check_private_key(ctx) != 1) {
        *err = "the certificate does not match its key";
        return -1;
    }
    if (client_ca) {
        /* Mutual TLS: ask for a certificate; one that is presented must chain to client_ca. */
        STACK_OF(X509_NAME) *names_ca = SSL_load_client_CA_file(client_ca);
        static const unsigned char sid[] = "strait-endpoint";
        if (!names_ca || SSL_CTX_load_verify_locations(ctx, client_ca, NULL) != 1 ||
            SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1) != 1) {
            sk_X509_NAME_pop_free(names_ca, X509_NAME_free);
            *err = "cannot load the client CA";
            return -1;
        }
        SSL_CTX_set_client_CA_list(ctx, names_ca);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    /* Read-ahead: one read(2) fetches as many records as the socket holds (the readers drain
     * with SSL_has_pending(), which counts the raw bytes read ahead too). */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    /* New connections per second (bench/tls): resumption stays possible through one stateless
     * TLS 1.3 ticket (OpenSSL sends two by default), and no server-side session store whose
     * periodic expiry sweep walks every cached session. */
    SSL_CTX_set_num_tickets(ctx, 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    return 0;
}

SSL_CTX *
st_tls_server_from_files(const char *cert_chain, const char *key, const char *client_ca,
                         const char **err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert_chain) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        *err = "cannot load the operator's server certificate or key";
        SSL_CTX_free(ctx);
        ERR_clear_error();
        return NULL;
    }
    if (ctx_setup(ctx, client_ca, err) != 0) {
        SSL_CTX_free(ctx);
        ctx = NULL;
    }
    ERR_clear_error();
    return ctx;
}

int
st_tls_issue_client(const struct st_tls_ca *ca, const char *cn, const char *org,
                    const char *key_path, const char *cert_path, const char **err)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = key ? make_cert(key, cn, 825, ca->cert, ca->key) : NULL;
    int rc = -1;
    if (x && org && *org) {
        /* Subject O=strait, CN=<cn> by make_cert; a caller's organization replaces strait. */
        X509_NAME *name = X509_NAME_new();
        if (!name ||
            !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)org, -1,
                                        -1, 0) ||
            !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
                                        -1, 0) ||
            !X509_set_subject_name(x, name)) {
            X509_free(x);
            x = NULL;
        }
        X509_NAME_free(name);
    }
    if (!x || add_ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE") ||
        add_ext(x, ca->cert, NID_key_usage, "critical,digitalSignature") ||
        add_ext(x, ca->cert, NID_ext_key_usage, "clientAuth") ||
        add_ext(x, ca->cert, NID_authority_key_identifier, "keyid:always") ||
        !X509_sign(x, ca->key, EVP_sha256())) {
        *err = "cannot issue the client certificate";
        goto done;
    }
    if (write_file(key_path, 0600, w_key, key) != 0 ||
        write_file(cert_path, 0644, w_cert, x) != 0) {
        *err = "cannot write the client key or certificate";
        goto done;
    }
    rc = 0;
done:
    X509_free(x);
    EVP_PKEY_free(key);
    ERR_clear_error();
    return rc;
}

SSL_CTX *
st_tls_server_new(const struct st_tls_ca *ca, const char *const *names, size_t n,
                  const char *client_ca, const char **err)
{
    if (n == 0) {
        *err = "a certificate needs at least one name";
        return NULL;
    }
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = key ? make_cert(key, names[0], 825, ca->cert, ca->key) : NULL;
    char san[4096] = "";
    size_t used = 0;
    for (size_t i = 0; i < n && used < sizeof(san); i++) {
        uint8_t a[16];
        bool ip = inet_pton(AF_INET, names[i], a) == 1 || inet_pton(AF_INET6, names[i], a) == 1;
        used += (size_t)snprintf(san + used, sizeof(san) - used, "%s%s:%s", i ? "," : "",
                                 ip ? "IP" : "DNS", names[i]);
    }
    SSL_CTX *ctx = NULL;
    if (!x || add_ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE") ||
        add_ext(x, ca->cert, NID_key_usage, "critical,digitalSignature,keyEncipherment") ||
        add_ext(x, ca->cert, NID_ext_key_usage, "serverAuth") ||
        add_ext(x, ca->cert, NID_subject_alt_name, san) ||
        add_ext(x, ca->cert, NID_authority_key_identifier, "keyid:always") ||
        !X509_sign(x, ca->key, EVP_sha256())) {
        *err = "cannot issue the endpoint certificate";
        goto done;
    }
    ctx = SSL_CTX_new(TLS_server_method());
    const char *serr = NULL;
    if (!ctx || SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
        ctx_setup(ctx, client_ca, &serr) != 0) {
        *err = serr ? serr : "cannot set up the endpoint TLS context";
        SSL_CTX_free(ctx);
        ctx = NULL;
    }
done:
    X509_free(x);
    EVP_PKEY_free(key);
    ERR_clear_error();
    return ctx;
}

SSL_CTX *
st_tls_client_new(const char *ca_file, const char *cert, const char *key, const char **err)
{
    if ((cert && *cert) != (key && *key)) {
        *err = "a client certificate for the brokers needs both the certificate and the key";
        return NULL;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
        *err = "cannot create the upstream TLS context";
        goto fail;
    }
    if (ca_file && *ca_file) {
        if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
            *err = "cannot load the upstream CA file";
            goto fail;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        *err = "cannot load the system trust store";
        goto fail;
    }
    if (cert && *cert &&
        (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
         SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
         SSL_CTX_check_private_key(ctx) != 1)) {
        *err = "cannot load the upstream client certificate or key (or they do not match)";
        goto fail;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    ERR_clear_error();
    return ctx;
fail:
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return NULL;
}

SSL *
st_tls_client_session(SSL_CTX *ctx, int fd, const char *host, bool verify_host, const char **err)
{
    SSL *ssl = SSL_new(ctx);
    uint8_t a[16];
    bool ip = inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
    if (!ssl || SSL_set_fd(ssl, fd) != 1 || (!ip && SSL_set_tlsext_host_name(ssl, host) != 1)) {
        *err = "cannot create the upstream TLS session";
        goto fail;
    }
    if (verify_host) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
        X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if ((ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, host)
                : X509_VERIFY_PARAM_set1_host(vp, host, 0)) != 1) {
            *err = "cannot set the broker host name to verify";
            goto fail;
        }
    }
    SSL_set_connect_state(ssl);
    ERR_clear_error();
    return ssl;
fail:
    SSL_free(ssl);
    ERR_clear_error();
    return NULL;
}

void
st_tls_client_error(SSL *ssl, char *out, size_t len)
{
    long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    unsigned long code = ERR_peek_last_error();
    if (vr != X509_V_OK)
        snprintf(out, len, "TLS handshake with the broker failed: certificate verification: %s",
                 X509_verify_cert_error_string(vr));
    else if (code)
        snprintf(out, len, "TLS handshake with the broker failed: %s",
                 ERR_reason_error_string(code) ? ERR_reason_error_string(code) : "error");
    else
        snprintf(out, len,
                 "TLS handshake with the broker failed: the broker closed the connection");
    ERR_clear_error();
}

ssize_t
st_tls_io_result(SSL *ssl, int r, bool reading, bool *want_write, char *why, size_t why_len)
{
    if (why_len)
        why[0] = '\0';
    if (r > 0)
        return r;
    int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        return -2;
    if (e == SSL_ERROR_WANT_WRITE) {
        if (reading && want_write)
            *want_write = true;
        return -2;
    }
    unsigned long code = ERR_peek_last_error();
    if (code && why_len)
        snprintf(why, why_len, "%s",
                 ERR_reason_error_string(code) ? ERR_reason_error_string(code) : "error");
    ERR_clear_error();
    bool eof = e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && !code);
    return reading && eof ? 0 : -1;
}

int
st_tls_peek_client_hello(int fd, uint8_t *first)
{
    uint8_t b = 0;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return -2;
    if (n == 1 && b != 0x16) {
        *first = b;
        return 0;
    }
    return 1;
}
