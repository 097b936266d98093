/*
 * How a cluster's own in-VPC endpoints serve clients (src/ctl/runtime.c st_rt_own_mode()), as
 * MSK's listeners do: TLS with the schemes ClientAuthentication enables; with only
 * unauthenticated access, plaintext unless encryption in transit is TLS only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

#include "ctl/internal.h"
#include "gateway/gateway.h"

static enum st_own_mode
mode_of(const char *json, unsigned *scheme)
{
    json_error_t e;
    json_t *rec = json_loads(json, 0, &e);
    assert_non_null(rec);
    enum st_own_mode m = st_rt_own_mode(rec, scheme);
    json_decref(rec);
    return m;
}

static void
test_own_mode(void **state)
{
    unsigned s = 99;
    assert_int_equal(mode_of("{\"clientAuthentication\": {\"unauthenticated\": {\"enabled\": "
                             "true}}}",
                             &s),
                     ST_OWN_PLAINTEXT);
    assert_int_equal(s, 0);
    assert_int_equal(mode_of("{\"clientAuthentication\": {\"unauthenticated\": {\"enabled\": "
                             "true}}, \"encryptionInfo\": {\"encryptionInTransit\": "
                             "{\"clientBroker\": \"TLS_PLAINTEXT\"}}}",
                             &s),
                     ST_OWN_PLAINTEXT);
    assert_int_equal(mode_of("{\"clientAuthentication\": {\"unauthenticated\": {\"enabled\": "
                             "true}}, \"encryptionInfo\": {\"encryptionInTransit\": "
                             "{\"clientBroker\": \"TLS\"}}}",
                             &s),
                     ST_OWN_TLS_UNAUTH);
    assert_int_equal(mode_of("{\"clientAuthentication\": {\"sasl\": {\"iam\": {\"enabled\": true}, "
                             "\"scram\": {\"enabled\": false}}, \"tls\": {\"enabled\": true}, "
                             "\"unauthenticated\": {\"enabled\": true}}}",
                             &s),
                     ST_OWN_TLS_AUTH);
    assert_int_equal(s, ST_GW_AUTH_SASL_IAM | ST_GW_AUTH_TLS);
    assert_int_equal(mode_of("{\"clientAuthentication\": {\"sasl\": {\"scram\": {\"enabled\": "
                             "true}}}}",
                             &s),
                     ST_OWN_TLS_AUTH);
    assert_int_equal(s, ST_GW_AUTH_SASL_SCRAM);
    assert_int_equal(mode_of("{}", &s), ST_OWN_CLOSED);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
