/*
 * Unit tests for src/auth/encoding and src/auth/crypto: RFC 4648 §10 base64 vectors, strictness
 * of both base64 decoders (padding, trailing bits, alphabet), hex, SigV4 percent-encoding and
 * strict percent-decoding, and the HMAC/PBKDF2 wrappers against RFC 4231 / RFC 6070 vectors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth/crypto.h"
#include "auth/encoding.h"

static void
test_b64_rfc4648(void **state)
{
    (void)state;
    static const char *const v[][2] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char enc[32];
        uint8_t dec[32];
        const char *err = NULL;
        long n = st_b64_encode((const uint8_t *)v[i][0], strlen(v[i][0]), enc, sizeof(enc));
        assert_int_equal(n, (long)strlen(v[i][1]));
        assert_string_equal(enc, v[i][1]);
        n = st_b64_decode(v[i][1], strlen(v[i][1]), dec, sizeof(dec), &err);
        assert_int_equal(n, (long)strlen(v[i][0]));
        assert_memory_equal(dec, v[i][0], (size_t)n);
        /* base64url: same without padding. */
        n = st_b64url_encode((const uint8_t *)v[i][0], strlen(v[i][0]), enc, sizeof(enc));
        assert_int_equal(n, (long)strcspn(v[i][1], "="));
        n = st_b64url_decode(enc, strlen(enc), dec, sizeof(dec), &err);
        assert_int_equal(n, (long)strlen(v[i][0]));
        /* Padded base64url also accepted. */
        n = st_b64url_decode(v[i][1], strlen(v[i][1]), dec, sizeof(dec), &err);
        assert_int_equal(n, (long)strlen(v[i][0]));
    }
    char small[4];
    assert_int_equal(st_b64_encode((const uint8_t *)"foo", 3, small, sizeof(small)), -1);
}

static void
test_b64_strict(void **state)
{
    (void)state;
    uint8_t d[16];
    const char *err = NULL;
    static const char *const bad_std[] = {
        "Zg=",      /* length */
        "Zh==",     /* trailing bits */
        "Zm9=",     /* trailing bits */
        "Z===",     /* too much padding */
        "=Zg=",     /* padding inside */
        "Zg==Zg==", /* padding in the middle */
        "Zm-v",     /* url alphabet */
        "Zm v",     /* space */
    };
    for (size_t i = 0; i < sizeof(bad_std) / sizeof(bad_std[0]); i++)
        assert_int_equal(st_b64_decode(bad_std[i], strlen(bad_std[i]), d, sizeof(d), &err), -1);
    static const char *const bad_url[] = {"Z", "Zh", "Zm+v", "Zm/v", "Zg=", "Zm9v="};
    for (size_t i = 0; i < sizeof(bad_url) / sizeof(bad_url[0]); i++)
        assert_int_equal(st_b64url_decode(bad_url[i], strlen(bad_url[i]), d, sizeof(d), &err), -1);
    assert_int_equal(st_b64url_decode("-_-_", 4, d, sizeof(d), &err), 3);
    assert_int_equal(d[0], 0xfb);
    /* Output capacity is enforced. */
    assert_int_equal(st_b64_decode("Zm9vYmFy", 8, d, 5, &err), -1);
}

static void
test_hex(void **state)
{
    (void)state;
    uint8_t b[3] = {0x00, 0xab, 0xff};
    char h[7];
    st_hex_encode(b, 3, h);
    assert_string_equal(h, "00abff");
    uint8_t o[3];
    assert_int_equal(st_hex_decode("00ABff", 6, o, 3), 0);
    assert_memory_equal(o, b, 3);
    assert_int_equal(st_hex_decode("00abf", 5, o, 3), -1);
    assert_int_equal(st_hex_decode("00abfg", 6, o, 3), -1);
}

static void
test_uri(void **state)
{
    (void)state;
    struct st_buf b = ST_BUF_INIT;
    const char *err = NULL;
    /* Empty input on a never-grown buffer (found by fuzzing: NULL + 0). */
    assert_int_equal(st_uri_encode(&b, "", 0, false), 0);
    assert_int_equal(st_uri_decode(&b, "", 0, true, &err), 0);
    assert_int_equal(b.len, 0);
    const char *in = "kafka-cluster:Connect a/b+c=d~e_f.g\xc3\xa9";
    assert_int_equal(st_uri_encode(&b, in, strlen(in), false), 0);
    const char *want = "kafka-cluster%3AConnect%20a%2Fb%2Bc%3Dd~e_f.g%C3%A9";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    st_buf_reset(&b);
    assert_int_equal(st_uri_encode(&b, "/a b/", 5, true), 0);
    assert_memory_equal(b.data, "/a%20b/", 7);
    st_buf_reset(&b);
    assert_int_equal(st_uri_decode(&b, "a%2Fb+c%7e", 10, true, &err), 0);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "a/b c~", 6);
    st_buf_reset(&b);
    assert_int_equal(st_uri_decode(&b, "a+b", 3, false, &err), 0);
    assert_memory_equal(b.data, "a+b", 3);
    assert_int_equal(st_uri_decode(&b, "%", 1, true, &err), -1);
    assert_int_equal(st_uri_decode(&b, "%4", 2, true, &err), -1);
    assert_int_equal(st_uri_decode(&b, "%4g", 3, true, &err), -1);
    st_buf_free(&b);
}

static void
test_crypto(void **state)
{
    (void)state;
    /* RFC 4231 test case 2. */
    uint8_t mac[64];
    char hex[129];
    assert_int_equal(st_hmac(ST_MD_SHA256, "Jefe", 4, "what do ya want for nothing?", 28, mac), 0);
    st_hex_encode(mac, 32, hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    assert_int_equal(st_hmac(ST_MD_SHA512, "Jefe", 4, "what do ya want for nothing?", 28, mac), 0);
    st_hex_encode(mac, 64, hex);
    assert_string_equal(hex, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
                             "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
    /* RFC 6070 PBKDF2-HMAC-SHA1, c = 4096. */
    uint8_t dk[20];
    assert_int_equal(st_pbkdf2(ST_MD_SHA1, "password", 8, (const uint8_t *)"salt", 4, 4096, dk), 0);
    st_hex_encode(dk, 20, hex);
    assert_string_equal(hex, "4b007901b765489abead49d926f721d065a429c1");
    assert_int_equal(st_pbkdf2(ST_MD_SHA1, "password", 8, (const uint8_t *)"salt", 4, 0, dk), -1);
    assert_int_equal(st_md_size(ST_MD_SHA512), 64);
    uint8_t r1[16], r2[16];
    assert_int_equal(st_random(r1, 16), 0);
    assert_int_equal(st_random(r2, 16), 0);
    assert_memory_not_equal(r1, r2, 16);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64_rfc4648), cmocka_unit_test(test_b64_strict),
        cmocka_unit_test(test_hex),         cmocka_unit_test(test_uri),
        cmocka_unit_test(test_crypto),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
