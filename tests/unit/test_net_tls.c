/*
 * The installation CA and endpoint/client certificates (src/net/tls.c): the CA is created once
 * (key 0600) and reloaded unchanged, endpoint certificates carry the endpoint names as SANs and
 * chain to the CA, client certificates chain to it too, and a handshake between an endpoint
 * context and a client that trusts the CA (over a BIO pair) succeeds with the client certificate
 * verified, while a client certificate from another CA is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "net/tls.h"

static char dir[64];

static int
setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/st_tls_XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int
teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static X509 *
load_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(x);
    return x;
}

static bool
chains_to(X509 *leaf, const char *ca_path)
{
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    assert_int_equal(X509_STORE_load_file(st, ca_path), 1);
    assert_int_equal(X509_STORE_CTX_init(ctx, st, leaf, NULL), 1);
    bool ok = X509_verify_cert(ctx) == 1;
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    return ok;
}

static void
test_ca_and_server_cert(void **state)
{
    const char *err = NULL;
    char tls_dir[128], key[160];
    snprintf(tls_dir, sizeof(tls_dir), "%s/tls", dir);
    struct st_tls_ca *ca = st_tls_ca_open(tls_dir, &err);
    assert_non_null(ca);
    snprintf(key, sizeof(key), "%s/ca.key", tls_dir);
    struct stat sb;
    assert_int_equal(stat(key, &sb), 0);
    assert_int_equal(sb.st_mode & 0077, 0);
    X509 *first = load_cert(st_tls_ca_cert_path(ca));
    st_tls_ca_free(ca);
    /* Reopened: the same CA, not a new one. */
    ca = st_tls_ca_open(tls_dir, &err);
    assert_non_null(ca);
    X509 *again = load_cert(st_tls_ca_cert_path(ca));
    assert_int_equal(X509_cmp(first, again), 0);

    const char *names[] = {"127.0.0.9", "b-1.demo.kafka.us-east-1.example"};
    SSL_CTX *ctx = st_tls_server_new(ca, names, 2, NULL, &err);
    assert_non_null(ctx);
    X509 *leaf = SSL_CTX_get0_certificate(ctx);
    assert_non_null(leaf);
    assert_int_equal(X509_check_ip_asc(leaf, "127.0.0.9", 0), 1);
    assert_int_equal(X509_check_ip_asc(leaf, "127.0.0.10", 0), 0);
    assert_int_equal(X509_check_host(leaf, names[1], 0, 0, NULL), 1);
    assert_true(chains_to(leaf, st_tls_ca_cert_path(ca)));
    assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
    assert_true(SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_free(ctx);
    assert_null(st_tls_server_new(ca, names, 0, NULL, &err));
    X509_free(first);
    X509_free(again);
    st_tls_ca_free(ca);
}

/* Runs a handshake between `sctx` and a client trusting `ca_path` (and presenting cert/key when
 * given) over a BIO pair. Returns the server's verify result, or -1 when the handshake failed. */
static long
handshake(SSL_CTX *sctx, const char *ca_path, const char *cert, const char *key)
{
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    assert_int_equal(SSL_CTX_load_verify_locations(cctx, ca_path, NULL), 1);
    SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
    if (cert) {
        assert_int_equal(SSL_CTX_use_certificate_file(cctx, cert, SSL_FILETYPE_PEM), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey_file(cctx, key, SSL_FILETYPE_PEM), 1);
    }
    SSL *c = SSL_new(cctx), *s = SSL_new(sctx);
    BIO *cb, *sb;
    assert_int_equal(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
    SSL_set_bio(c, cb, cb);
    SSL_set_bio(s, sb, sb);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    SSL_set1_host(c, "127.0.0.9");
    int cr = 0, sr = 0;
    for (int i = 0; i < 20 && (cr != 1 || sr != 1); i++) {
        if (cr != 1)
            cr = SSL_do_handshake(c);
        if (sr != 1)
            sr = SSL_do_handshake(s);
        if ((cr <= 0 && SSL_get_error(c, cr) != SSL_ERROR_WANT_READ) ||
            (sr <= 0 && SSL_get_error(s, sr) != SSL_ERROR_WANT_READ))
            break;
    }
    long v = cr == 1 && sr == 1 ? SSL_get_verify_result(s) : -1;
    if (v == X509_V_OK && cert)
        assert_non_null(SSL_get0_peer_certificate(s));
    SSL_free(c);
    SSL_free(s);
    SSL_CTX_free(cctx);
    return v;
}

/* An operator's issuing CA (--endpoint-ca-cert/--endpoint-ca-key): loaded, never created; a
 * missing file or a key of another CA is refused with a reason. */
static void
test_operator_ca(void **state)
{
    const char *err = NULL;
    char a_dir[128], b_dir[128], a_pem[160], a_key[160], b_key[160], none[160];
    snprintf(a_dir, sizeof(a_dir), "%s/op-a", dir);
    snprintf(b_dir, sizeof(b_dir), "%s/op-b", dir);
    struct st_tls_ca *a = st_tls_ca_open(a_dir, &err);
    struct st_tls_ca *b = st_tls_ca_open(b_dir, &err);
    assert_non_null(a);
    assert_non_null(b);
    snprintf(a_pem, sizeof(a_pem), "%s/ca.pem", a_dir);
    snprintf(a_key, sizeof(a_key), "%s/ca.key", a_dir);
    snprintf(b_key, sizeof(b_key), "%s/ca.key", b_dir);
    snprintf(none, sizeof(none), "%s/op-none/ca.pem", dir);
    struct st_tls_ca *op = st_tls_ca_load(a_pem, a_key, &err);
    assert_non_null(op);
    assert_string_equal(st_tls_ca_cert_path(op), a_pem);
    const char *names[] = {"127.0.0.9"};
    SSL_CTX *ctx = st_tls_server_new(op, names, 1, NULL, &err);
    assert_non_null(ctx);
    SSL_CTX_free(ctx);
    st_tls_ca_free(op);
    assert_null(st_tls_ca_load(a_pem, b_key, &err));
    assert_non_null(strstr(err, "does not match"));
    assert_null(st_tls_ca_load(none, a_key, &err));
    assert_non_null(strstr(err, "--endpoint-ca-cert"));
    assert_int_equal(access(none, F_OK), -1); /* nothing created */
    st_tls_ca_free(a);
    st_tls_ca_free(b);
}

static void
test_mutual_tls(void **state)
{
    const char *err = NULL;
    char tls_dir[128], other_dir[128], ckey[160], ccert[160], okey[160], ocert[160];
    snprintf(tls_dir, sizeof(tls_dir), "%s/tls", dir);
    snprintf(other_dir, sizeof(other_dir), "%s/other", dir);
    struct st_tls_ca *ca = st_tls_ca_open(tls_dir, &err);
    struct st_tls_ca *other = st_tls_ca_open(other_dir, &err);
    assert_non_null(ca);
    assert_non_null(other);
    snprintf(ckey, sizeof(ckey), "%s/client.key", dir);
    snprintf(ccert, sizeof(ccert), "%s/client.pem", dir);
    snprintf(okey, sizeof(okey), "%s/rogue.key", dir);
    snprintf(ocert, sizeof(ocert), "%s/rogue.pem", dir);
    assert_int_equal(st_tls_issue_client(ca, "app", "payments", ckey, ccert, &err), 0);
    assert_int_equal(st_tls_issue_client(other, "app", "payments", okey, ocert, &err), 0);
    X509 *cl = load_cert(ccert);
    assert_true(chains_to(cl, st_tls_ca_cert_path(ca)));
    assert_false(chains_to(cl, st_tls_ca_cert_path(other)));
    X509_free(cl);

    const char *names[] = {"127.0.0.9"};
    SSL_CTX *plain = st_tls_server_new(ca, names, 1, NULL, &err);
    SSL_CTX *mtls = st_tls_server_new(ca, names, 1, st_tls_ca_cert_path(ca), &err);
    assert_non_null(plain);
    assert_non_null(mtls);
    /* Server authentication only; then with a verified client certificate. */
    assert_int_equal(handshake(plain, st_tls_ca_cert_path(ca), NULL, NULL), X509_V_OK);
    assert_int_equal(handshake(mtls, st_tls_ca_cert_path(ca), ccert, ckey), X509_V_OK);
    /* No client certificate: the handshake completes, the caller decides (SASL may follow). */
    assert_int_equal(handshake(mtls, st_tls_ca_cert_path(ca), NULL, NULL), X509_V_OK);
    /* A certificate from another CA is refused during the handshake. */
    assert_int_equal(handshake(mtls, st_tls_ca_cert_path(ca), ocert, okey), -1);
    /* A client that does not trust the installation CA refuses the endpoint. */
    assert_int_equal(handshake(plain, st_tls_ca_cert_path(other), NULL, NULL), -1);
    SSL_CTX_free(plain);
    SSL_CTX_free(mtls);
    st_tls_ca_free(ca);
    st_tls_ca_free(other);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ca_and_server_cert),
        cmocka_unit_test(test_operator_ca),
        cmocka_unit_test(test_mutual_tls),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
